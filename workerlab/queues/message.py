"""What a queue consumer receives: ``MessageBatch`` and ``Message``, and the ``QueueResult`` of a batch.

A batch records the ack/retry calls its handler makes with Cloudflare's production
precedence; :meth:`MessageBatch._result` freezes them into a :class:`QueueResult`, and
:func:`resolve` turns that into what happens to each message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import limits
from ..clock import to_epoch_ms, utc_from_ms
from ..compat.jsvalues import JsObject
from ..context import Outcome
from ..errors import QueueError
from .message_ids import new_message_id

logger = logging.getLogger("workerlab")


#: The keys of a dict that stands for a whole message rather than a body (harness, createMessageBatch).
MESSAGE_KEYS = frozenset({"id", "timestamp", "attempts", "body"})


def check_delay_s(value: object, where: str) -> int:
    """``value`` as a delay in whole seconds within 0..MAX_DELAY_S, or an error naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{where} must be an integer number of seconds, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise QueueError(f"{where} must be a whole number of seconds, got {value!r}", code="queue-delay")
    if not limits.MIN_DELAY_S <= value <= limits.MAX_DELAY_S:
        raise QueueError(
            f"{where} must be between {limits.MIN_DELAY_S} and {limits.MAX_DELAY_S} seconds (the limit), "
            f"got {value!r}",
            code="queue-delay",
        )
    return int(value)


def delay_option(
    options: Mapping[str, Any] | None, delaySeconds: object, delay_seconds: object, where: str
) -> int | None:
    """The delay given as ``delaySeconds=``, ``delay_seconds=`` or in an options dict; None if absent."""
    if options is None and delaySeconds is None and delay_seconds is None:
        return None  # the usual send: no delay of its own
    given = [v for v in (delaySeconds, delay_seconds) if v is not None]
    if options is not None:
        if not isinstance(options, Mapping):
            raise TypeError(f"{where} options must be a dict, got {type(options).__name__}")
        unknown = set(options) - {"delaySeconds", "delay_seconds"}
        if unknown:
            raise TypeError(f"{where} got unknown option(s) {sorted(unknown)}: expected delaySeconds")
        given += [v for k, v in options.items() if v is not None]
    if not given:
        return None
    if any(value != given[0] for value in given[1:]):
        raise TypeError(f"{where} got more than one delay: {given}; give delaySeconds once")
    return check_delay_s(given[0], f"{where} delaySeconds")


@dataclass(frozen=True)
class RetryBatch:
    """The batch-level retryAll() call, if it won: ``retry`` and its ``delay_seconds`` (None: not given)."""

    retry: bool
    delay_seconds: int | None = None


@dataclass(frozen=True)
class RetryMessage:
    """One message's explicit retry(): its id and ``delay_seconds`` (None: not given)."""

    msg_id: str
    delay_seconds: int | None = None


@dataclass(frozen=True)
class QueueResult:
    """What a queue handler decided for its batch (mirrors ``cloudflare:test``'s getQueueResult)."""

    outcome: Outcome
    ack_all: bool
    retry_batch: RetryBatch
    explicit_acks: list[str]
    retry_messages: list[RetryMessage]
    error: BaseException | None = None


class Message:
    """One delivered message: ``id``, ``timestamp``, ``body``, ``attempts``, ``ack()``, ``retry()``."""

    __slots__ = ("_calls", "_timestamp_ms", "attempts", "body", "id")

    def __init__(self, batch: MessageBatch, id: str, timestamp_ms: int, body: Any, attempts: int) -> None:
        self._calls = batch._calls  # not the batch: a batch done with is freed at once, no cycle
        self.id = id
        self._timestamp_ms = timestamp_ms
        self.body = body
        self.attempts = attempts

    @property
    def timestamp(self) -> datetime:
        """When the message was sent, as a tz-aware UTC datetime."""
        return utc_from_ms(self._timestamp_ms)

    @property
    def timestamp_ms(self) -> int:
        return self._timestamp_ms

    def ack(self) -> None:
        """Mark this message as processed; it is not delivered again whatever the handler does next."""
        self._calls.ack(self.id)

    def retry(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        delaySeconds: int | None = None,
        delay_seconds: int | None = None,
    ) -> None:
        """Deliver this message again, after ``delaySeconds`` if given."""
        delay_s = delay_option(options, delaySeconds, delay_seconds, "retry()")
        self._calls.retry(self.id, delay_s)

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, attempts={self.attempts}, body={self.body!r})"


