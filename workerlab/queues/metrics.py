"""A queue's backlog metrics: ``env.Q.metrics()``, ``batch.metadata.metrics`` and the HTTP API's.

Cloudflare calls them best-effort. The count and size of the backlog are exact here (kept in
step by every write, see :mod:`.state`). The oldest message's timestamp is read from the
messages waiting in the queue (the rows in flight are not indexed): exactly up to
``EXACT_OLDEST_MAX_MESSAGES`` of them, beyond that among the next ones to be delivered, so that
asking never reads the whole backlog. A batch's own metrics also count its own messages.
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

_OLDEST_EXACT = "SELECT min(timestamp_ms) FROM messages WHERE queue = ? AND owner IS NULL"
_OLDEST_SAMPLED = """
SELECT min(timestamp_ms) FROM (
    SELECT timestamp_ms FROM messages WHERE queue = ? AND owner IS NULL ORDER BY ready_ms, seq LIMIT ?
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


def queue_metrics(store: QueueStore, queue: str, in_hand_ms: int | None = None) -> QueueMetrics:
    """The metrics of ``queue`` as the store has them now (reads only); ``in_hand_ms`` is the send
    time of the oldest message the caller holds in flight (a batch asking for its own metrics)."""
    state = store.state(queue)
    count = state.backlog_count
    if count <= 0:
        return QueueMetrics(0, 0, None)
    db = store.connection
    if count <= EXACT_OLDEST_MAX_MESSAGES:
        (oldest_ms,) = db.execute(_OLDEST_EXACT, (queue,)).fetchone()
    else:
        (oldest_ms,) = db.execute(_OLDEST_SAMPLED, (queue, OLDEST_SAMPLE_MESSAGES)).fetchone()
    if in_hand_ms is not None and (oldest_ms is None or in_hand_ms < oldest_ms):
        oldest_ms = in_hand_ms
    return QueueMetrics(count, state.backlog_bytes, oldest_ms)
