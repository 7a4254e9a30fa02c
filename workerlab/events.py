"""The event seam: what the runtime did, as typed events, for whoever subscribes.

The runtime emits an event for every request served, batch delivered, message retried,
dead-lettered or dropped, cron run, RPC call, alarm run, workflow step and waitUntil failure.
The log lines (:mod:`workerlab.loglines`), the harness's histories and the inspector are
subscribers; each keeps what it needs in a bounded buffer. Emitting costs one dict lookup when
nobody listens to that kind of event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, dataclass_transform

logger = logging.getLogger("workerlab")


T = TypeVar("T")


@dataclass_transform()
def event_class(cls: type[T]) -> type[T]:
    """Makes an :class:`Event` subclass a dataclass the way every event is one (see there)."""
    return dataclass(slots=True, eq=False, repr=False)(cls)


class Event:
    """Base of every event; subclasses are dataclasses (slotted, not frozen: frozen ones cost four times
    as much to make, on the hot path of every request). Subscribers treat events as read-only.

    Two events are equal only when they are the same event; the one ``repr`` here serves them all
    (a dataclass's own ``__eq__`` and ``__repr__`` would cost start-up time for every class).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


@event_class
class RequestServed(Event):
    """An HTTP request answered by a worker (or by workerlab on its behalf)."""

    worker: str
    method: str
    target: str  # path and query
    status: int
    duration_ms: float
    error: BaseException | None = None  # what the fetch handler raised (the answer was a 500)


@event_class
class BatchDelivered(Event):
    """A batch handed to a queue consumer and settled: which of its messages were acked."""

    worker: str
    queue: str
    messages: Sequence[Any]  # the batch's messages (``id``, ``body``, ``attempts``, ``timestamp``)
    acked: Sequence[int]  # indexes into ``messages``
    outcome: str
    error: BaseException | None
    duration_ms: float


@event_class
class MessageRetried(Event):
    queue: str
    message_id: str
    attempts: int
    delay_s: int


@event_class
class MessageDeadLettered(Event):
    """A message that failed ``attempts`` times, moved to ``dead_letter_queue``."""

    queue: str
    dead_letter_queue: str
    message: Any  # a record with ``id``, ``body``, ``attempts``, ``timestamp``
    attempts: int


@event_class
class MessageDropped(Event):
    """A message that failed ``attempts`` times and had no dead-letter queue to go to."""

    queue: str
    message: Any
    attempts: int


@event_class
class CronRun(Event):
    worker: str
    cron: str
    scheduled_time_ms: int
    outcome: str
    error: BaseException | None
    duration_ms: float


@event_class
class RpcCall(Event):
    """A call through a service binding (``method`` is ``fetch`` for a service fetch)."""

    caller: str
    worker: str
    method: str
    outcome: str
    error: BaseException | None
    duration_ms: float


@event_class
class AlarmRun(Event):
    worker: str
    class_name: str
    object_id: str
    retry_count: int
    outcome: str
    error: BaseException | None
    duration_ms: float


@event_class
class WorkflowStep(Event):
    workflow: str
    instance_id: str
    step: str
    attempt: int
    outcome: str  # ok, retry or error
    error: BaseException | None
    duration_ms: float


@event_class
class WaitUntilFailed(Event):
    worker: str
    error: BaseException


Subscriber = Callable[[Any], None]


class EventBus:
    """Delivers each emitted event to the subscribers of its type, in the order they subscribed.

    A subscriber that raises is logged and kept; it never breaks the code that emitted.
    """

    def __init__(self) -> None:
        self._subscribers: dict[type[Event], tuple[Subscriber, ...]] = {}

    def subscribe(self, subscriber: Subscriber, *kinds: type[Event]) -> Callable[[], None]:
        """Call ``subscriber(event)`` for every event of ``kinds``; returns the unsubscribe function."""
        for kind in kinds:
            self._subscribers[kind] = (*self._subscribers.get(kind, ()), subscriber)

        def unsubscribe() -> None:
            for kind in kinds:
                remaining = tuple(s for s in self._subscribers.get(kind, ()) if s is not subscriber)
                if remaining:
                    self._subscribers[kind] = remaining
                else:
                    self._subscribers.pop(kind, None)

        return unsubscribe

    def wants(self, kind: type[Event]) -> bool:
        """Whether anyone listens to ``kind`` (so that building the event is worth it)."""
        return kind in self._subscribers

    def emit(self, event: Event) -> None:
        for subscriber in self._subscribers.get(type(event), ()):
            try:
                subscriber(event)
            except Exception as error:
                logger.error("An event subscriber failed on %s", type(event).__name__, exc_info=error)
