"""What every job type shares: the run a processor sees, its failures, and payload checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000


class InvalidPayload(ValueError):
    """A payload that does not fit its job type: the API answers 400 with this message."""


class JobFailed(Exception):
    """One attempt of a job failed; ``retryable`` False means another attempt cannot help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class JobRun:
    """One attempt at a job, as a processor sees it."""

    id: str
    run: int
    attempt: int
    payload: dict[str, Any]
    env: Any
    now_ms: int


@dataclass(frozen=True)
class JobType:
    """How to check a type's payload (raises InvalidPayload) and how to do its work (returns the result)."""

    validate: Callable[[dict[str, Any]], None]
    process: Callable[[JobRun], Awaitable[dict[str, Any]]]


def text(
    payload: Mapping[str, Any], key: str, *, required: bool = True, max_chars: int | None = None
) -> str | None:
    """``payload[key]`` as a non-empty string (None when absent and not ``required``)."""
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        found = "nothing" if value is None else json.dumps(value)[:80]
        raise InvalidPayload(f"payload.{key} must be a non-empty string, found {found}")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidPayload(f"payload.{key} may have at most {max_chars} characters, found {len(value)}")
    return value


def whole(payload: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    """``payload[key]`` as a whole number from ``low`` to ``high`` (``default`` when absent)."""
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidPayload(
            f"payload.{key} must be a whole number from {low} to {high}, found {json.dumps(value)}"
        )
    return value


def binding(job: JobRun, name: str, what: str) -> Any:
    """``env.<name>``, or a failure saying which binding to configure (retrying cannot help)."""
    found = getattr(job.env, name, None)
    if found is None:
        raise JobFailed(
            f"{what} needs the {name} binding: add it to wrangler.toml "
            f'(for Workers AI: [ai] binding = "{name}")',
            retryable=False,
        )
    return found


def binding_failed(what: str, error: Exception) -> JobFailed:
    """A failed call to a binding. A binding that has no local stand-in (workerlab's
    NotEmulatedError) will not start working on the next attempt; anything else may."""
    permanent = type(error).__name__ == "NotEmulatedError"
    return JobFailed(f"{what}: {error}", retryable=not permanent)
