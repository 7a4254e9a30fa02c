"""A queue's backlog metrics: ``env.Q.metrics()``, ``batch.metadata.metrics`` and the HTTP API's.

Cloudflare calls them best-effort. The count and size of the backlog are exact here (kept in
step by every write, see :mod:`.state`); the oldest message's timestamp is exact for a backlog
of up to ``EXACT_OLDEST_MAX_MESSAGES`` and, beyond that, the oldest among the next messages to
be delivered and those in flight, so that asking never reads the whole backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import utc_from_ms
from ..compat.jsvalues import JsObject

if TYPE_CHECKING:
    from .store import QueueStore

#: Largest backlog whose oldest message is found exactly (a scan of its rows: about 0.1 ms).
EXACT_OLDEST_MAX_MESSAGES = 1_000
#: Beyond that, how many of the next messages to deliver are looked at.
OLDEST_SAMPLE_MESSAGES = 1_000

_OLDEST_EXACT = """
SELECT min(t) FROM (
    SELECT min(timestamp_ms) AS t FROM messages WHERE queue = ?1 AND owner IS NULL
    UNION ALL
    SELECT min(timestamp_ms) FROM messages WHERE queue = ?1 AND owner IS NOT NULL
)
"""
_OLDEST_SAMPLED = """
SELECT min(t) FROM (
    SELECT min(timestamp_ms) AS t FROM (
        SELECT timestamp_ms FROM messages WHERE queue = ?1 AND owner IS NULL ORDER BY ready_ms, seq LIMIT ?2
    )
    UNION ALL
    SELECT min(timestamp_ms) FROM messages WHERE queue = ?1 AND owner IS NOT NULL
)
"""


@dataclass(frozen=True)
class QueueMetrics:
    """How much a queue holds: messages not yet acked, their size, and when the oldest was sent."""

    backlog_count: int
    backlog_bytes: int
    #: Epoch ms of the oldest message's send; None when the queue is empty.
    oldest_ms: int | None

    def for_worker(self) -> JsObject:
        """As a Worker sees it: ``{backlogCount, backlogBytes, oldestMessageTimestamp?}`` (a datetime,
        absent when the queue is empty, as Cloudflare leaves it undefined)."""
        metrics: dict[str, Any] = {"backlogCount": self.backlog_count, "backlogBytes": self.backlog_bytes}
        if self.oldest_ms is not None:
            metrics["oldestMessageTimestamp"] = utc_from_ms(self.oldest_ms)
        return JsObject(metrics)

    def for_api(self) -> dict[str, int]:
        """As Cloudflare's REST API shows it (``oldest_message_timestamp_ms`` 0 when unknown)."""
        return {
            "backlog_count": self.backlog_count,
            "backlog_bytes": self.backlog_bytes,
            "oldest_message_timestamp_ms": self.oldest_ms or 0,
        }


def queue_metrics(store: QueueStore, queue: str) -> QueueMetrics:
    """The metrics of ``queue`` as the store has them now (reads only)."""
    state = store.state(queue)
    count = state.backlog_count
    if count <= 0:
        return QueueMetrics(0, 0, None)
    db = store.connection
    if count <= EXACT_OLDEST_MAX_MESSAGES:
        (oldest_ms,) = db.execute(_OLDEST_EXACT, (queue,)).fetchone()
    else:
        (oldest_ms,) = db.execute(_OLDEST_SAMPLED, (queue, OLDEST_SAMPLE_MESSAGES)).fetchone()
    return QueueMetrics(count, state.backlog_bytes, oldest_ms)