class BatchCalls:
    """What the handler asked of a batch and its messages (``ack()``, ``retry()``, ``ackAll()``,
    ``retryAll()``). The messages point here rather than to their batch, so that a batch is freed
    as soon as it is done with instead of waiting, as a cycle would, for the garbage collector."""

    __slots__ = ("ack_all", "acks", "retries", "retry_all", "retry_all_delay_s")

    def __init__(self) -> None:
        self.ack_all = False
        self.retry_all = False
        self.retry_all_delay_s: int | None = None
        self.acks: dict[str, None] = {}
        self.retries: dict[str, int | None] = {}

    def ack(self, msg_id: str) -> None:
        if self.ack_all:
            return
        if self.retry_all:
            logger.warning(
                "Received a call to ack() on message %s after retryAll() was already called. "
                "Calling ack() on a message after calling retryAll() has no effect.",
                msg_id,
            )
            return
        if msg_id in self.retries:
            logger.warning(
                "Received a call to ack() on message %s after retry() was already called. "
                "Calling ack() on a message after calling retry() has no effect.",
                msg_id,
            )
            return
        self.acks[msg_id] = None

    def retry(self, msg_id: str, delay_s: int | None) -> None:
        if msg_id in self.acks:
            logger.warning(
                "Received a call to retry() on message %s after ack() was already called. "
                "Calling retry() on a message after calling ack() has no effect.",
                msg_id,
            )
            return
        if delay_s is not None or msg_id not in self.retries:
            self.retries[msg_id] = delay_s


class MessageBatch:
    """A batch handed to a queue handler: ``queue``, ``messages``, ``metadata``, ``ackAll()``,
    ``retryAll()``."""

    def __init__(
        self,
        queue: str,
        records: Iterable[tuple[str, int, Any, int]] = (),
        *,
        metrics: Callable[[], Any] | None = None,
    ) -> None:
        """``records`` are ``(id, timestamp_ms, body, attempts)`` tuples, oldest first; ``metrics``
        gives the queue's backlog metrics when the handler reads ``batch.metadata``."""
        self.queue = queue
        self._calls = BatchCalls()
        self.messages: list[Message] = [Message(self, *record) for record in records]
        self._metrics = metrics

    @classmethod
    def from_messages(cls, queue: str, messages: Iterable[Mapping[str, Any]], *, now_ms: int) -> MessageBatch:
        """A batch from dicts with ``body`` and optionally ``id``, ``timestamp`` (datetime or epoch ms),
        ``attempts`` (default 1); missing ids are generated, a missing timestamp is ``now_ms``."""
        return cls(queue, [_record(m, now_ms, "message") for m in messages])

    @classmethod
    def from_items(cls, queue: str, items: Iterable[Any], *, now_ms: int) -> MessageBatch:
        """A batch where each item is a body, except a dict whose keys are exactly
        ``id``, ``timestamp``, ``attempts``, ``body``, which is taken as a whole message."""
        records = []
        for item in items:
            if isinstance(item, Mapping) and set(item) == MESSAGE_KEYS:
                records.append(_record(item, now_ms, "message"))
            else:
                records.append((new_message_id(), now_ms, item, 1))
        return cls(queue, records)

    @property
    def metadata(self) -> JsObject:
        """``{metrics: {backlogCount, backlogBytes, oldestMessageTimestamp?}}`` of the queue, read
        when asked (a batch made by hand, as in tests, reports an empty queue)."""
        metrics = self._metrics() if self._metrics is not None else JsObject(backlogCount=0, backlogBytes=0)
        return JsObject(metrics=metrics)

    # --- the handler's calls -----------------------------------------------------------

    def ackAll(self) -> None:
        """Mark every message not explicitly retried as processed (ignored after retryAll())."""
        calls = self._calls
        if calls.retry_all:
            logger.warning(
                "Received a call to ackAll() after retryAll() was already called. "
                "Calling ackAll() after calling retryAll() has no effect."
            )
            return
        calls.ack_all = True

    ack_all = ackAll

    def retryAll(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        delaySeconds: int | None = None,
        delay_seconds: int | None = None,
    ) -> None:
        """Deliver again every message not explicitly acked, after ``delaySeconds`` if given."""
        delay_s = delay_option(options, delaySeconds, delay_seconds, "retryAll()")
        calls = self._calls
        if calls.ack_all:
            logger.warning(
                "Received a call to retryAll() after ackAll() was already called. "
                "Calling retryAll() after calling ackAll() has no effect."
            )
            return
        calls.retry_all = True
        if delay_s is not None:
            calls.retry_all_delay_s = delay_s

    retry_all = retryAll

    # --- the outcome -----------------------------------------------------------------

    def _result(self, outcome: Outcome, error: BaseException | None = None) -> QueueResult:
        """The calls recorded so far and the handler's ``outcome``, frozen."""
        calls = self._calls
        return QueueResult(
            outcome=outcome,
            ack_all=calls.ack_all,
            retry_batch=RetryBatch(calls.retry_all, calls.retry_all_delay_s),
            explicit_acks=list(calls.acks),
            retry_messages=[RetryMessage(msg_id, delay) for msg_id, delay in calls.retries.items()],
            error=error,
        )

    def _untouched(self) -> bool:
        calls = self._calls
        return not (calls.ack_all or calls.retry_all or calls.acks or calls.retries)

    def __len__(self) -> int:
        return len(self.messages)

    def __repr__(self) -> str:
        return f"MessageBatch(queue={self.queue!r}, messages={len(self.messages)})"


