"""One SQLite connection driven from the event loop: calls run inline, and only a busy file
(another process holding its write lock) sends a call to a thread to wait there.

Storage calls of a Durable Object are synchronous on Cloudflare's SQLite backend, and take effect
when called even if never awaited; running them inline does both, and fast. Waiting on a lock
inline would stall every worker of the process, so a busy call is retried in a thread with the
busy timeout, while :attr:`SqliteFile.gate` (the object's input gate) holds other events back as
Cloudflare's does during storage I/O.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..errors import StorageError
from ..sqlite_connections import BUSY_TIMEOUT_MS, connect, is_locked

T = TypeVar("T")


class Hold(Protocol):
    """Something held closed while a call waits for the file (an input gate)."""

    def close(self) -> None: ...

    def open(self) -> None: ...


class Ready(Generic[T]):
    """An awaitable whose value is already known (the result of a call that ran inline)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # a generator that never suspends


class SqliteFile:
    """A connection (``path`` None: a private in-memory database) used one call at a time."""

    def __init__(self, path: Path | None, *, durable: bool, gate: Hold | None = None) -> None:
        self.path = path
        self.gate = gate
        try:
            # Calls fail at once on a lock; run() then waits for it in a thread.
            self.conn = connect(path, durable=durable, wait_for_locks=False)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(
                f"cannot open the Durable Object storage file {path}: {error} (expected a writable "
                "SQLite file; check the persist directory)"
            ) from None
        # Reentrant: a transactionSync() function runs SQL while its own call holds the lock.
        self._lock = threading.RLock()
        self._waiting: asyncio.Future[Any] | None = None

    def run(self, fn: Callable[[sqlite3.Connection], T], hold: Hold | None = None) -> Awaitable[T]:
        """Run ``fn(conn)`` now and return its result as an awaitable. When the file is busy (or
        a call already waits for it), return a task that runs it in a thread once the file is
        free, with ``hold`` (by default :attr:`gate`) closed from now until then. Errors other
        than busy are raised here."""
        if self._waiting is None:
            try:
                return Ready(fn(self.conn))
            except sqlite3.OperationalError as error:
                if not is_locked(error):
                    raise
        hold = hold or self.gate
        if hold is not None:
            hold.close()
        return asyncio.ensure_future(self._later(fn, hold))

    async def _later(self, fn: Callable[[sqlite3.Connection], T], hold: Hold | None) -> T:
        try:
            while self._waiting is not None:
                await asyncio.wait([self._waiting])
            future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(self._patiently, fn))
            self._waiting = future
            try:
                return await future
            finally:
                self._waiting = None
        finally:
            if hold is not None:
                hold.open()

    def call_blocking(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` for the synchronous APIs (SQL): a busy file is waited for here."""
        with self._lock:
            try:
                return fn(self.conn)
            except sqlite3.OperationalError as error:
                if not is_locked(error):
                    raise
            return self._with_timeout(fn)

    def _patiently(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return self._with_timeout(fn)

    def _with_timeout(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            return fn(self.conn)
        except sqlite3.OperationalError as error:
            if is_locked(error):
                raise StorageError(
                    f"the Durable Object storage file {self.path} stayed locked by another process "
                    f"for {BUSY_TIMEOUT_MS / 1000:g} s ({error})"
                ) from None
            raise
        finally:
            self.conn.execute("PRAGMA busy_timeout = 0")

    def close(self) -> None:
        with self._lock:
            self.conn.close()
