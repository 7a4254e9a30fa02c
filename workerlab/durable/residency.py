"""Which Durable Objects are in memory, across every namespace of a session.

An object is evicted when it has had no event for :data:`~.limits.IDLE_EVICTION_S` on the
workerlab clock, or, least recently used first, when more than the session's budget are live.
The budget is :data:`~.limits.MAX_LIVE_OBJECTS`, lowered to what the process's open-file limit
allows: a live object's database holds up to three files open (the file, its WAL, its index).
Only idle objects are evicted (see :meth:`Owner.evictable`).

Open databases have a budget of their own, :data:`~.limits.MAX_OPEN_DATABASES` (within the
live budget): a connection costs far more memory than an instance (SQLite's allocators and page
cache), so past it the least recently used idle objects close their database and stay live; their
storage opens it again on their next call.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from ..clock import Clock
from .gate import InputGate
from .limits import IDLE_EVICTION_S, MAX_LIVE_OBJECTS, MAX_OPEN_DATABASES

#: Open files a live object's database may hold (SQLite's database, -wal and -shm files).
FILES_PER_OBJECT = 3
#: Open files left to everything else of the process (sockets, other stores, the user's own).
RESERVED_FILES = 256
#: The budget never goes below this, however low the open-file limit.
MIN_LIVE_OBJECTS = 16


class Owner(Protocol):
    """The namespace's side of eviction."""

    def evictable(self, live: LiveObject) -> bool:
        """Whether nothing is under way on the object (no event, transaction, alarm, waitUntil)."""
        ...

    def forget(self, live: LiveObject) -> None:
        """Drop the instance and close its database."""
        ...

    def close_database(self, live: LiveObject) -> None:
        """Close the object's database and keep the instance (it is evictable)."""
        ...


class LiveObject:
    """An object in memory: its instance, ctx, input gate, and whether an event is using it."""

    __slots__ = ("failure", "gate", "hex_id", "in_use", "instance", "last_used_s", "owner", "state")

    def __init__(self, owner: Owner, hex_id: str, state: Any, gate: InputGate, now_s: float) -> None:
        self.owner = owner
        self.hex_id = hex_id
        self.state = state  # the DurableObjectState (ctx)
        self.gate = gate
        self.instance: Any = None
        self.in_use = 0
        self.last_used_s = now_s
        #: Set when blockConcurrencyWhile() failed: the object was reset.
        self.failure: BaseException | None = None


def live_object_budget() -> int:
    """How many objects may be live at once in this process."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no such limit here (Windows)
        return MAX_LIVE_OBJECTS
    if soft == resource.RLIM_INFINITY:
        return MAX_LIVE_OBJECTS
    return max(MIN_LIVE_OBJECTS, min(MAX_LIVE_OBJECTS, (soft - RESERVED_FILES) // FILES_PER_OBJECT))


class Residency:
    """The live objects of a session, least recently used first."""

    def __init__(self, clock: Clock, max_live: int | None = None, max_open: int | None = None) -> None:
        self.max_live = live_object_budget() if max_live is None else max_live
        #: How many live objects may hold their database open at once.
        self.max_open = min(MAX_OPEN_DATABASES, self.max_live) if max_open is None else max_open
        self._clock = clock
        self._order: OrderedDict[LiveObject, None] = OrderedDict()
        self._open: OrderedDict[LiveObject, None] = OrderedDict()  # those with an open database
        self._next_sweep_s = clock.now_s() + IDLE_EVICTION_S / 2

    def __len__(self) -> int:
        return len(self._order)

    def admit(self, live: LiveObject) -> None:
        """Count a new live object, evicting others first if the budget is spent."""
        if len(self._order) >= self.max_live or live.last_used_s >= self._next_sweep_s:
            self.evict(live.last_used_s)
        self._order[live] = None

    @property
    def open_databases(self) -> int:
        return len(self._open)

    def touch(self, live: LiveObject) -> None:
        """An event starts on ``live``: it is the most recently used."""
        if live in self._order:
            self._order.move_to_end(live)
            if live in self._open:
                self._open.move_to_end(live)

    def opened(self, live: LiveObject) -> None:
        """``live`` opened its database; past the budget, idle objects close theirs, least
        recently used first."""
        if live not in self._order:
            return  # no longer live: its database closes with the object's next instance
        self._open[live] = None
        if len(self._open) <= self.max_open:
            return
        for other in list(self._open):
            if other is not live and other.owner.evictable(other):
                other.owner.close_database(other)
                del self._open[other]
                if len(self._open) <= self.max_open:
                    return

    def used(self, live: LiveObject) -> None:
        """An event on ``live`` ended; now and then, look for idle objects."""
        now_s = live.last_used_s = self._clock.now_s()
        if now_s >= self._next_sweep_s:
            self.evict(now_s)

    def forget(self, live: LiveObject) -> None:
        self._order.pop(live, None)
        self._open.pop(live, None)

    def evict(self, now_s: float | None = None) -> int:
        """Evict the idle objects unused since :data:`IDLE_EVICTION_S`, and the least recently
        used idle ones while the budget is spent; return how many went."""
        now_s = self._clock.now_s() if now_s is None else now_s
        self._next_sweep_s = now_s + IDLE_EVICTION_S / 2
        idle_since_s = now_s - IDLE_EVICTION_S
        evicted = 0
        for live in list(self._order):
            crowded = len(self._order) >= self.max_live
            if not crowded and live.last_used_s > idle_since_s:
                break  # the rest were used more recently still
            if live.owner.evictable(live):
                live.owner.forget(live)
                evicted += 1
        return evicted
