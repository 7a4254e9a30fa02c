"""What the queues did, as the harness's ``worker.queues[name]`` shows it: a subscriber of the event bus."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..events import BatchDelivered, EventBus, MessageDeadLettered
from .broker import MessageRecord

#: Records kept per queue and per list (acked, dead-lettered, deliveries); older ones fall off.
MAX_HISTORY_RECORDS = 10_000


@dataclass(frozen=True)
class QueueView:
    """What a queue holds (``pending``, ``dropped``: read from the store) and has done since the
    history started (``acked``, ``dead_lettered``, ``deliveries``: the last MAX_HISTORY_RECORDS each)."""

    queue: str
    pending: list[MessageRecord]
    acked: list[MessageRecord]
    dead_lettered: list[MessageRecord]
    dropped: list[MessageRecord]
    deliveries: list[MessageRecord]


def _record(message: Any) -> MessageRecord:
    if isinstance(message, MessageRecord):
        return message
    return MessageRecord(message.id, message.body, message.attempts, message.timestamp)


class _Lists:
    def __init__(self) -> None:
        self.acked: deque[MessageRecord] = deque(maxlen=MAX_HISTORY_RECORDS)
        self.dead_lettered: deque[MessageRecord] = deque(maxlen=MAX_HISTORY_RECORDS)
        self.deliveries: deque[MessageRecord] = deque(maxlen=MAX_HISTORY_RECORDS)


class QueueHistory:
    """Keeps the deliveries, acks and dead-letterings of every queue, bounded."""

    def __init__(self, bus: EventBus) -> None:
        self._queues: dict[str, _Lists] = {}
        self._unsubscribe: list[Callable[[], None]] = [
            bus.subscribe(self._batch, BatchDelivered),
            bus.subscribe(self._dead_lettered, MessageDeadLettered),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _lists(self, queue: str) -> _Lists:
        lists = self._queues.get(queue)
        if lists is None:
            lists = self._queues[queue] = _Lists()
        return lists

    def _batch(self, event: BatchDelivered) -> None:
        lists = self._lists(event.queue)
        records = [_record(message) for message in event.messages]
        lists.deliveries.extend(records)
        lists.acked.extend(records[index] for index in event.acked)

    def _dead_lettered(self, event: MessageDeadLettered) -> None:
        self._lists(event.queue).dead_lettered.append(_record(event.message))

    def view(
        self, queue: str, pending: Iterable[MessageRecord], dropped: Iterable[MessageRecord]
    ) -> QueueView:
        lists = self._lists(queue)
        return QueueView(
            queue=queue,
            pending=list(pending),
            acked=list(lists.acked),
            dead_lettered=list(lists.dead_lettered),
            dropped=list(dropped),
            deliveries=list(lists.deliveries),
        )
