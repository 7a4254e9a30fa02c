"""What one does to a queue from outside: pause, resume, purge, redrive, and expiring old messages.

Plain functions over a :class:`~.store.QueueStore`, shared by `workerlab queues`, the HTTP API
and the inspector; from the event loop call them through ``await store.run(admin.pause, store,
queue)``. Each writes in transactions of at most ``CHUNK_MESSAGES`` rows, so that purging a
million messages never holds the database away from the other processes for long. They act
on the shared store, so a `workerlab dev` on the same persist directory sees them within its
poll interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import QueueError
from . import state

if TYPE_CHECKING:
    from .store import QueueStore

#: Most rows one transaction of a purge, redrive or expiry changes.
CHUNK_MESSAGES = 10_000

_PURGE_WAITING = """
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages WHERE queue = ?1 AND owner IS NULL AND seq <= ?2 LIMIT ?3
) RETURNING length(body)
"""
_PURGE_LEASED = """
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages WHERE queue = ?1 AND owner IS NOT NULL AND seq <= ?2 LIMIT ?3
) RETURNING length(body)
"""
_REDRIVE = """
UPDATE messages SET queue = ?1, attempts = 0, ready_ms = ?3, lease_ms = NULL
WHERE seq IN (
    SELECT seq FROM messages
    WHERE queue = ?2 AND owner IS NULL AND (lease_ms IS NULL OR lease_ms <= ?3)
    ORDER BY ready_ms, seq LIMIT ?4
) RETURNING length(body)
"""
_EXPIRE = """
DELETE FROM messages WHERE seq IN (
    SELECT seq FROM messages
    WHERE queue = ?1 AND owner IS NULL AND ready_ms < ?2 AND timestamp_ms < ?2 LIMIT ?3
) RETURNING length(body)
"""


def pause(store: QueueStore, queue: str) -> bool:
    """Stop delivering ``queue`` (sends are still accepted and kept); whether it was running."""
    return store.set_paused(queue, True)


def resume(store: QueueStore, queue: str) -> bool:
    """Deliver ``queue`` again; whether it was paused."""
    return store.set_paused(queue, False)


def purge(store: QueueStore, queue: str) -> int:
    """Delete every message ``queue`` holds now (ready, delayed, pulled or in flight; a batch in
    flight may still finish); return how many. Messages sent meanwhile are kept."""
    (last_seq,) = store.connection.execute("SELECT coalesce(max(seq), 0) FROM messages").fetchone()
    total = 0
    for statement in (_PURGE_WAITING, _PURGE_LEASED):
        while (removed := _chunk(store, statement, queue, (queue, last_seq, CHUNK_MESSAGES))) > 0:
            total += removed
    store.changed()
    return total


def redrive(store: QueueStore, dlq: str, to: str, now_ms: int, *, limit: int | None = None) -> int:
    """Move up to ``limit`` (None: all) messages of the dead-letter queue ``dlq`` back to ``to``,
    oldest first, with the same ids and timestamps and their attempts restarting at 1; return how
    many moved. Messages of ``dlq`` pulled and still leased stay."""
    if dlq == to:
        raise QueueError(f'redrive: the target queue must differ from "{dlq}" itself', code="queue-redrive")
    if limit is not None and limit < 0:
        raise QueueError(f"redrive: --limit must be 0 or more, got {limit}", code="queue-redrive")
    moved = 0
    while limit is None or moved < limit:
        size = CHUNK_MESSAGES if limit is None else min(CHUNK_MESSAGES, limit - moved)
        db = store.connection
        with store.transaction():
            rows = db.execute(_REDRIVE, (to, dlq, now_ms, size)).fetchall()
            bytes_moved = sum(length for (length,) in rows)
            state.bump(db, dlq, count=-len(rows), size=-bytes_moved)
            state.bump(db, to, count=len(rows), size=bytes_moved)
        moved += len(rows)
        if len(rows) < size:
            break
    store.changed()
    return moved


def expire(
    store: QueueStore, queue: str, now_ms: int, retention_s: int, *, limit: int = CHUNK_MESSAGES
) -> int:
    """Remove up to ``limit`` waiting messages of ``queue`` sent more than ``retention_s`` ago (and
    due before then: the index finds them without reading the rest), counted as expired; return
    how many. A message delayed past its retention is caught when it comes due instead."""
    cutoff_ms = now_ms - retention_s * 1000
    with store.transaction():
        db = store.connection
        rows = db.execute(_EXPIRE, (queue, cutoff_ms, limit)).fetchall()
        state.bump(db, queue, count=-len(rows), size=-sum(n for (n,) in rows), expired=len(rows))
    return len(rows)


def _chunk(store: QueueStore, statement: str, queue: str, params: tuple[object, ...]) -> int:
    """Run one deleting ``statement`` in a transaction and count what left ``queue``."""
    db = store.connection
    with store.transaction():
        rows = db.execute(statement, params).fetchall()
        state.bump(db, queue, count=-len(rows), size=-sum(n for (n,) in rows))
    return len(rows)
