"""SQLite files shared by threads and processes: the one way workerlab opens them and
waits for them (file names for configured names are :mod:`workerlab.file_names`).

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
from typing import Any, TypeVar

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
    return isinstance(error, sqlite3.OperationalError) and code is not None and (code & 0xFF) in _LOCKED_CODES


#: SQLite's primary result codes for "someone else holds it" (extended codes share their low byte).
_LOCKED_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class LockWait:
    """Runs work from the event loop on a connection opened with ``wait_for_locks=False``.

    The work runs on the loop at once. If SQLite answers that another process holds the database,
    it runs again in a thread, on a second connection of its own that waits up to
    ``BUSY_TIMEOUT_MS`` for the lock (other work that finds the database locked queues behind it,
    asynchronously), while the loop's connection stays free: the next work tries it first. Work
    reaches the connection it must use through :attr:`connection`. It must do nothing before its
    first statement that it cannot do twice: a locked database refuses the first write (``BEGIN
    IMMEDIATE`` or a lone statement) before anything changed. ``open_waiting`` makes the thread's
    connection (None: an in-memory database, which no other process can hold). ``lock`` is held
    around work on the loop's connection when other threads use that connection too (None: only
    the loop's thread does, and nothing is locked).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        open_waiting: Callable[[], sqlite3.Connection] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self._connection = connection
        self._open_waiting = open_waiting
        self._waiting_connection: sqlite3.Connection | None = None
        #: The thread running work on the waiting connection (None: none is).
        self._waiting_thread: int | None = None
        self.lock = lock
        self._queue: asyncio.Lock | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection of the work running in this thread: the loop's, or the waiting one."""
        waiting = self._waiting_thread
        if waiting is not None and waiting == threading.get_ident():
            assert self._waiting_connection is not None
            return self._waiting_connection
        return self._connection

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on the loop's connection; in a thread on the waiting one while another
        process holds the database."""
        lock = self.lock
        try:
            if lock is None:
                return work(*args)
            with lock:
                return work(*args)
        except sqlite3.OperationalError as error:
            if not is_locked(error) or self._open_waiting is None:
                raise
        # Only this work waits: the next tries the loop's connection again (work of other tasks
        # may commit first; work of one task stays in order, as each awaits the one before).
        if self._queue is None:
            self._queue = asyncio.Lock()
        async with self._queue:
            return await asyncio.to_thread(self._patiently, work, *args)

    def _patiently(self, work: Callable[..., T], *args: Any) -> T:
        if self._waiting_connection is None:
            assert self._open_waiting is not None
            self._waiting_connection = self._open_waiting()
        self._waiting_thread = threading.get_ident()
        try:
            return work(*args)
        finally:
            self._waiting_thread = None

    def close(self) -> None:
        """Close the waiting connection (the loop's belongs to its owner)."""
        if self._waiting_connection is not None:
            self._waiting_connection.close()
            self._waiting_connection = None


def _enable_wal(connection: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs it alone for a moment; when several processes open it at
    # once SQLite may answer "database is locked" at once instead of waiting for the busy timeout.
    tries = int(BUSY_TIMEOUT_MS / 1000 / _WAL_RETRY_PAUSE_S)
    for attempt in range(tries):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if not is_locked(error) or attempt == tries - 1:
                raise
            time.sleep(_WAL_RETRY_PAUSE_S)
