"""The durable message store: one SQLite database (WAL) shared by every process on a persist directory.

A row is a message waiting in a queue: ready (``ready_ms`` reached), delayed, or leased to
one process (``owner``) while a batch of it is in flight. Claiming a batch leases it and
counts the delivery in the same transaction, so a crash mid-batch still counts it; rows of
a dead owner go back to the queue (see :mod:`.leases`). Nothing of the backlog is held in
memory: the broker asks the store each time.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .. import limits
from ..errors import StorageError
from ..sqlite_connections import LockWait, connect

T = TypeVar("T")

#: The database file under a persist directory.
STORE_FILE_NAME = "queues.sqlite3"
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    ready_ms INTEGER NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS messages_waiting ON messages (queue, ready_ms) WHERE owner IS NULL;
CREATE TABLE IF NOT EXISTS dropped (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dropped_by_queue ON dropped (queue, seq);
CREATE TABLE IF NOT EXISTS owners (
    owner TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
"""

_CLAIM = """
UPDATE messages SET owner = ?1, attempts = attempts + 1
WHERE seq IN (
    SELECT seq FROM messages WHERE queue = ?2 AND owner IS NULL AND ready_ms <= ?3
    ORDER BY ready_ms, seq LIMIT ?4
)
RETURNING ready_ms, seq, id, timestamp_ms, content_type, body, attempts
"""
_WAITING_AT = (
    "SELECT ready_ms FROM messages WHERE queue = ? AND owner IS NULL ORDER BY ready_ms, seq LIMIT 1 OFFSET ?"
)


class StoredMessage(NamedTuple):
    """A message row; ``attempts`` counts the deliveries started so far (this one included once claimed).

    Fields start with the delivery order (ready_ms, seq) so that rows sort as they are delivered."""

    ready_ms: int
    seq: int
    id: str
    timestamp_ms: int
    content_type: str
    body: bytes
    attempts: int


class Owner(NamedTuple):
    """A process that may hold leases, with the last time it proved alive."""

    owner: str
    host: str
    pid: int
    heartbeat_ms: int


