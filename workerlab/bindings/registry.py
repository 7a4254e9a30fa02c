"""Every binding kind in one list: how each is read from the config, opened, put on ``env`` and closed.

A binding kind is one module of :mod:`workerlab.bindings` holding a spec (a frozen dataclass with
a ``binding`` name) and a :class:`BindingKind` object. Adding a kind means writing that module
and adding its section to :data:`SECTIONS` (a hosted-only service: an entry of
``not_emulated.KINDS``); nothing else in workerlab lists the kinds.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from . import not_emulated

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config.schema import BindingSpec, WorkerConfig
    from ..config.source import ConfigSource
    from ..context import BackgroundWork
    from ..dev_registry import RunningWorker
    from ..durable import DurableObjects
    from ..events import EventBus
    from ..queues.broker import Broker
    from ..workflows import WorkflowEngine

#: Where a binding's resource lives, as the start-up bindings table says.
Mode = Literal["local", "other process", "not emulated"]


class SessionServices(Protocol):
    """What the session offers the bindings it opens."""

    persist_dir: Path | None
    durable: bool
    clock: Clock
    bus: EventBus

    def queue_broker(self) -> Broker:
        """The one queue broker of the session (opened on first use)."""
        ...

    def shared(self, key: tuple[str, str], make: Callable[[], Any]) -> Any:
        """One object per ``key`` for the session (a store several workers bind), closed with it."""
        ...

    def loaded_worker(self, name: str) -> Any:
        """The runtime of the loaded worker ``name``, or None when this process has not loaded it."""
        ...

    def durable_objects(self) -> DurableObjects:
        """The one Durable Objects engine of the session (opened on first use)."""
        ...

    def workflow_engine(self) -> WorkflowEngine:
        """The one workflow engine of the session (opened on first use)."""
        ...

    def running_elsewhere(self, name: str) -> RunningWorker | None:
        """The `workerlab dev` process sharing the persist directory that serves ``name``, if any."""
        ...


@dataclass
class BindingSite:
    """Where a binding is opened: for which worker, in which session (which closes what it opens)."""

    worker: str
    config: WorkerConfig
    session: SessionServices
    work: BackgroundWork


class BindingKind(Protocol):
    """One kind of binding (KV namespace, queue producer, service, ...)."""

    #: The config key that holds its entries: a top-level key or a dotted path (``queues.producers``).
    section: str
    #: Its name in the start-up bindings table ("KV Namespace").
    label: str

    @property
    def spec(self) -> type:
        """The spec class its entries parse to."""
        ...

    def parse(self, src: ConfigSource, value: Any, key: str) -> Sequence[tuple[BindingSpec, str]]:
        """The specs in the section's ``value`` (read at ``key``), each with the key path it came from."""
        ...

    async def open(self, spec: Any, site: BindingSite) -> Any:
        """The ``env`` value for ``spec``; what must be closed is opened through the session."""
        ...

    def describe(self, spec: Any, site: BindingSite) -> tuple[str, Mode]:
        """What the start-up table shows: the resource, and where it lives."""
        ...


#: Every binding section of a config, in the order their values go on ``env``, with the module of
#: :mod:`workerlab.bindings` that declares its kind (as ``KIND``, or among its ``KINDS``). A module
#: is imported only when a config has its section.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("vars", "vars"),
    ("queues.producers", "queue"),
    ("kv_namespaces", "kv"),
    ("d1_databases", "d1"),
    ("r2_buckets", "r2"),
    ("services", "service"),
    ("durable_objects.bindings", "durable_object"),
    ("workflows", "workflow"),
    ("assets", "assets"),
    # Hosted-only services: one section each, as not_emulated.KINDS lists them.
    *((kind.section, "not_emulated") for kind in not_emulated.KINDS),
)

_kinds: dict[str, BindingKind] = {}


def kind(section: str) -> BindingKind:
    """The kind that reads ``section`` (its module imported on first use)."""
    found = _kinds.get(section)
    if found is None:
        module = importlib.import_module(f"{__package__}.{dict(SECTIONS)[section]}")
        candidates = getattr(module, "KINDS", None) or (module.KIND,)
        found = _kinds[section] = next(k for k in candidates if k.section == section)
    return found


def kind_of(spec: object) -> BindingKind:
    """The kind a spec belongs to: one already imported (to parse the config), else any (a config
    built in code never went through the parser)."""
    for candidate in _kinds.values():
        if isinstance(spec, candidate.spec):
            return candidate
    for section, _module in SECTIONS:
        if isinstance(spec, (candidate := kind(section)).spec):
            return candidate
    raise LookupError(f"no binding kind for {type(spec).__name__}")
