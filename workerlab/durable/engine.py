"""The Durable Objects of a session: one alarm index and alarm source, and a namespace per class.

The session makes one :class:`DurableObjects`, adds its :attr:`~DurableObjects.alarms` to its
timers, and asks it for the namespace of each ``[[durable_objects.bindings]]`` entry (bindings of
several workers to one class share that class's namespace). :func:`durable_object_class` checks
a binding's class when the worker loads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..clock import Clock
from ..compat.entrypoint import DurableObject
from ..context import BackgroundWork
from ..errors import ConfigError
from ..events import EventBus
from .alarm_source import AlarmSource
from .alarms import AlarmBook, AlarmIndex
from .closer import Closer
from .namespace import DurableObjectNamespace
from .objects import Objects
from .residency import Residency
from .storage import StorageKind

_STORAGE_KINDS = ("sqlite", "kv")


class DurableObjects:
    """Every Durable Object namespace of a session (``persist_dir`` None: all in memory)."""

    def __init__(
        self, persist_dir: Path | None, *, clock: Clock, bus: EventBus, durable: bool = False
    ) -> None:
        self.persist_dir = persist_dir
        self.durable = durable
        self.clock = clock
        self.bus = bus
        self.index = AlarmIndex.open(persist_dir, durable=durable)
        #: The time source (kind "alarms") to add to the session's timers.
        self.alarms = AlarmSource(clock)
        self._namespaces: dict[tuple[str, str], DurableObjectNamespace] = {}
        #: Which objects are in memory, across the namespaces.
        self.residency = Residency(clock)
        #: Closes evicted objects' databases off the event loop.
        self.closer = Closer()

    def namespace(
        self,
        cls: type,
        *,
        worker: str,
        class_name: str,
        storage: StorageKind,
        env: Callable[[], Any],
        work: BackgroundWork | None = None,
    ) -> DurableObjectNamespace:
        """The namespace of ``worker``'s class ``class_name`` (made on the first call, the same
        one after). ``cls`` is the class (see :func:`durable_object_class`); ``storage`` is
        ``"sqlite"`` (``new_sqlite_classes``) or ``"kv"`` (``new_classes``); ``env()`` returns the
        worker's env, read when an object is constructed; ``work`` collects waitUntil tasks."""
        key = (worker, class_name)
        existing = self._namespaces.get(key)
        if existing is not None:
            return existing
        if storage not in _STORAGE_KINDS:
            raise ValueError(f"storage must be one of {_STORAGE_KINDS}, found {storage!r}")
        objects = Objects(
            cls,
            class_name=class_name,
            kind=storage,
            persist_dir=self.persist_dir,
            durable=self.durable,
            clock=self.clock,
            env=env,
            work=work,
            residency=self.residency,
            closer=self.closer,
        )
        namespace = DurableObjectNamespace(objects, worker)
        objects.book = AlarmBook(
            self.index,
            worker,
            class_name,
            namespace.fire_alarm,
            clock=self.clock,
            bus=self.bus,
            on_change=self.alarms.wakeup.wake,
        )
        self.alarms.add(objects.book)
        self._namespaces[key] = namespace
        return namespace

    @property
    def namespaces(self) -> list[DurableObjectNamespace]:
        return list(self._namespaces.values())

    def evict_idle(self) -> int:
        """Evict the objects idle long enough, in every namespace; return how many went."""
        return self.residency.evict()

    async def close(self) -> None:
        """Stop the alarm source, then close every object's database and the alarm index."""
        await self.alarms.close()
        for namespace in self._namespaces.values():
            namespace.objects.close()
        await self.closer.aclose()
        self.index.close()


def durable_object_class(module: ModuleType, class_name: str, binding: str) -> type:
    """The class ``class_name`` of the worker's ``module``, checked to extend ``DurableObject``;
    a :class:`ConfigError` naming the binding, the class, the module's file and what was found."""
    where = getattr(module, "__file__", None) or module.__name__
    found = getattr(module, class_name, None)
    prefix = f'durable_objects binding "{binding}": class_name "{class_name}"'
    if found is None:
        classes = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value) and issubclass(value, DurableObject) and value is not DurableObject
        )
        known = f"its Durable Object classes are {', '.join(classes)}" if classes else "it defines none"
        raise ConfigError(
            f"{prefix} is not defined in {where} ({known}); define class {class_name}(DurableObject) "
            "there, with `from workers import DurableObject`"
        )
    if not (inspect.isclass(found) and issubclass(found, DurableObject)):
        if inspect.isclass(found):
            bases = ", ".join(base.__name__ for base in found.__bases__)
            what = f"a class extending {bases}, not DurableObject"
        else:
            what = f"a {type(found).__name__}, not a class"
        raise ConfigError(
            f"{prefix} in {where} is {what}; declare it as class {class_name}(DurableObject), "
            "with `from workers import DurableObject`"
        )
    return found
