"""The producer binding (``env.<BINDING>``): ``send`` and ``sendBatch`` with Cloudflare's limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import limits
from ..clock import Clock
from ..compat.jsvalues import JsObject
from ..errors import QueueError
from . import admin
from .codec import DEFAULT_CONTENT_TYPE, ContentType, check_content_type, encode_body
from .message import check_delay_s, delay_option
from .message_ids import new_message_id, new_message_ids
from .metrics import queue_metrics

if TYPE_CHECKING:
    from ..config import QueueConsumer
    from .store import QueueStore

#: Keys a sendBatch message dict may hold.
_MESSAGE_KEYS = frozenset({"body", "contentType", "content_type", "delaySeconds", "delay_seconds"})
_SEND_OPTIONS = frozenset({"contentType", "content_type", "delaySeconds", "delay_seconds"})


class SendResponse:
    """What ``send`` / ``sendBatch`` resolve to: ``metadata.metrics`` of the queue, read when asked."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: Callable[[], JsObject]) -> None:
        self._metrics = metrics

    @property
    def metadata(self) -> JsObject:
        """``{metrics: {backlogCount, backlogBytes, oldestMessageTimestamp?}}``."""
        return JsObject(metrics=self._metrics())

    def __getitem__(self, name: str) -> JsObject:
        if name != "metadata":
            raise KeyError(name)
        return self.metadata

    def __repr__(self) -> str:
        return "SendResponse(metadata=...)"


class QueueProducerBinding:
    """``env.<BINDING>`` for a ``[[queues.producers]]`` entry.

    Every check runs before anything is stored; when ``send`` / ``sendBatch`` returns,
    the messages are committed to the store (a sendBatch all or nothing). ``delivery_delay_s``
    delays the messages that name no delay of their own; ``settings`` gives the queue's
    consumer settings (its retention period, for :meth:`metrics`); ``source`` marks where the
    messages come from when it is not a Worker (``"api"``: the HTTP publish API).
    """

    #: How errors name the calls (a subclass serving another API names them its way).
    _send_name = "send()"
    _batch_name = "sendBatch()"
    _item_name = "sendBatch() message {index}"

    def __init__(
        self,
        queue: str,
        store: QueueStore,
        clock: Clock,
        on_sent: Callable[[str], None],
        *,
        delivery_delay_s: int = 0,
        settings: Callable[[str], QueueConsumer] | None = None,
        source: str | None = None,
    ) -> None:
        self.queue = queue
        self._store = store
        self._clock = clock
        self._on_sent = on_sent
        self._delivery_delay_s = check_delay_s(delivery_delay_s, f"queue {queue!r} delivery_delay")
        self._settings = settings
        self._source = source
        self._response = SendResponse(self._metrics_now)

    async def send(
        self,
        body: Any,
        options: Mapping[str, Any] | None = None,
        *,
        contentType: str | None = None,
        content_type: str | None = None,
        delaySeconds: int | None = None,
        delay_seconds: int | None = None,
    ) -> SendResponse:
        """Send one message; ``contentType`` json (default), text, bytes or v8; ``delaySeconds`` 0..43200."""
        if options is not None:
            _check_keys(options, _SEND_OPTIONS, f"{self._send_name} options")
            name = self._send_name
            contentType = _one(contentType, options.get("contentType"), name, "contentType")
            content_type = _one(content_type, options.get("content_type"), name, "content_type")
            delaySeconds = _one(delaySeconds, options.get("delaySeconds"), name, "delaySeconds")
            delay_seconds = _one(delay_seconds, options.get("delay_seconds"), name, "delay_seconds")
        kind = _content_type(contentType, content_type, self._send_name)
        delay_s = delay_option(None, delaySeconds, delay_seconds, self._send_name)
        data = encode_body(body, kind)
        if len(data) > limits.MAX_MESSAGE_BYTES:
            raise _too_big(self._send_name, len(data), kind)
        now_ms = self._clock.now_ms()
        ready_ms = now_ms + 1000 * (self._delivery_delay_s if delay_s is None else delay_s)
        await self._store.run(
            self._store.insert,
            self.queue,
            [(new_message_id(), now_ms, kind, data, ready_ms)],
            self._source,
        )
        self._on_sent(self.queue)
        return self._response

    async def sendBatch(
        self,
        messages: Iterable[Mapping[str, Any]],
        options: Mapping[str, Any] | None = None,
        *,
        delaySeconds: int | None = None,
        delay_seconds: int | None = None,
    ) -> SendResponse:
        """Send up to 100 messages (dicts with ``body`` and optional ``contentType`` / ``delaySeconds``)
        in one all-or-nothing write; a message's own delay beats the batch's ``delaySeconds``."""
        if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
            raise TypeError(
                f"{self._batch_name} expects a list of message dicts, got {type(messages).__name__}"
            )
        if not isinstance(messages, Sequence):
            messages = list(messages)
        if not messages:
            raise TypeError(f"{self._batch_name} requires at least one message")
        if len(messages) > limits.MAX_SEND_BATCH_MESSAGES:
            raise QueueError(
                f"{self._batch_name} accepts at most {limits.MAX_SEND_BATCH_MESSAGES} messages "
                f"(MAX_SEND_BATCH_MESSAGES), got {len(messages)}",
                code="queue-batch-count",
            )
        batch_delay_s = delay_option(options, delaySeconds, delay_seconds, self._batch_name)
        if batch_delay_s is None:
            batch_delay_s = self._delivery_delay_s
        now_ms = self._clock.now_ms()
        batch_ready_ms = now_ms + 1000 * batch_delay_s
        ids = new_message_ids(len(messages))
        rows: list[tuple[str, int, str, bytes, int]] = []
        total_bytes = 0
        for index, message in enumerate(messages):
            if type(message) is dict and len(message) == 1 and "body" in message:  # the usual shape
                kind, ready_ms = DEFAULT_CONTENT_TYPE, batch_ready_ms
                data = encode_body(message["body"], kind)
            else:
                kind, data, own_delay_s = _parse_message(message, self._item_name.format(index=index))
                ready_ms = batch_ready_ms if own_delay_s is None else now_ms + 1000 * own_delay_s
            if len(data) > limits.MAX_MESSAGE_BYTES:
                raise _too_big(self._item_name.format(index=index), len(data), kind)
            total_bytes += len(data)
            rows.append((ids[index], now_ms, kind, data, ready_ms))
        if total_bytes > limits.MAX_SEND_BATCH_BYTES:
            raise QueueError(
                f"{self._batch_name} accepts at most {limits.MAX_SEND_BATCH_BYTES} bytes in all "
                f"(MAX_SEND_BATCH_BYTES), got {total_bytes} bytes in {len(rows)} messages",
                code="queue-batch-bytes",
            )
        await self._store.run(self._store.insert, self.queue, rows, self._source)
        self._on_sent(self.queue)
        return self._response

    send_batch = sendBatch

    async def metrics(self) -> JsObject:
        """``{backlogCount, backlogBytes, oldestMessageTimestamp?}`` of the queue (a datetime; absent
        when the queue is empty). Messages past the retention period are removed first."""
        if self._settings is not None:
            retention_s = self._settings(self.queue).message_retention_period_s
            now_ms = self._clock.now_ms()
            while (
                await self._store.run(admin.expire, self._store, self.queue, now_ms, retention_s)
                == admin.CHUNK_MESSAGES
            ):
                pass
        return self._metrics_now()

    def _metrics_now(self) -> JsObject:
        return queue_metrics(self._store, self.queue).for_worker()

    def __repr__(self) -> str:
        return f"QueueProducerBinding(queue={self.queue!r})"


