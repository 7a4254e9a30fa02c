"""The objects of one namespace: one instance per id, each event through its input gate, and
one open database per object.

An instance is constructed on first use as ``Cls(ctx, env)`` and kept while in use; idle ones
are evicted as :mod:`.residency` decides, and their database is closed. Storage is never lost:
a file-backed database is on disk, and an in-memory one is kept as a snapshot (its SQLite image)
for the next instance of that id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock
from ..context import BackgroundWork, ExecutionContext, current_context
from ..rpc import carried
from ..tracebacks import user_traceback
from .alarms import AlarmBook
from .closer import Closer
from .gate import InputGate
from .ids import DurableObjectId
from .residency import LiveObject, Residency
from .state import DurableObjectState
from .storage import DurableObjectStorage, StorageKind
from .store import ObjectStore, class_dir, object_file_name, object_id_of

T = TypeVar("T")
#: One event's work on an object: called with the instance and its ctx.
Work = Callable[[Any, DurableObjectState], Awaitable[T]]


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
        residency: Residency,
        closer: Closer,
    ) -> None:
        self.cls = cls
        self.class_name = class_name
        self.kind = kind
        self.persist_dir = persist_dir
        self._durable = durable
        self._clock = clock
        self._env = env
        self._work = work
        self._residency = residency
        self._closer = closer
        self._has_alarm = callable(getattr(cls, "alarm", None))
        self._live: dict[str, LiveObject] = {}
        self._open: dict[str, ObjectStore] = {}  # one connection per object, shared by its storages
        self._snapshots: dict[str, bytes] = {}  # in-memory databases of evicted objects
        self.book: AlarmBook  # set by the namespace, which owns both

    # --- events ---------------------------------------------------------------------------

    async def run(self, object_id: DurableObjectId, work: Work[T]) -> T:
        """Run one event on the object: constructed if needed, through its input gate, with the
        worker's env current. Exceptions are the target's own (callers carry them across)."""
        hex_id = object_id.toString()
        env = self._env()
        context_token = current_context.set(ExecutionContext(self._work, waits_for_work=False, env=env))
        try:
            live = self._live.get(hex_id)
            if live is None:
                live = self._construct(object_id, env)
            else:
                self._residency.touch(live)
            live.in_use += 1
            try:
                await live.gate.enter()
                if live.failure is not None:
                    raise carried(live.failure)
                return await work(live.instance, live.state)
            finally:
                live.in_use -= 1
                self._residency.used(live)
        finally:
            current_context.reset(context_token)

    def _construct(self, object_id: DurableObjectId, env: Any) -> LiveObject:
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
            self.forget(live)

        state = DurableObjectState(DurableObjectId(hex_id, object_id.name), storage, gate, self._work, failed)
        live = LiveObject(self, hex_id, state, gate, self._clock.now_s())
        self._residency.admit(live)
        self._live[hex_id] = live
        try:
            live.instance = self.cls(state, env)
        except BaseException:
            self.forget(live)
            raise
        return live

    # --- databases ------------------------------------------------------------------------

    def _path(self, hex_id: str) -> Path:
        assert self.persist_dir is not None
        return class_dir(self.persist_dir, self.class_name) / object_file_name(hex_id)

    def _open_store(self, hex_id: str, gate: InputGate) -> ObjectStore:
        store = self._open.get(hex_id)
        if store is None:
            if self.persist_dir is not None:
                store = ObjectStore(self._path(hex_id), durable=self._durable, gate=gate)
            else:
                store = ObjectStore(None, durable=False, gate=gate)
                snapshot = self._snapshots.pop(hex_id, None)
                if snapshot is not None:
                    store.restore(snapshot)
            self._open[hex_id] = store
            live = self._live.get(hex_id)
            if live is not None:
                self._residency.opened(live)
        store.file.gate = gate  # the gate of the instance now using it
        return store

    def _store_exists(self, hex_id: str) -> bool:
        if hex_id in self._open or hex_id in self._snapshots:
            return True
        return self.persist_dir is not None and self._path(hex_id).exists()

    def _close_store(self, hex_id: str) -> None:
        store = self._open.pop(hex_id, None)
        if store is None:
            return
        if store.path is None:
            self._snapshots[hex_id] = store.snapshot()
            store.close()
        else:
            store.closed = True  # its storage opens a new connection if used again
            self._closer.close(store.file)

    # --- eviction (the residency's owner) ------------------------------------------------

    def evictable(self, live: LiveObject) -> bool:
        return (
            live.in_use == 0
            and live.gate.idle
            and live.state.background == 0
            and not live.state.storage.in_transaction
            and not self.book.is_running(live.hex_id)
        )

    def forget(self, live: LiveObject) -> None:
        """Drop ``live`` and close its database (a storage still held reopens it when used)."""
        self._residency.forget(live)
        if self._live.get(live.hex_id) is live:
            del self._live[live.hex_id]
        self.close_database(live)

    def close_database(self, live: LiveObject) -> None:
        """Close the object's database; its storage opens it again when next used."""
        live.state.storage.detach()
        self._close_store(live.hex_id)

    def live_ids(self) -> list[DurableObjectId]:
        return [live.state.id for live in self._live.values()]

    def stored_ids(self) -> list[str]:
        """The ids of objects that have a database (on disk, or in memory)."""
        if self.persist_dir is None:
            return [*self._open, *self._snapshots]
        folder = class_dir(self.persist_dir, self.class_name)
        if not folder.is_dir():
            return []
        return [object_id for path in folder.glob("*.sqlite3") if (object_id := object_id_of(path.name))]

    def close(self) -> None:
        """Drop every instance and close every database."""
        for live in list(self._live.values()):
            self.forget(live)
        for hex_id in list(self._open):
            self._close_store(hex_id)
        self._snapshots.clear()


def carried_from(error: BaseException) -> Exception:
    """What the caller of an event sees for the target's ``error``: its type name and message,
    with the target's own frames as the cause."""
    outgoing = carried(error)
    outgoing.__cause__ = error.with_traceback(user_traceback(error.__traceback__))
    outgoing.__suppress_context__ = True
    return outgoing
