"""The durable message store: one SQLite database (WAL) shared by every process on a persist directory.

A row is a message waiting in a queue: ready (``ready_ms`` reached), delayed, pulled (its lease
runs until ``ready_ms``), or leased to one process (``owner``) while a pushed batch of it is in
flight. Claiming a batch leases it and counts the delivery in the same transaction, so a crash
mid-batch still counts it; rows of a dead owner go back to the queue (see :mod:`.leases`).
Nothing of the backlog is held in memory: the broker asks the store each time. The tables are
described in :mod:`.schema`; the counters every write keeps in step in :mod:`.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import operator
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .. import limits
from ..errors import StorageError
from ..sqlite_connections import BUSY_TIMEOUT_MS, LockWait, connect
from . import failures, state
from .open_errors import open_error
from .owed_counts import OwedCounts, repair
from .schema import SCHEMA_VERSION, create_or_upgrade

T = TypeVar("T")

#: The database file under a persist directory.
STORE_FILE_NAME = "queues.sqlite3"

#: The columns of a :class:`StoredMessage`, in the order of its fields.
MESSAGE_COLUMNS = "ready_ms, seq, id, timestamp_ms, content_type, body, attempts"
_CLAIM = f"""
UPDATE messages SET owner = ?1, attempts = attempts + 1
WHERE seq IN (
    SELECT seq FROM messages WHERE queue = ?2 AND owner IS NULL AND ready_ms <= ?3
    ORDER BY ready_ms, seq LIMIT ?4
)
RETURNING {MESSAGE_COLUMNS}
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


