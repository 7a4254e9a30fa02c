"""What the queues of a persist directory hold: the `workerlab queues` command's view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..bindings import queue as queue_bindings
from ..clock import Clock
from ..config import WorkerConfig
from .broker import MessageRecord, stored_record
from .store import QueueStore


@dataclass(frozen=True)
class QueueSummary:
    queue: str
    pending: int  # not yet acked: ready, delayed or in flight
    delayed: int
    in_flight: int
    dropped: int


def queue_names(config: WorkerConfig, store: QueueStore) -> list[str]:
    """The config's queues (producers, consumers, dead-letter queues), then any other the store holds."""
    return list(dict.fromkeys([*queue_bindings.queue_names(config), *store.queues()]))


def summarize(store: QueueStore, queue: str, clock: Clock) -> QueueSummary:
    return QueueSummary(queue, *store.counts(queue, clock.now_ms()))


def first_pending(store: QueueStore, queue: str, limit: int) -> list[MessageRecord]:
    """The next ``limit`` messages ``queue`` will deliver, decoded."""
    return [stored_record(row) for row in store.pending(queue, limit)]


def last_dropped(store: QueueStore, queue: str, limit: int) -> list[MessageRecord]:
    """The last ``limit`` messages dropped from ``queue``, oldest first."""
    return [stored_record(row) for row in store.dropped(queue)[-limit:]] if limit > 0 else []


def record_json(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "attempts": record.attempts,
        "timestamp": record.timestamp.isoformat(),
        "body": record.body,
    }
