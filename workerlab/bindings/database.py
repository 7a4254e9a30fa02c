"""The SQLite database behind a KV namespace, a D1 database or an R2 bucket."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ..errors import StorageError
from ..sqlite_connections import LockWait, connect

T = TypeVar("T")


class Database:
    """One SQLite connection, usable from any thread, one call at a time.

    ``path`` None is a private in-memory database. On disk the file is in WAL mode, so several
    processes can share it; ``durable`` trades speed for surviving power loss
    (``synchronous=FULL``). Bindings (``on_loop``) do their work through :meth:`run`, which never
    lets another process's lock freeze the event loop; commands use ``conn`` directly and wait.
    """

    def __init__(self, path: Path | None, *, durable: bool = False, on_loop: bool = False) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._setups: list[Callable[[sqlite3.Connection], object]] = [_foreign_keys]
        try:
            connection = connect(path, durable=durable, wait_for_locks=not on_loop)
            _foreign_keys(connection)
        except (OSError, sqlite3.Error) as e:
            raise StorageError(
                f"cannot open the local database {path}: {e} (expected a writable SQLite file; "
                f"check the persist directory)"
            ) from None
        opener = None if path is None else lambda: self._prepared(connect(path, durable=durable))
        self._gate = LockWait(connection, opener, self.lock)

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection to use here: the event loop's, or (in :meth:`run`'s waiting thread) its own."""
        return self._gate.connection

    def on_connect(self, setup: Callable[[sqlite3.Connection], object]) -> None:
        """Apply ``setup`` to the connection now and to any other this database opens later."""
        self._setups.append(setup)
        setup(self.conn)

    def _prepared(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        for setup in self._setups:
            setup(connection)
        return connection

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(conn)`` from the event loop (see :class:`~workerlab.sqlite_connections.LockWait`)."""
        return await self._gate.run(lambda: work(self.conn))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taken at once, so concurrent writers queue instead of failing)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self.lock:
            self._gate.close()
            self.conn.close()


def _foreign_keys(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA foreign_keys=ON")
