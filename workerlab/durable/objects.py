"""The live objects of one namespace: one instance per id, each event through its input gate.

An instance is constructed on first use as ``Cls(ctx, env)`` and kept while in use. One idle for
:data:`~.limits.IDLE_EVICTION_S` on the workerlab clock, or the least recently used idle ones
past :data:`~.limits.MAX_LIVE_OBJECTS`, are evicted: the instance is dropped and its database
closed. Storage is never lost: a file-backed database is on disk, and an in-memory one is kept
by the namespace for the next instance of that id.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock
from ..context import BackgroundWork, ExecutionContext, current_context, current_env
from ..rpc import carried
from ..tracebacks import user_traceback
from .alarms import AlarmBook
from .gate import InputGate
from .ids import DurableObjectId
from .limits import IDLE_EVICTION_S, MAX_LIVE_OBJECTS
from .state import DurableObjectState
from .storage import DurableObjectStorage, StorageKind
from .store import ObjectStore, class_dir, object_file_name, object_id_of

T = TypeVar("T")
#: One event's work on an object: called with the instance and its ctx.
Work = Callable[[Any, DurableObjectState], Awaitable[T]]


class LiveObject:
    """An object in memory: its instance, ctx, input gate, and whether an event is using it."""

    __slots__ = ("failure", "gate", "in_use", "instance", "last_used_s", "state")

    def __init__(self, state: DurableObjectState, gate: InputGate, now_s: float) -> None:
        self.state = state
        self.gate = gate
        self.instance: Any = None
        self.in_use = 0
        self.last_used_s = now_s
        #: Set when blockConcurrencyWhile() failed: the object was reset.
        self.failure: BaseException | None = None


class Objects:
    """Instances of one Durable Object class, constructed, dispatched to and evicted."""

    def __init__(
        self,
        cls: type,
        *,
        class_name: str,
        kind: StorageKind,
        persist_dir: Path | None,
        durable: bool,
        clock: Clock,
        env: Callable[[], Any],
        work: BackgroundWork | None,
    ) -> None:
        self.cls = cls
        self.class_name = class_name
        self.kind = kind
        self.persist_dir = persist_dir
        self._durable = durable
        self._clock = clock
        self._env = env
        self._work = work
        self._has_alarm = callable(getattr(cls, "alarm", None))
        self._live: OrderedDict[str, LiveObject] = OrderedDict()
        self._memory: dict[str, ObjectStore] = {}  # in-memory databases outlive their instances
        self._next_sweep_s = clock.now_s() + IDLE_EVICTION_S
        self.book: AlarmBook  # set by the namespace, which owns both

    # --- events ---------------------------------------------------------------------------

    async def run(self, object_id: DurableObjectId, work: Work[T]) -> T:
        """Run one event on the object: constructed if needed, through its input gate, with the
        worker's env current. Exceptions are the target's own (callers carry them across)."""
        hex_id = object_id.toString()
        env = self._env()
        env_token = current_env.set(env)
        context_token = current_context.set(ExecutionContext(self._work, waits_for_work=False))
        try:
            live = self._live.get(hex_id)
            if live is None:
                live = self._construct(object_id, env)
            else:
                self._live.move_to_end(hex_id)
            live.in_use += 1
            try:
                await live.gate.enter()
                if live.failure is not None:
                    raise carried(live.failure)
                return await work(live.instance, live.state)
            finally:
                live.in_use -= 1
                now_s = live.last_used_s = self._clock.now_s()
                if now_s >= self._next_sweep_s:
                    self.evict_idle(now_s)
        finally:
            current_context.reset(context_token)
            current_env.reset(env_token)

    def _construct(self, object_id: DurableObjectId, env: Any) -> LiveObject:
        now_s = self._clock.now_s()
        if len(self._live) >= MAX_LIVE_OBJECTS or now_s >= self._next_sweep_s:
            self.evict_idle(now_s)
        hex_id = object_id.toString()
        gate = InputGate()
        storage = DurableObjectStorage(
            kind=self.kind,
            object_id=hex_id,
            object_name=object_id.name,
            open_store=lambda: self._open_store(hex_id, gate),
            store_exists=lambda: self._store_exists(hex_id),
            alarms=self.book,
            gate=gate,
            has_alarm_handler=self._has_alarm,
        )
        live: LiveObject

        def failed(error: BaseException) -> None:
            live.failure = error
            self._forget(hex_id, live)

        state = DurableObjectState(DurableObjectId(hex_id, object_id.name), storage, gate, self._work, failed)
        live = LiveObject(state, gate, now_s)
        self._live[hex_id] = live
        try:
            live.instance = self.cls(state, env)
        except BaseException:
            self._forget(hex_id, live)
            raise
        return live

    def _path(self, hex_id: str) -> Path:
        assert self.persist_dir is not None
        return class_dir(self.persist_dir, self.class_name) / object_file_name(hex_id)

    def _open_store(self, hex_id: str, gate: InputGate) -> ObjectStore:
        if self.persist_dir is None:
            store = self._memory.get(hex_id)
            if store is None:
                store = self._memory[hex_id] = ObjectStore(None, durable=False, gate=gate)
            store.file.gate = gate  # the gate of the instance now using it
            return store
        return ObjectStore(self._path(hex_id), durable=self._durable, gate=gate)

    def _store_exists(self, hex_id: str) -> bool:
        if self.persist_dir is None:
            return hex_id in self._memory
        return self._path(hex_id).exists()

    # --- eviction -------------------------------------------------------------------------

    def _evictable(self, hex_id: str, live: LiveObject) -> bool:
        return (
            live.in_use == 0
            and live.gate.idle
            and live.state.background == 0
            and not live.state.storage.in_transaction
            and not self.book.is_running(hex_id)
        )

    def evict_idle(self, now_s: float | None = None) -> int:
        """Evict the objects idle since :data:`IDLE_EVICTION_S`, and the least recently used idle
        ones while more than :data:`MAX_LIVE_OBJECTS` - 1 are live; return how many went."""
        now_s = self._clock.now_s() if now_s is None else now_s
        self._next_sweep_s = now_s + IDLE_EVICTION_S / 2
        idle_since_s = now_s - IDLE_EVICTION_S
        evicted = 0
        for hex_id, live in list(self._live.items()):  # least recently used first
            crowded = len(self._live) >= MAX_LIVE_OBJECTS
            if not crowded and live.last_used_s > idle_since_s:
                break  # the rest were used more recently still
            if self._evictable(hex_id, live):
                self._forget(hex_id, live)
                evicted += 1
        return evicted

    def _forget(self, hex_id: str, live: LiveObject) -> None:
        if self._live.get(hex_id) is live:
            del self._live[hex_id]
        store = live.state.storage.detach()
        if store is not None and store.path is not None:
            store.close()

    def live_ids(self) -> list[DurableObjectId]:
        return [live.state.id for live in self._live.values()]

    def stored_ids(self) -> list[str]:
        """The ids of objects that have a database (on disk, or in memory)."""
        if self.persist_dir is None:
            return list(self._memory)
        folder = class_dir(self.persist_dir, self.class_name)
        if not folder.is_dir():
            return []
        return [object_id for path in folder.glob("*.sqlite3") if (object_id := object_id_of(path.name))]

    def close(self) -> None:
        """Drop every instance and close every database."""
        for hex_id, live in list(self._live.items()):
            self._forget(hex_id, live)
        for store in self._memory.values():
            store.close()
        self._memory.clear()


def carried_from(error: BaseException) -> Exception:
    """What the caller of an event sees for the target's ``error``: its type name and message,
    with the target's own frames as the cause."""
    outgoing = carried(error)
    outgoing.__cause__ = error.with_traceback(user_traceback(error.__traceback__))
    outgoing.__suppress_context__ = True
    return outgoing


def arity(method: Callable[..., Any], most: int) -> int:
    """How many positional arguments ``method`` (a function or bound method) takes, up to ``most``."""
    function = getattr(method, "__func__", None)
    if function is None:
        return min(_positional(method), most)
    return min(max(_positional(function) - 1, 0), most)  # without self


@functools.lru_cache(maxsize=512)
def _positional(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1_000
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return 1_000
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count