@dataclass(frozen=True)
class Resolution:
    """What happens to each message of a batch: indexes acked, and ``(index, delay_s or None)`` retried."""

    acked: list[int]
    retried: list[tuple[int, int | None]]


def resolve(result: QueueResult, message_ids: Sequence[str]) -> Resolution:
    """Cloudflare's resolution: explicit ack, explicit retry, retryAll, ackAll, outcome, in that order.

    A retried message's delay is its own retry() delay, else the retryAll() delay, else
    None (the caller falls back to the consumer's retry_delay).
    """
    acks = set(result.explicit_acks)
    retries = {r.msg_id: r.delay_seconds for r in result.retry_messages}
    batch = result.retry_batch
    acked: list[int] = []
    retried: list[tuple[int, int | None]] = []
    for index, msg_id in enumerate(message_ids):
        if msg_id in acks:
            acked.append(index)
        elif msg_id in retries:
            own = retries[msg_id]
            retried.append((index, own if own is not None else batch.delay_seconds))
        elif batch.retry:
            retried.append((index, batch.delay_seconds))
        elif result.ack_all or result.outcome == "ok":
            acked.append(index)
        else:
            retried.append((index, None))
    return Resolution(acked, retried)


def _record(message: Mapping[str, Any], now_ms: int, where: str) -> tuple[str, int, Any, int]:
    if not isinstance(message, Mapping):
        raise TypeError(f"a {where} must be a dict with a 'body' key, got {type(message).__name__}")
    unknown = set(message) - MESSAGE_KEYS
    if unknown or "body" not in message:
        raise TypeError(
            f"a {where} is a dict with keys id, timestamp, attempts and body; got keys {sorted(message)}"
        )
    msg_id = message.get("id") or new_message_id()
    if not isinstance(msg_id, str):
        raise TypeError(f"a {where}'s id must be a str, got {type(msg_id).__name__}")
    timestamp = message.get("timestamp")
    timestamp_ms = now_ms if timestamp is None else to_epoch_ms(timestamp, f"a {where}'s timestamp")
    attempts = message.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise TypeError(f"a {where}'s attempts must be an int >= 1, got {attempts!r}")
    return msg_id, timestamp_ms, message["body"], attempts
