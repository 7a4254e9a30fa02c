"""What the queues of a store hold, as `workerlab queues` and the inspector show it.

:func:`summarize` counts a queue without reading all of it (the backlog's size is kept by the
store; only the delayed, in-flight and expired messages are counted row by row) and
:func:`page` lists its messages a page at a time along an index, so both stay quick with a
million messages queued. The actions (pause, resume, purge, redrive) are in :mod:`.admin`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .. import limits
from ..bindings import queue as queue_bindings
from ..clock import Clock, SystemClock, utc_from_ms
from ..config import QueueConsumer, WorkerConfig
from .broker import MessageRecord, stored_record
from .codec import decode_body
from .store import QueueStore

MessageState = Literal["ready", "delayed", "pulled", "expired"]

#: Up to this many messages, a summary classifies every message exactly (about 1 ms); beyond, it
#: reads only index ranges (see :func:`summarize`).
EXACT_SUMMARY_MAX_MESSAGES = 10_000

# Every waiting row of the queue, classified (row by row: small queues only).
_WAITING_COUNTS = """
SELECT
    count(*),
    count(*) FILTER (WHERE timestamp_ms < ?3),
    count(*) FILTER (WHERE timestamp_ms >= ?3 AND ready_ms > ?2 AND lease_ms > ?2),
    count(*) FILTER (WHERE timestamp_ms >= ?3 AND ready_ms > ?2 AND (lease_ms IS NULL OR lease_ms <= ?2))
FROM messages WHERE queue = ?1 AND owner IS NULL
"""
# The waiting rows of a large queue, counted from the index alone: all of them, those due before
# the retention cutoff, those due after now.
_WAITING = "SELECT count(*) FROM messages WHERE queue = ? AND owner IS NULL"
_DUE_BEFORE = "SELECT count(*) FROM messages WHERE queue = ? AND owner IS NULL AND ready_ms < ?"
_DUE_AFTER = "SELECT count(*) FROM messages WHERE queue = ? AND owner IS NULL AND ready_ms > ?"
_ROW = "seq, id, timestamp_ms, content_type, body, attempts, ready_ms, lease_ms, source"
_PAGE_WAITING = f"""
SELECT {_ROW} FROM messages
WHERE queue = ?1 AND owner IS NULL AND (ready_ms > ?2 OR (ready_ms = ?2 AND seq > ?3))
ORDER BY ready_ms, seq LIMIT ?4
"""


@dataclass(frozen=True)
class QueueSummary:
    """The counts of one queue. ``pending`` is every message not yet acked (``ready`` + ``delayed``
    + ``in_flight``), past-retention ones left out: they count as ``expired``."""

    queue: str
    pending: int
    delayed: int
    #: Pushed to a Worker consumer and not yet settled, or pulled with the lease still running.
    in_flight: int
    dropped: int
    ready: int = 0
    dead_lettered: int = 0
    expired: int = 0
    paused: bool = False
    backlog_bytes: int = 0


@dataclass(frozen=True)
class QueuedMessage:
    """One message of a queue as :func:`page` lists it."""

    id: str
    body: Any
    attempts: int
    timestamp: datetime
    content_type: str
    state: MessageState
    #: When it is (next) handed to a consumer: its delay's or retry's end, or its lease's end when
    #: pulled.
    next_delivery: datetime
    size_bytes: int
    #: ``"worker"`` (a producer binding) or ``"api"`` (published over HTTP).
    source: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; a body JSON cannot carry is base64 (bytes) or its repr (anything else),
        as ``body_encoding`` says."""
        body, encoding = _jsonable_body(self.body)
        document: dict[str, Any] = {
            "id": self.id,
            "attempts": self.attempts,
            "timestamp": self.timestamp.isoformat(),
            "content_type": self.content_type,
            "state": self.state,
            "next_delivery": self.next_delivery.isoformat(),
            "size_bytes": self.size_bytes,
            "source": self.source,
            "body": body,
        }
        if encoding is not None:
            document["body_encoding"] = encoding
        return document


def queue_names(config: WorkerConfig, store: QueueStore) -> list[str]:
    """The config's queues (producers, consumers, dead-letter queues), then any other the store holds."""
    return list(dict.fromkeys([*queue_bindings.queue_names(config), *store.queues()]))


def retention_s(consumers: Iterable[QueueConsumer], queue: str) -> int:
    """The ``message_retention_period`` of the consumer of ``queue`` among ``consumers`` (Cloudflare's
    default when none of them consumes it)."""
    for consumer in consumers:
        if consumer.queue == queue:
            return consumer.message_retention_period_s
    return limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S


