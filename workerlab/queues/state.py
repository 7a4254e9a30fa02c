"""Per-queue state kept beside the messages: paused or not, and counters kept in step with them.

Every write that adds or removes messages updates the counters of their queue in the same
transaction (:func:`bump`), so the backlog's size is known without counting rows, also across
processes and crashes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_BUMP = """
INSERT INTO queue_state (queue, backlog_count, backlog_bytes, expired, dead_lettered, dropped)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (queue) DO UPDATE SET
    backlog_count = backlog_count + excluded.backlog_count,
    backlog_bytes = backlog_bytes + excluded.backlog_bytes,
    expired = expired + excluded.expired,
    dead_lettered = dead_lettered + excluded.dead_lettered,
    dropped = dropped + excluded.dropped
"""


@dataclass(frozen=True)
class QueueState:
    """What ``queue_state`` says of one queue (zeros for a queue it has never seen)."""

    paused: bool = False
    #: Messages not yet acked: ready, delayed, leased or in flight.
    backlog_count: int = 0
    #: Their bodies' size in bytes, as stored.
    backlog_bytes: int = 0
    #: Removed without delivery, older than the retention period.
    expired: int = 0
    #: Moved from this queue to its dead-letter queue.
    dead_lettered: int = 0
    #: Failed every attempt with no dead-letter queue (the last ones are kept to inspect).
    dropped: int = 0


def bump(
    db: sqlite3.Connection,
    queue: str,
    *,
    count: int = 0,
    size: int = 0,
    expired: int = 0,
    dead_lettered: int = 0,
    dropped: int = 0,
) -> None:
    """Add to the counters of ``queue`` (negative ``count`` / ``size`` when messages leave it)."""
    if count or size or expired or dead_lettered or dropped:
        db.execute(_BUMP, (queue, count, size, expired, dead_lettered, dropped))


def read_state(db: sqlite3.Connection, queue: str) -> QueueState:
    row = db.execute(
        "SELECT paused, backlog_count, backlog_bytes, expired, dead_lettered, dropped"
        " FROM queue_state WHERE queue = ?",
        (queue,),
    ).fetchone()
    if row is None:
        return QueueState()
    return QueueState(bool(row[0]), *row[1:])


def recount_all(db: sqlite3.Connection) -> None:
    """Set the backlog counters of every queue from its rows (a full read of them: rare paths only)."""
    db.execute("UPDATE queue_state SET backlog_count = 0, backlog_bytes = 0")
    db.execute(
        "INSERT INTO queue_state (queue, backlog_count, backlog_bytes)"
        " SELECT queue, count(*), total(length(body)) FROM messages WHERE true GROUP BY queue"
        " ON CONFLICT (queue) DO UPDATE"
        " SET backlog_count = excluded.backlog_count, backlog_bytes = excluded.backlog_bytes"
    )


def set_paused(db: sqlite3.Connection, queue: str, paused: bool) -> bool:
    """Pause or resume ``queue`` (inside the caller's transaction); whether that changed anything."""
    if read_state(db, queue).paused == paused:
        return False
    db.execute(
        "INSERT INTO queue_state (queue, paused) VALUES (?1, ?2)"
        " ON CONFLICT (queue) DO UPDATE SET paused = ?2",
        (queue, int(paused)),
    )
    return True


def paused_queues(db: sqlite3.Connection) -> frozenset[str]:
    return frozenset(name for (name,) in db.execute("SELECT queue FROM queue_state WHERE paused"))