class Claim(NamedTuple):
    """A claimed batch: the rows to deliver, and the rows found expired instead (removed, counted)."""

    rows: list[StoredMessage]
    expired: list[StoredMessage]


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
        #: Changes each time this store pauses or resumes a queue (others' changes show in data_version).
        self.state_generation = 0
        self._listeners: list[Callable[[], None]] = []
        #: What inserts on the event loop owe the counters (None off the loop: inserts count at once).
        self._owed: OwedCounts | None = None

    #: The event loop's connection, or, in run()'s waiting thread, that thread's own (read without
    #: a Python frame of its own: every statement of the store asks for it).
    _db: sqlite3.Connection = property(operator.attrgetter("_gate.connection"))  # type: ignore[assignment]

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
        connection: sqlite3.Connection | None = None
        try:
            connection = connect(path, durable=durable)  # makes the folder too
            with _transaction(connection):
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"{path}: queue store schema version {version} is newer than this workerlab "
                        f"understands ({SCHEMA_VERSION}); use the same workerlab version for every process",
                        code="queue-store-version",
                    )
                if version < SCHEMA_VERSION:
                    create_or_upgrade(connection, version)
                repair(connection)  # the counts a crashed process left owing
        except (OSError, sqlite3.Error, StorageError) as error:
            if connection is not None:
                connection.close()
            if isinstance(error, StorageError):
                raise
            raise open_error(path, error) from None
        if on_loop:
            connection.execute("PRAGMA busy_timeout = 0")
        store = cls(connection, path, durable)
        if on_loop:
            with contextlib.suppress(RuntimeError):  # no loop runs: every insert counts at once
                store._owed = OwedCounts(asyncio.get_running_loop(), lambda: store._db, store.transaction)
        return store

    def close(self) -> None:
        """Close the database (committed data stays on disk), writing what inserts owe the counters."""
        if self._owed is not None:
            self._owed.close()
            if self._owed:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # closing: waiting is fine
                self._owed.write()
        self._gate.close()
        self._db.close()

    def run(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
        """``await store.run(method, *args, **kwargs)`` from the event loop (its only thread using the
        store's connection), waiting off the loop if another process holds the database (see
        :class:`~workerlab.sqlite_connections.LockWait`)."""
        if kwargs:
            return self._gate.run(functools.partial(method, *args, **kwargs))
        return self._gate.run(method, *args)

    @property
    def shared(self) -> bool:
        """True when other processes may use the same database (a file, not memory)."""
        return self.path is not None

    @property
    def connection(self) -> sqlite3.Connection:
        """The database connection, for the operations of :mod:`.admin`, :mod:`.pull` and friends:
        they write inside :meth:`transaction`."""
        return self._db

    def transaction(self) -> _transaction:
        """``with store.transaction():`` one ``BEGIN IMMEDIATE`` ... ``COMMIT`` (ROLLBACK on error)."""
        return _transaction(self._db)

    # --- producing -------------------------------------------------------------------------

    def insert(
        self, queue: str, rows: Sequence[tuple[str, int, str, bytes, int]], source: str | None = None
    ) -> None:
        """Append rows ``(id, timestamp_ms, content_type, body, ready_ms)`` to ``queue`` atomically;
        ``source`` says where they came from when not a Worker's producer binding (``"api"``)."""
        params: list[object] = [queue]
        size = 0
        for row in rows:
            params += row
            size += len(row[3])
        db = self._db
        owed = self._owing()
        with _transaction(db):
            if source is None:
                db.execute(_insert_statement(len(rows)), params)
            else:  # messages published over HTTP: not the hot path
                db.executemany(_INSERT_WITH_SOURCE, [(queue, *row, source) for row in rows])
            if owed is None:
                state.bump(db, queue, count=len(rows), size=size)
            else:
                owed.record(db)
        if owed is not None:
            owed.add(queue, len(rows), size)

    def _owing(self) -> OwedCounts | None:
        """The ledger a write made now owes its counts to (None: it counts them at once, as off the
        loop's thread, waiting for another process's lock)."""
        owed = self._owed
        return owed if owed is not None and owed.loop_thread == threading.get_ident() else None

    # --- consuming -------------------------------------------------------------------------

    def waiting_ready_ms(self, queue: str, index: int) -> int | None:
        """``ready_ms`` of the ``index``-th (0-based) unleased message of ``queue`` in delivery order."""
        row = self._db.execute(_WAITING_AT, (queue, index)).fetchone()
        return None if row is None else row[0]

    def claim(self, queue: str, owner: str, now_ms: int, limit: int) -> list[StoredMessage]:
        """Lease up to ``limit`` ready messages of ``queue`` to ``owner``, oldest first, counting the
        delivery in the same transaction."""
        return self.claim_batch(queue, owner, now_ms, limit).rows

    def claim_batch(
        self, queue: str, owner: str, now_ms: int, limit: int, *, expire_before_ms: int | None = None
    ) -> Claim:
        """:meth:`claim`, except that claimed messages sent before ``expire_before_ms`` are removed
        and counted as expired instead (all in one transaction)."""
        db = self._db
        with _transaction(db):
            rows = db.execute(_CLAIM, (owner, queue, now_ms, limit)).fetchall()
            rows.sort()  # plain tuples sort faster than the named ones made of them below
            stored = list(map(StoredMessage._make, rows))
            expired: list[StoredMessage] = []
            if expire_before_ms is not None and any(r.timestamp_ms < expire_before_ms for r in stored):
                expired = [r for r in stored if r.timestamp_ms < expire_before_ms]
                stored = [r for r in stored if r.timestamp_ms >= expire_before_ms]
                self.remove_expired(queue, [r.seq for r in expired])
        return Claim(stored, expired)

    def remove_expired(self, queue: str, seqs: Sequence[int]) -> int:
        """Remove the rows ``seqs`` of ``queue`` as expired, inside the caller's transaction."""
        removed = self._db.execute(
            "DELETE FROM messages WHERE queue = ? AND seq IN (SELECT value FROM json_each(?))"
            " RETURNING length(body)",
            (queue, json_list(seqs)),
        ).fetchall()
        state.bump(self._db, queue, count=-len(removed), size=-_total(removed), expired=len(removed))
        return len(removed)

    def remove_acked(self, queue: str, seqs: Iterable[int]) -> int:
        """Delete the unowned rows ``seqs`` of ``queue`` (acked pulled messages), inside the caller's
        transaction; return how many were there."""
        removed = self._db.execute(
            # "+queue": find the rows by their seq, not by scanning the queue's index.
            "DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))"
            " AND +queue = ? AND owner IS NULL RETURNING length(body)",
            (json_list(seqs), queue),
        ).fetchall()
        state.bump(self._db, queue, count=-len(removed), size=-_total(removed))
        return len(removed)

    def settle(
        self,
        owner: str,
        *,
        queue: str,
        acked: Sequence[int] = (),
        acked_bytes: int | None = None,
        retried: Iterable[tuple[int, int]] = (),
        dead_lettered: Iterable[tuple[str, int, int]] = (),
        dropped: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Apply the outcome of a batch of ``queue`` in one transaction: delete ``acked`` seqs (whose
        bodies hold ``acked_bytes`` in all, when the caller knows); put ``retried`` ``(ready_ms, seq)``
        back in the queue; move ``dead_lettered`` ``(dlq, now_ms, seq)`` to the dead-letter queue with
        attempts reset; remove ``dropped`` ``(queue, seq)`` into the capped dropped list. Rows no
        longer leased to ``owner`` are left alone (and their counters to whoever took them)."""
        db = self._db
        owed = self._owing()
        with _transaction(db):
            removed, size = self._remove_leased(owner, acked, acked_bytes) if acked else (0, 0)
            db.executemany(
                "UPDATE messages SET ready_ms = ?, owner = NULL WHERE seq = ? AND owner = ?",
                [(*r, owner) for r in retried],
            )
            for dlq, now_ms, seq in dead_lettered:
                failures.move_to_dead_letters(db, dlq, now_ms, seq, owner=owner)
            for dropped_queue, seq in dropped:
                failures.drop(db, dropped_queue, seq, owner=owner)
            if owed is None:
                state.bump(db, queue, count=-removed, size=-size)
            elif removed:
                owed.record(db)
        if owed is not None and removed:
            owed.add(queue, -removed, -size)

    def _remove_leased(self, owner: str, seqs: Sequence[int], size: int | None) -> tuple[int, int]:
        """Delete the rows ``seqs`` still leased to ``owner``; return how many went and their size.
        When the caller knows the ``size`` of them all (an acked batch), no row is read back unless
        some were gone already (purged or taken back meanwhile)."""
        db = self._db
        if size is not None:
            db.execute("SAVEPOINT acked")
            removed = db.execute(
                "DELETE FROM messages WHERE owner = ? AND seq IN (SELECT value FROM json_each(?))",
                (owner, json_list(seqs)),
            ).rowcount
            if removed == len(seqs):
                db.execute("RELEASE acked")
                return removed, size
            db.execute("ROLLBACK TO acked")  # not all there: delete them again, reading their sizes
            db.execute("RELEASE acked")
        rows = db.execute(
            "DELETE FROM messages WHERE owner = ? AND seq IN (SELECT value FROM json_each(?))"
            " RETURNING length(body)",
            (owner, json_list(seqs)),
        ).fetchall()
        return len(rows), _total(rows)

    def release(self, owner: str, seqs: Iterable[int]) -> None:
        """Give the rows ``seqs`` leased by ``owner`` back to their queues."""
        with _transaction(self._db):
            self._db.execute(
                "UPDATE messages SET owner = NULL"
                " WHERE owner = ? AND seq IN (SELECT value FROM json_each(?))",
                (owner, json_list(seqs)),
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
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE queue = ? ORDER BY ready_ms, seq LIMIT ?",
            (queue, limit),
        ).fetchall()
        return list(map(StoredMessage._make, rows))

    def row(self, seq: int) -> StoredMessage | None:
        """The message row ``seq``, if it is still stored."""
        found = self._db.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE seq = ?", (seq,)).fetchone()
        return None if found is None else StoredMessage._make(found)

    def queues(self) -> list[str]:
        """Every queue the store has held a message of, by name."""
        names = {
            name
            for (name,) in self._db.execute("SELECT queue FROM queue_state UNION SELECT queue FROM dropped")
        }
        if self._owed:  # a queue whose first messages are not counted yet
            names.update(self._owed.queues())
        return sorted(names)

    def state(self, queue: str) -> state.QueueState:
        """The pause flag and counters of ``queue``, with what this process's inserts owe them."""
        found = state.read_state(self._db, queue)
        if not self._owed:
            return found
        count, size = self._owed.owed(queue)
        return dataclasses.replace(
            found, backlog_count=found.backlog_count + count, backlog_bytes=found.backlog_bytes + size
        )

    def paused_queues(self) -> frozenset[str]:
        """The queues whose delivery is paused."""
        return state.paused_queues(self._db)

    def set_paused(self, queue: str, paused: bool) -> bool:
        """Pause or resume ``queue``; whether that changed anything."""
        with _transaction(self._db):
            changed = state.set_paused(self._db, queue, paused)
        self.state_generation += 1
        self.changed()
        return changed

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after :meth:`changed`: a broker delivering from this store looks again at
        once (changes made through another connection it sees in :meth:`data_version`)."""
        self._listeners.append(listener)

    def changed(self) -> None:
        """Tell the listeners that queues were changed from outside the delivery (a pause, a resume,
        a purge, a redrive)."""
        for listener in self._listeners:
            listener()

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


_INSERT_WITH_SOURCE = (
    "INSERT INTO messages (queue, id, timestamp_ms, content_type, body, ready_ms, source)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def json_list(numbers: Iterable[int]) -> str:
    """``numbers`` as a JSON array, for ``IN (SELECT value FROM json_each(?))``."""
    # One statement over a JSON array costs less than one statement per row.
    return "[" + ",".join(map(str, numbers)) + "]"


def _total(rows: Iterable[Sequence[Any]]) -> int:
    """The sum of the last column of ``rows`` (the byte sizes a RETURNING clause gave)."""
    return sum(row[-1] for row in rows)
