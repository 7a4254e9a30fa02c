"""Who holds a lease: this process's owner identity in a shared store, and finding dead owners.

Every process that claims batches registers an owner row (host, pid, heartbeat) and keeps
it fresh from a thread, so a busy event loop never makes it look dead. An owner is dead
when it is on this host and its pid is gone (or is a zombie, or is our own pid under an
identity we no longer use), or when its heartbeat is older than ``OWNER_STALE_S``
(another host, or a reused pid). Rows leased by a dead owner go back to their queues.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Sequence

from ..clock import SystemClock
from ..process import process_alive
from .store import Owner, QueueStore

logger = logging.getLogger("workerlab")

#: How often a live process refreshes its heartbeat and looks for dead owners.
HEARTBEAT_INTERVAL_S = 0.25
#: An owner whose heartbeat is older than this is taken for dead (keeps recovery within 2 s).
OWNER_STALE_S = 1.5

#: Owner ids in use by this process (several brokers may share a store in one process).
_live_here: set[str] = set()


def dead_owners(owners: Sequence[Owner], me: Owner, now_ms: int) -> list[str]:
    """The owners among ``owners`` that can no longer finish their batches."""
    dead = []
    for other in owners:
        if other.owner == me.owner or other.owner in _live_here:
            continue
        gone_here = other.host == me.host and (other.pid == me.pid or not process_alive(other.pid))
        if gone_here or now_ms - other.heartbeat_ms > OWNER_STALE_S * 1000:
            dead.append(other.owner)
    return dead


class LeaseKeeper:
    """This broker's owner identity in ``store``: registered on start, kept alive, removed on stop."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store
        # Liveness is about real processes, so it reads the wall clock even when the broker's clock is fake.
        self._clock = SystemClock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(6).hex()}"
        self._host = socket.gethostname()
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _me(self) -> Owner:
        return Owner(self.owner, self._host, os.getpid(), self._clock.now_ms())

    async def start(self) -> None:
        """Register, take back the leases of dead owners, and (shared store) start the heartbeat."""
        if self._started:
            return
        self._started = True
        _live_here.add(self.owner)
        await self._store.run(self._register)
        if self._store.shared:
            self._thread = threading.Thread(target=self._beat, name="workerlab-queue-leases", daemon=True)
            self._thread.start()

    def _register(self) -> None:
        self._store.register_owner(self._me())
        self.recover(self._store)

    def recover(self, store: QueueStore) -> int:
        """Give the rows leased by dead owners back to their queues; return how many."""
        dead = dead_owners(store.owners(), self._me(), self._clock.now_ms())
        if not dead:
            return 0
        released = store.remove_owners(dead)
        if released:
            logger.info("Recovered %d in-flight message(s) from %d stopped process(es)", released, len(dead))
        return released

    def _beat(self) -> None:
        assert self._store.path is not None
        store = QueueStore.open(self._store.path, durable=self._store.durable)
        try:
            while not self._stop.wait(HEARTBEAT_INTERVAL_S):
                try:
                    store.register_owner(self._me())
                    self.recover(store)
                except sqlite3.Error as error:
                    logger.warning("Queue lease heartbeat failed (will retry): %s", error)
        finally:
            store.close()

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        _live_here.discard(self.owner)

    def stop(self) -> None:
        """Stop the heartbeat, give back any lease still held, and unregister."""
        if not self._started:
            return
        self._halt()
        self._store.remove_owners([self.owner])
        self._started = False
