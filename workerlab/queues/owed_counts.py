"""What the busiest writes owe the backlog counters, written in bulk instead of with each write.

Every write that adds or removes messages keeps the counters of :mod:`.state` in step with the
rows. For an insert that costs one more database page per commit: a quarter of what a single
``send()`` costs. So the inserts and the acked batches of the event loop's thread add what they
owe to this ledger instead, and the ledger is written (:meth:`OwedCounts.write`) at most
``FLUSH_S`` later and at close; this process's reads add what it owes. Other processes see the
counters at most ``FLUSH_S`` late.

A crash loses no count: the first write after the ledger's records the process in
``counts_owed``, in its own transaction, and the ledger's write takes it off. A recorded process
that is gone owed counts that were lost: the counters are recounted from the rows
(:func:`repair`), as soon as no live process owes any (its counts would be counted twice).

The ledger belongs to the event loop's thread: work that waits for another process's lock runs
in a thread, and its inserts count at once, as they always did.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from ..process import process_alive
from ..sqlite_connections import is_locked
from . import state

logger = logging.getLogger("workerlab")

#: Longest an insert's count waits before it is written.
FLUSH_S = 0.05


class OwedCounts:
    """One store's ledger in this process: queue -> [count, bytes] owed.

    ``connection`` gives the loop's connection, ``transaction`` makes one write transaction on it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connection: Callable[[], sqlite3.Connection],
        transaction: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._loop = loop
        #: The only thread that adds to the ledger (the event loop's): work waiting for another
        #: process's lock in a thread counts at once instead.
        self.loop_thread = threading.get_ident()
        self._connection = connection
        self._transaction = transaction
        self._host, self._pid = socket.gethostname(), os.getpid()
        self.marker = f"{self._host}:{self._pid}:{os.urandom(6).hex()}"
        self._owed: dict[str, list[int]] = {}
        #: Whether ``counts_owed`` records this process since the ledger was last written.
        self.recorded = False
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def __bool__(self) -> bool:
        return bool(self._owed)

    def record(self, db: sqlite3.Connection) -> None:
        """Inside a write's transaction: record this process as owing counts (once per ledger write)."""
        if not self.recorded:
            db.execute(
                "INSERT OR IGNORE INTO counts_owed (marker, host, pid) VALUES (?, ?, ?)",
                (self.marker, self._host, self._pid),
            )

    def add(self, queue: str, count: int, size: int) -> None:
        """After the write committed: what it owes; the ledger is written ``FLUSH_S`` later."""
        self.recorded = True
        owed = self._owed.get(queue)
        if owed is None:
            self._owed[queue] = [count, size]
        else:
            owed[0] += count
            owed[1] += size
        if self._timer is None:
            self._timer = self._loop.call_later(FLUSH_S, self._write_due)

    def queues(self) -> list[str]:
        return list(self._owed)

    def owed(self, queue: str) -> tuple[int, int]:
        """What this process owes ``queue`` (count, bytes), not yet written."""
        count, size = self._owed.get(queue, (0, 0))
        return count, size

    def write(self) -> bool:
        """Write the ledger now (from the loop's thread); False when another process holds the
        database (it is tried again ``FLUSH_S`` later)."""
        if not self._owed or threading.get_ident() != self.loop_thread:
            return True
        db = self._connection()
        try:
            with self._transaction():
                for queue, (count, size) in self._owed.items():
                    state.bump(db, queue, count=count, size=size)
                db.execute("DELETE FROM counts_owed WHERE marker = ?", (self.marker,))
                repair(db)
        except sqlite3.OperationalError as error:
            if not is_locked(error):
                raise
            self._write_later()
            return False
        self._owed.clear()
        self.recorded = False
        return True

    def close(self) -> None:
        """Write nothing later (the store writes what is owed itself as it closes)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write_later(self) -> None:
        if self._timer is None and not self._closed and not self._loop.is_closed():
            self._timer = self._loop.call_later(FLUSH_S, self._write_due)

    def _write_due(self) -> None:
        self._timer = None
        try:
            self.write()
        except sqlite3.Error as error:
            logger.warning("Writing the queue counters failed (will retry): %s", error)
            self._write_later()


def repair(db: sqlite3.Connection) -> bool:
    """Inside a transaction: when a process on this host died owing counts and no live one owes
    any, recount every queue from its rows and forget the dead; whether it did."""
    host = socket.gethostname()
    recorded = db.execute("SELECT marker, host, pid FROM counts_owed").fetchall()
    dead = [marker for marker, marker_host, pid in recorded if marker_host == host and not process_alive(pid)]
    if not dead or len(dead) < len(recorded):
        return False  # nothing lost, or a live process owes counts: a recount now would count them twice
    state.recount_all(db)
    db.execute("DELETE FROM counts_owed")
    return True