class HttpPublisher(QueueProducerBinding):
    """The sender behind the HTTP publish API: the same checks and writes as a producer binding, its
    messages marked as sent by ``"api"``, its errors naming the API's fields."""

    _send_name = "publish"
    _batch_name = "batch"
    _item_name = "messages[{index}]"


def _parse_message(message: object, where: str) -> tuple[ContentType, bytes, int | None]:
    """A sendBatch message dict checked and encoded: its content type, stored body and own delay."""
    if not isinstance(message, Mapping):
        raise TypeError(f"{where} must be a dict with a 'body' key, got {type(message).__name__}")
    _check_keys(message, _MESSAGE_KEYS, where)
    if "body" not in message:
        raise TypeError(f"{where} has no 'body' key (keys: {sorted(message)})")
    kind = _content_type(message.get("contentType"), message.get("content_type"), where)
    data = encode_body(message["body"], kind)
    return kind, data, delay_option(None, message.get("delaySeconds"), message.get("delay_seconds"), where)


def _content_type(camel: object, snake: object, where: str) -> ContentType:
    if camel is None and snake is None:  # the usual send: JSON
        return DEFAULT_CONTENT_TYPE
    return check_content_type(_one(camel, snake, where, "contentType"))


def _one(first: Any, second: Any, where: str, name: str) -> Any:
    """The value given as ``first`` or ``second`` (the same option under two names, or as a
    keyword and in an options dict); an error naming ``where`` and ``name`` when they differ."""
    if first is None:
        return second
    if second is not None and first != second:
        raise TypeError(f"{where} {name} was given twice with different values: {first!r} and {second!r}")
    return first


def _check_keys(given: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    if not given.keys() <= allowed:
        unknown = set(given) - allowed
        raise TypeError(f"{where} has unknown key(s) {sorted(unknown)}: expected {sorted(allowed)}")


def _too_big(where: str, size: int, kind: str) -> QueueError:
    return QueueError(
        f"{where}: the message is {size} bytes encoded as {kind}; the limit is "
        f"{limits.MAX_MESSAGE_BYTES} bytes per message (MAX_MESSAGE_BYTES)",
        code="queue-message-size",
    )