class QueueStore:
    """Messages of every queue, in one SQLite database (a file in WAL mode, or memory for tests)."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None, durable: bool) -> None:
        self.path = path
        self.durable = durable
        opener = None if path is None else lambda: connect(path, durable=durable)
        self._gate = LockWait(connection, opener)

    @property
    def _db(self) -> sqlite3.Connection:
        # The event loop's connection, or, in run()'s waiting thread, that thread's own.
        return self._gate.connection

    @classmethod
    def open(cls, path: Path | None, *, durable: bool = False, on_loop: bool = False) -> QueueStore:
        """Open (creating if needed) the store at ``path``: the database file, or a persist directory
        holding ``queues.sqlite3``; None keeps it in memory. ``durable`` syncs every commit to disk
        (synchronous=FULL, survives power loss); the default (NORMAL) survives a process crash.
        A store the event loop uses (``on_loop``) writes through :meth:`run`."""
        if path is not None:
            path = Path(path)
            if path.is_dir() or not path.suffix:
                path = path / STORE_FILE_NAME
            path.parent.mkdir(parents=True, exist_ok=True)
        connection: sqlite3.Connection | None = None
        try:
            connection = connect(path, durable=durable)
            with _transaction(connection):
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version > _SCHEMA_VERSION:
                    connection.close()
                    raise StorageError(
                        f"{path}: queue store schema version {version} is newer than this workerlab "
                        f"understands ({_SCHEMA_VERSION}); use the same workerlab version for every process",
                        code="queue-store-version",
                    )
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            if connection is not None:
                connection.close()
            raise StorageError(
                f"{path}: cannot open the queue store ({error}); expected a workerlab queue database "
                "(delete the file to start with empty queues)",
                code="queue-store",
            ) from None
        if on_loop:
            connection.execute("PRAGMA busy_timeout = 0")
        return cls(connection, path, durable)

    def close(self) -> None:
        """Close the database (committed data stays on disk)."""
        self._gate.close()
        self._db.close()

    async def run(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` from the event loop, waiting off the loop if another process
        holds the database (see :class:`~workerlab.sqlite_connections.LockWait`)."""
        return await self._gate.run(lambda: method(*args, **kwargs))

    @property
    def shared(self) -> bool:
        """True when other processes may use the same database (a file, not memory)."""
        return self.path is not None

    # --- producing -------------------------------------------------------------------------

    def insert(self, queue: str, rows: Sequence[tuple[str, int, str, bytes, int]]) -> None:
        """Append rows ``(id, timestamp_ms, content_type, body, ready_ms)`` to ``queue`` atomically."""
        params: list[object] = [queue]
        for row in rows:
            params += row
        db = self._db
        with _transaction(db):
            db.execute(_insert_statement(len(rows)), params)

    # --- consuming -------------------------------------------------------------------------

    def waiting_ready_ms(self, queue: str, index: int) -> int | None:
        """``ready_ms`` of the ``index``-th (0-based) unleased message of ``queue`` in delivery order."""
        row = self._db.execute(_WAITING_AT, (queue, index)).fetchone()
        return None if row is None else row[0]

    def claim(self, queue: str, owner: str, now_ms: int, limit: int) -> list[StoredMessage]:
        """Lease up to ``limit`` ready messages of ``queue`` to ``owner``, oldest first, counting the
        delivery in the same transaction."""
        db = self._db
        with _transaction(db):
            rows = db.execute(_CLAIM, (owner, queue, now_ms, limit)).fetchall()
        rows.sort()
        return list(map(StoredMessage._make, rows))

    def settle(
        self,
        owner: str,
        *,
        acked: Sequence[int] = (),
        retried: Iterable[tuple[int, int]] = (),
        dead_lettered: Iterable[tuple[str, int, int]] = (),
        dropped: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Apply a batch's outcome in one transaction: delete ``acked`` seqs; put ``retried``
        ``(ready_ms, seq)`` back in their queue; move ``dead_lettered`` ``(dlq, now_ms, seq)`` to the
        dead-letter queue with attempts reset; remove ``dropped`` ``(queue, seq)`` into the capped
        dropped list. Rows no longer leased to ``owner`` are left alone."""
        db = self._db
        with _transaction(db):
            if acked:
                db.execute(
                    "DELETE FROM messages WHERE owner = ? AND seq IN (SELECT value FROM json_each(?))",
                    (owner, _json_list(acked)),
                )
            db.executemany(
                "UPDATE messages SET ready_ms = ?, owner = NULL WHERE seq = ? AND owner = ?",
                [(*r, owner) for r in retried],
            )
            db.executemany(
                "UPDATE messages SET queue = ?, ready_ms = ?, attempts = 0, owner = NULL"
                " WHERE seq = ? AND owner = ?",
                [(*d, owner) for d in dead_lettered],
            )
            if dropped:
                self._drop(owner, dropped)

    def _drop(self, owner: str, dropped: Sequence[tuple[str, int]]) -> None:
        db = self._db
        db.executemany(
            "INSERT INTO dropped (queue, id, timestamp_ms, content_type, body, attempts)"
            " SELECT queue, id, timestamp_ms, content_type, body, attempts FROM messages"
            " WHERE seq = ? AND owner = ?",
            [(seq, owner) for _, seq in dropped],
        )
        db.executemany(
            "DELETE FROM messages WHERE seq = ? AND owner = ?", [(seq, owner) for _, seq in dropped]
        )
        for queue in {queue for queue, _ in dropped}:
            db.execute(
                "DELETE FROM dropped WHERE queue = ?1 AND seq <= ("
                " SELECT seq FROM dropped WHERE queue = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                (queue, limits.MAX_DROPPED_KEPT),
            )

    def release(self, owner: str, seqs: Iterable[int]) -> None:
        """Give the rows ``seqs`` leased by ``owner`` back to their queues."""
        with _transaction(self._db):
            self._db.executemany(
                "UPDATE messages SET owner = NULL WHERE seq = ? AND owner = ?", [(s, owner) for s in seqs]
            )

    # --- owners and their leases -----------------------------------------------------------

    def register_owner(self, owner: Owner) -> None:
        """Record (or refresh) ``owner`` as alive."""
        with _transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO owners VALUES (?, ?, ?, ?)", owner)

    def owners(self) -> list[Owner]:
        return [Owner(*row) for row in self._db.execute("SELECT owner, host, pid, heartbeat_ms FROM owners")]

    def remove_owners(self, owners: Sequence[str]) -> int:
        """Forget ``owners`` and give every row they leased back to its queue; return the rows released."""
        if not owners:
            return 0
        db = self._db
        marks = ",".join("?" * len(owners))
        with _transaction(db):
            released = db.execute(
                f"UPDATE messages SET owner = NULL WHERE owner IN ({marks})", owners
            ).rowcount
            db.execute(f"DELETE FROM owners WHERE owner IN ({marks})", owners)
        return released

    # --- reading ---------------------------------------------------------------------------

    def data_version(self) -> int:
        """A number that changes whenever another connection commits (cheap to poll)."""
        version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        return version

    def pending(self, queue: str, limit: int = -1) -> list[StoredMessage]:
        """The messages of ``queue`` not yet acked (ready, delayed or in flight), in delivery order;
        the first ``limit`` of them when a limit is given."""
        rows = self._db.execute(
            "SELECT ready_ms, seq, id, timestamp_ms, content_type, body, attempts FROM messages"
            " WHERE queue = ? ORDER BY ready_ms, seq LIMIT ?",
            (queue, limit),
        ).fetchall()
        return list(map(StoredMessage._make, rows))

    def queues(self) -> list[str]:
        """Every queue that holds a pending or a dropped message."""
        rows = self._db.execute("SELECT queue FROM messages UNION SELECT queue FROM dropped ORDER BY 1")
        return [name for (name,) in rows]

    def counts(self, queue: str, now_ms: int) -> tuple[int, int, int, int]:
        """``(pending, delayed, in flight, dropped)`` message counts of ``queue``."""
        pending, delayed, in_flight = self._db.execute(
            "SELECT count(*), count(*) FILTER (WHERE owner IS NULL AND ready_ms > ?),"
            " count(owner) FROM messages WHERE queue = ?",
            (now_ms, queue),
        ).fetchone()
        dropped = self._db.execute("SELECT count(*) FROM dropped WHERE queue = ?", (queue,)).fetchone()[0]
        return pending, delayed, in_flight, dropped

    def count(self, queue: str | None = None) -> int:
        """Messages not yet acked, in ``queue`` or in all queues."""
        if queue is None:
            row = self._db.execute("SELECT count(*) FROM messages").fetchone()
        else:
            row = self._db.execute("SELECT count(*) FROM messages WHERE queue = ?", (queue,)).fetchone()
        total: int = row[0]
        return total

    def dropped(self, queue: str) -> list[StoredMessage]:
        """The last ``MAX_DROPPED_KEPT`` messages dropped from ``queue`` (failed, no dead-letter queue)."""
        rows = self._db.execute(
            "SELECT 0, seq, id, timestamp_ms, content_type, body, attempts FROM dropped"
            " WHERE queue = ? ORDER BY seq",
            (queue,),
        ).fetchall()
        return list(map(StoredMessage._make, rows))


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error): writers queue up instead of failing."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


@functools.lru_cache(maxsize=limits.MAX_SEND_BATCH_MESSAGES)
def _insert_statement(count: int) -> str:
    # One multi-row INSERT costs less than executemany's statement per row.
    values = ",".join(["(?1, ?, ?, ?, ?, ?)"] * count)
    return f"INSERT INTO messages (queue, id, timestamp_ms, content_type, body, ready_ms) VALUES {values}"


def _json_list(numbers: Sequence[int]) -> str:
    # One statement over a JSON array costs less than one statement per row.
    return "[" + ",".join(map(str, numbers)) + "]"
