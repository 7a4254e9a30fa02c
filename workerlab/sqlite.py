"""SQLite connections shared by threads and processes: the one way workerlab opens its files.

Connections the event loop uses never wait for another process's lock: they are opened with
``wait_for_locks=False`` and their work goes through :class:`LockWait`, which runs it on the loop
at once and, only when another process holds the database, lets it wait in a thread instead.
So a second `workerlab dev` on the same persist directory never freezes this one's loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: How long a write waits for another process's lock before failing (workerlab's own choice).
BUSY_TIMEOUT_MS = 10_000
#: Pause between tries of switching a new file to WAL while another process holds it.
_WAL_RETRY_PAUSE_S = 0.01


def connect(path: Path | None, *, durable: bool = False, wait_for_locks: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread.

    ``path`` None is a private in-memory database. A file is put in WAL mode with a busy
    timeout, so that several processes share it; ``durable`` syncs every commit to disk
    (``synchronous=FULL``: survives power loss), the default (NORMAL) survives a process crash.
    ``wait_for_locks=False`` (connections of the event loop, used through :class:`LockWait`)
    answers "database is locked" at once instead of waiting.
    """
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        ":memory:" if path is None else str(path),
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    if path is not None:
        _enable_wal(connection)
    connection.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
    if not wait_for_locks:
        connection.execute("PRAGMA busy_timeout = 0")
    return connection


def is_locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database is locked" / "busy" (another process holds it)."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF in _LOCKED_CODES


#: SQLite's primary result codes for "someone else holds it" (extended codes share their low byte).
_LOCKED_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class LockWait:
    """Runs work on a connection opened with ``wait_for_locks=False``, from the event loop.

    The work runs on the loop at once; if SQLite answers that another process holds the database,
    it runs again in a thread that waits up to ``BUSY_TIMEOUT_MS`` for the lock, and later work
    queues behind it (asynchronously) so that the connection is only ever used by one of them.
    Work must do nothing before its first statement that it cannot do twice: a locked database
    refuses the first write (``BEGIN IMMEDIATE`` or a lone statement), before anything changed.
    ``lock`` guards the connection against other threads.
    """

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock | None = None) -> None:
        self._connection = connection
        self.lock = lock or threading.RLock()
        self._queue: asyncio.Lock | None = None
        self._waiting = 0

    async def run(self, work: Callable[[], T]) -> T:
        if not self._waiting:
            try:
                with self.lock:
                    return work()
            except sqlite3.OperationalError as error:
                if not is_locked(error):
                    raise
        if self._queue is None:
            self._queue = asyncio.Lock()
        self._waiting += 1
        try:
            async with self._queue:
                return await asyncio.to_thread(self._patiently, work)
        finally:
            self._waiting -= 1

    def _patiently(self, work: Callable[[], T]) -> T:
        with self.lock:
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                return work()
            finally:
                self._connection.execute("PRAGMA busy_timeout = 0")


def _enable_wal(connection: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs it alone for a moment; when several processes open it at
    # once SQLite may answer "database is locked" at once instead of waiting for the busy timeout.
    tries = int(BUSY_TIMEOUT_MS / 1000 / _WAL_RETRY_PAUSE_S)
    for attempt in range(tries):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(_WAL_RETRY_PAUSE_S)
