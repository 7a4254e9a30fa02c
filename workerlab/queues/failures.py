"""Where a message goes once it has failed all its attempts: the consumer's dead-letter queue, or
the capped list of dropped messages kept to inspect. Both run inside the caller's transaction and
keep the counters of :mod:`.state` in step."""

from __future__ import annotations

import sqlite3

from .. import limits
from . import state


def move_to_dead_letters(
    db: sqlite3.Connection, dlq: str, now_ms: int, seq: int, *, owner: str | None = None
) -> bool:
    """Move the row ``seq`` (leased to ``owner``; None: not leased) to the queue ``dlq``, ready
    at ``now_ms`` with its attempts reset, inside the caller's transaction; whether it was there."""
    found = db.execute(
        "SELECT queue, length(body) FROM messages WHERE seq = ? AND owner IS ?", (seq, owner)
    ).fetchone()
    if found is None:
        return False
    db.execute(
        "UPDATE messages SET queue = ?, ready_ms = ?, attempts = 0, owner = NULL, lease_ms = NULL"
        " WHERE seq = ?",
        (dlq, now_ms, seq),
    )
    queue, size = found
    state.bump(db, queue, count=-1, size=-size, dead_lettered=1)
    state.bump(db, dlq, count=1, size=size)
    return True


def drop(db: sqlite3.Connection, queue: str, seq: int, *, owner: str | None = None) -> bool:
    """Remove the row ``seq`` (leased to ``owner``; None: not leased) into the capped list of
    dropped messages of ``queue``, inside the caller's transaction; whether it was there."""
    removed = db.execute(
        "DELETE FROM messages WHERE seq = ? AND owner IS ?"
        " RETURNING queue, id, timestamp_ms, content_type, body, attempts",
        (seq, owner),
    ).fetchone()
    if removed is None:
        return False
    db.execute(
        "INSERT INTO dropped (queue, id, timestamp_ms, content_type, body, attempts)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        removed,
    )
    db.execute(
        "DELETE FROM dropped WHERE queue = ?1 AND seq <= ("
        " SELECT seq FROM dropped WHERE queue = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        (queue, limits.MAX_DROPPED_KEPT),
    )
    state.bump(db, queue, count=-1, size=-len(removed[4]), dropped=1)
    return True
