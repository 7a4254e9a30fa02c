"""A step's config: its retries (limit, delay, backoff) and the timeout of each attempt.

``@step.do("name", config={"retries": {"limit": 3, "delay": "5 seconds", "backoff": "linear"},
"timeout": "2 minutes"})``; whatever is left out takes Cloudflare's default. As Cloudflare's
validator does, ``retries`` must give both ``limit`` and ``delay`` when it is given at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from .durations import duration_ms
from .errors import WorkflowError

Backoff = Literal["constant", "linear", "exponential"]
BACKOFFS: tuple[str, ...] = get_args(Backoff)

#: Retries after the first attempt (Cloudflare Workflows docs, "Sleeping and retrying": limit 5).
DEFAULT_RETRY_LIMIT = 5
#: Delay before the first retry (Cloudflare Workflows docs: "10 seconds").
DEFAULT_RETRY_DELAY_MS = 10_000
#: How the delay grows from retry to retry (Cloudflare Workflows docs: exponential).
DEFAULT_BACKOFF: Backoff = "exponential"
#: Longest an attempt may run before it fails (Cloudflare Workflows docs: "10 minutes").
DEFAULT_STEP_TIMEOUT_MS = 600_000

#: The one value of a step config's ``sensitive`` key (Cloudflare: keep the output out of logs).
SENSITIVE_OUTPUT = "output"

_CONFIG_KEYS = ("retries", "timeout", "sensitive")
_RETRY_KEYS = ("limit", "delay", "backoff")


@dataclass(frozen=True, slots=True)
class StepConfig:
    """A resolved step config: every field set, durations in milliseconds."""

    retry_limit: int = DEFAULT_RETRY_LIMIT
    retry_delay_ms: int = DEFAULT_RETRY_DELAY_MS
    backoff: Backoff = DEFAULT_BACKOFF
    timeout_ms: int = DEFAULT_STEP_TIMEOUT_MS

    def retry_delay_after(self, attempt: int) -> int:
        """Milliseconds to wait before the attempt after failed attempt number ``attempt`` (1-based)."""
        if self.backoff == "exponential":
            return int(self.retry_delay_ms * 2 ** (attempt - 1))
        if self.backoff == "linear":
            return self.retry_delay_ms * attempt
        return self.retry_delay_ms

    def may_retry_after(self, attempt: int) -> bool:
        """Whether failed attempt number ``attempt`` leaves a retry (``limit`` counts retries only)."""
        return attempt <= self.retry_limit


#: The config of a step that sets none.
DEFAULT_STEP_CONFIG = StepConfig()


def step_config(config: Any, step: str) -> StepConfig:
    """The :class:`StepConfig` for ``config`` as user code passes it (a dict, or None for the defaults)."""
    if config is None:
        return DEFAULT_STEP_CONFIG
    where = f'step "{step}" config'
    _check_keys(config, _CONFIG_KEYS, where)
    if "sensitive" in config and config["sensitive"] != SENSITIVE_OUTPUT:
        raise WorkflowError(
            f'{where}: sensitive may only be "{SENSITIVE_OUTPUT}", found {config["sensitive"]!r}'
        )
    retries = config.get("retries")
    resolved: dict[str, Any] = {}
    if retries is not None:
        _check_keys(retries, _RETRY_KEYS, f"{where} retries")
        missing = [key for key in ("limit", "delay") if retries.get(key) is None]
        if missing:
            raise WorkflowError(
                f"{where}: retries needs both limit and delay (backoff is optional); {missing[0]} is missing"
            )
        resolved["retry_limit"] = _retry_limit(retries["limit"], where)
        resolved["retry_delay_ms"] = duration_ms(retries["delay"], f"{where}: retries.delay")
        if retries.get("backoff") is not None:
            resolved["backoff"] = _backoff(retries["backoff"], where)
    if config.get("timeout") is not None:
        timeout_ms = duration_ms(config["timeout"], f"{where}: timeout")
        if timeout_ms == 0:
            raise WorkflowError(f"{where}: timeout must be longer than 0, found {config['timeout']!r}")
        resolved["timeout_ms"] = timeout_ms
    return StepConfig(**resolved) if resolved else DEFAULT_STEP_CONFIG


def _check_keys(value: Any, allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(value, Mapping):
        raise WorkflowError(f"{where}: expected a dict, found {type(value).__name__} {value!r}")
    unknown = [key for key in value if key not in allowed]
    if unknown:
        raise WorkflowError(f"{where}: unknown key {unknown[0]!r}; expected one of: {', '.join(allowed)}")


def _retry_limit(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise WorkflowError(f"{where}: retries.limit must be a whole number >= 0, found {value!r}")
    return int(value)


def _backoff(value: Any, where: str) -> Backoff:
    if value not in BACKOFFS:
        raise WorkflowError(f"{where}: retries.backoff must be one of {', '.join(BACKOFFS)}, found {value!r}")
    return cast(Backoff, value)
