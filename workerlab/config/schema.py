"""A worker's configuration as frozen, typed values: what ``load_config`` returns.

The bindings (``env.<NAME>`` objects) are specs declared by their binding kinds in
:mod:`workerlab.bindings`; this module holds what every worker has whatever its bindings:
its name, module, triggers and compatibility settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from .. import limits


class BindingSpec(Protocol):
    """One binding of a worker's config: ``env.<binding>`` (a frozen dataclass of its kind)."""

    @property
    def binding(self) -> str: ...


S = TypeVar("S")


@dataclass(frozen=True)
class Var:
    """One entry of ``[vars]``: ``env.<binding>`` is ``value`` (a string, number, bool, array or table)."""

    binding: str
    value: Any


@dataclass(frozen=True)
class QueueConsumer:
    """A ``[[queues.consumers]]`` entry: the worker's ``queue`` handler consumes the queue ``queue``."""

    queue: str
    max_batch_size: int = limits.DEFAULT_MAX_BATCH_SIZE
    max_batch_timeout_s: float = limits.DEFAULT_MAX_BATCH_TIMEOUT_S
    max_retries: int = limits.DEFAULT_MAX_RETRIES
    retry_delay_s: int = limits.DEFAULT_RETRY_DELAY_S
    dead_letter_queue: str | None = None
    max_concurrency: int = limits.DEFAULT_MAX_CONCURRENCY
    #: ``"worker"``: the worker's queue handler consumes; ``"http_pull"``: clients pull over HTTP.
    type: Literal["worker", "http_pull"] = "worker"
    #: Lease of a pulled message when the pull names none (http_pull consumers).
    visibility_timeout_ms: int = limits.DEFAULT_VISIBILITY_TIMEOUT_MS
    #: Messages older than this are removed without delivery (counted as expired).
    message_retention_period_s: int = limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S


@dataclass(frozen=True)
class Migration:
    """A ``[[migrations]]`` entry: the Durable Object classes a deployment step creates."""

    tag: str
    new_sqlite_classes: tuple[str, ...] = ()
    new_classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerConfig:
    """One worker's configuration, for one environment, validated and with defaults filled in."""

    path: Path  # the config file
    name: str
    main: Path  # absolute path of the worker's .py module
    compatibility_date: str | None = None
    env_name: str | None = None
    bindings: tuple[BindingSpec, ...] = ()
    consumers: tuple[QueueConsumer, ...] = ()
    crons: tuple[str, ...] = ()
    compatibility_flags: tuple[str, ...] = ()
    migrations: tuple[Migration, ...] = ()
    #: Config keys that are valid for wrangler but mean nothing locally (for `workerlab check`).
    ignored_keys: tuple[str, ...] = field(default=(), compare=False)

    def bindings_of(self, kind: type[S]) -> tuple[S, ...]:
        """The bindings of one kind, in config order: ``config.bindings_of(KVNamespace)``."""
        return tuple(spec for spec in self.bindings if isinstance(spec, kind))

    @property
    def vars(self) -> Mapping[str, Any]:
        """``[vars]``: name -> value."""
        return {spec.binding: spec.value for spec in self.bindings_of(Var)}

    @property
    def root(self) -> Path:
        """The folder of the config file: relative paths are relative to it."""
        return self.path.parent