def summarize(
    store: QueueStore,
    queue: str,
    clock: Clock,
    *,
    retention_s: int = limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S,
) -> QueueSummary:
    """The counts of ``queue`` now, messages older than ``retention_s`` (the consumer's
    ``message_retention_period``) counted as expired whether or not they were removed yet.

    Up to ``EXACT_SUMMARY_MAX_MESSAGES`` messages every one is classified. A larger queue is
    counted from the index alone (about 0.1 s for a million messages): pulled messages count as
    delayed, and a message counts as expired once due before the retention cutoff (one delayed
    past its retention is counted when it is removed, as it comes due).
    """
    now_ms = clock.now_ms()
    cutoff_ms = now_ms - retention_s * 1000
    db = store.connection
    state = store.state(queue)
    if state.backlog_count <= EXACT_SUMMARY_MAX_MESSAGES:
        counts = db.execute(_WAITING_COUNTS, (queue, now_ms, cutoff_ms)).fetchone()
        waiting, unremoved, pulled, delayed = counts
    else:
        (waiting,) = db.execute(_WAITING, (queue,)).fetchone()
        (unremoved,) = db.execute(_DUE_BEFORE, (queue, cutoff_ms)).fetchone()
        (delayed,) = db.execute(_DUE_AFTER, (queue, now_ms)).fetchone()
        pulled = 0
    pending = max(0, state.backlog_count - unremoved)
    # What is not waiting is leased for a pushed batch (the rows in flight are not indexed).
    in_flight = max(0, state.backlog_count - waiting) + pulled
    return QueueSummary(
        queue=queue,
        pending=pending,
        delayed=delayed,
        in_flight=in_flight,
        dropped=state.dropped,
        ready=max(0, pending - delayed - in_flight),
        dead_lettered=state.dead_lettered,
        expired=state.expired + unremoved,
        paused=state.paused,
        backlog_bytes=state.backlog_bytes,
    )


def page(
    store: QueueStore,
    queue: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int | None = None,
    retention_s: int = limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S,
) -> tuple[list[QueuedMessage], str | None]:
    """Up to ``limit`` messages of ``queue`` from ``cursor`` (None: the start), and the cursor of
    the next page (None: this was the last), in the order they will be delivered: ready, delayed,
    pulled (until their lease ends) and expired ones not yet removed. Messages a Worker consumer
    holds right now are not listed (they are counted: :func:`summarize`'s ``in_flight``). Each
    page is one indexed range read, so a page is as quick at the end of a million messages as at
    the start; a cursor stays valid while the queue changes (a message that moves may be listed
    twice or not at all, as with any live list).
    """
    if limit < 1:
        raise ValueError(f"page(): limit must be 1 or more, got {limit}")
    now_ms = SystemClock().now_ms() if now_ms is None else now_ms
    cutoff_ms = now_ms - retention_s * 1000
    ready_ms, seq = _parse_cursor(cursor)
    rows = store.connection.execute(_PAGE_WAITING, (queue, ready_ms, seq, limit + 1)).fetchall()
    records = [_queued(row, now_ms, cutoff_ms) for row in rows[:limit]]
    if len(rows) <= limit:
        return records, None
    last = rows[limit - 1]
    return records, f"w:{last[6]}:{last[0]}"


def first_pending(store: QueueStore, queue: str, limit: int) -> list[MessageRecord]:
    """The next ``limit`` messages ``queue`` will deliver, decoded."""
    return [stored_record(row) for row in store.pending(queue, limit)]


def last_dropped(store: QueueStore, queue: str, limit: int) -> list[MessageRecord]:
    """The last ``limit`` messages dropped from ``queue``, oldest first."""
    return [stored_record(row) for row in store.dropped(queue)[-limit:]] if limit > 0 else []


#: The keys of :func:`record_json`, in its order.
RECORD_KEYS = ("id", "attempts", "timestamp", "body")


def record_json(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "attempts": record.attempts,
        "timestamp": record.timestamp.isoformat(),
        "body": record.body,
    }


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    """``(ready_ms, seq)`` after which a page starts; a ValueError for what no page gave out."""
    if cursor is None or cursor == "":
        return -(2**62), -1
    phase, _, rest = cursor.partition(":")
    ready_ms, _, seq = rest.partition(":")
    if phase == "w":
        try:
            return int(ready_ms), int(seq)
        except ValueError:
            pass
    raise ValueError(f"page(): {cursor!r} is not a cursor a page of messages gave out")


def _queued(row: tuple[Any, ...], now_ms: int, cutoff_ms: int) -> QueuedMessage:
    _, message_id, timestamp_ms, content_type, data, attempts, ready_ms, lease_ms, source = row
    try:
        body = decode_body(data, content_type)
    except ValueError:
        body = bytes(data)
    state: MessageState
    if timestamp_ms < cutoff_ms:
        state = "expired"
    elif lease_ms is not None and lease_ms > now_ms:
        state = "pulled"
    else:
        state = "delayed" if ready_ms > now_ms else "ready"
    return QueuedMessage(
        id=message_id,
        body=body,
        attempts=attempts,
        timestamp=utc_from_ms(timestamp_ms),
        content_type=content_type,
        state=state,
        next_delivery=utc_from_ms(ready_ms),
        size_bytes=len(data),
        source=source or "worker",
    )


def _jsonable_body(body: Any) -> tuple[Any, str | None]:
    if isinstance(body, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(body)).decode("ascii"), "base64"
    if body is None or isinstance(body, str | int | float | bool):
        return body, None
    import json

    try:
        json.dumps(body, allow_nan=False)
    except (TypeError, ValueError):
        return repr(body), "repr"
    return body, None
