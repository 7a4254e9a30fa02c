"""The queue API's ASGI app: Cloudflare's REST routes for pulling, acking and publishing messages.

Served by `workerlab dev` under ``/cdn-cgi/workerlab/api/client/v4/`` (see :mod:`workerlab.mounts`)::

    POST accounts/<any>/queues/<queue>/messages/pull   {batch_size?, visibility_timeout_ms?}
    POST accounts/<any>/queues/<queue>/messages/ack    {acks: [{lease_id}],
                                                        retries: [{lease_id, delay_seconds?}]}
    POST accounts/<any>/queues/<queue>/messages        {body, content_type?, delay_seconds?}
    POST accounts/<any>/queues/<queue>/messages/batch  {messages: [...], delay_seconds?}

The queue is named by its name (Cloudflare's API takes its id). A queue may be pulled when no
loaded Worker consumes it (an ``http_pull`` consumer, or none); its consumer's settings (retries,
dead-letter queue, retry delay, visibility timeout, retention) apply. The work is done by
:mod:`workerlab.queues.pull` and the session's producer, so the API, the command line and the
inspector act on the same store the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import QueueError
from ..events import MessageDeadLettered, MessageDropped
from ..mounts import QUEUES_API_PATH
from ..queues import pull as pulling
from ..queues.broker import stored_record
from ..queues.metrics import queue_metrics
from ..request_limits import Refusal, request_body
from .errors import (
    CODE_DELIVERY_PAUSED,
    CODE_MESSAGE_TOO_LARGE,
    CODE_METHOD_NOT_ALLOWED,
    CODE_NOT_FOUND,
    CODE_WORKER_CONSUMER,
    ApiError,
    envelope,
    error_envelope,
    invalid,
)
from .guard import api_error, check_request
from .shapes import ack_lists, parse_json_object, publish_batch, publish_message, pull_options, pulled_json

if TYPE_CHECKING:
    from ..config import QueueConsumer
    from ..queues.broker import Broker
    from ..server import Receive, Scope, Send
    from ..session import Session

logger = logging.getLogger("workerlab")


_ROUTE = re.compile(r"^accounts/[^/]+/queues/(?P<queue>[^/]+)/messages(?:/(?P<action>pull|ack|batch))?/?$")
_JSON = [(b"content-type", b"application/json")]

Handler = Callable[["Session", str, bytes], Awaitable[Any]]


class QueuesApiApp:
    """The ASGI app; it finds the session it serves in ``scope["workerlab.session"]``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body, headers = 200, b"", _JSON
        try:
            check_request(scope)
            handler, queue = _route(scope)
            data = await _read_body(receive)
            body = envelope(await handler(scope["workerlab.session"], queue, data))
        except ApiError as error:
            status, body = error.status, error_envelope(error)
            if status == 405:
                headers = [*_JSON, (b"allow", b"POST")]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _route(scope: Scope) -> tuple[Handler, str]:
    """The handler of the request's route, and the queue it names."""
    match = _ROUTE.match(scope["path"][len(QUEUES_API_PATH) :])
    if match is None:
        raise ApiError(
            404,
            CODE_NOT_FOUND,
            f"No route for {scope['path']}: the queue API serves "
            f"{QUEUES_API_PATH}accounts/<account>/queues/<queue>/messages[/pull|/ack|/batch]",
        )
    if scope["method"] != "POST":
        raise ApiError(405, CODE_METHOD_NOT_ALLOWED, f"{scope['method']} is not allowed here; use POST")
    return _HANDLERS[match["action"]], match["queue"]


async def _read_body(receive: Receive) -> bytes:
    try:
        return await request_body(receive)
    except Refusal as refused:
        raise api_error(refused) from None


# --- the routes -----------------------------------------------------------------------------


async def _pull(session: Session, queue: str, data: bytes) -> dict[str, Any]:
    broker, consumer = _pull_consumer(session, queue)
    batch_size, timeout_ms = pull_options(parse_json_object(data, "pull"), consumer)
    store = broker.store
    try:
        result = await store.run(
            pulling.pull,
            store,
            consumer,
            batch_size=batch_size,
            visibility_timeout_ms=timeout_ms,
            now_ms=session.clock.now_ms(),
        )
    except pulling.QueueDeliveryPaused as paused:
        raise ApiError(409, CODE_DELIVERY_PAUSED, "queue_delivery_paused") from paused
    if result.expired:
        logger.info(
            'Removed %d message(s) of queue "%s" older than its retention period (%d s) without delivery',
            result.expired,
            queue,
            consumer.message_retention_period_s,
        )
    _tell_failures(session, broker, result.failed)
    metrics = queue_metrics(store, queue)
    return {
        "messages": [pulled_json(message) for message in result.messages],
        "message_backlog_count": metrics.backlog_count,
        "metadata": {"metrics": metrics.for_api()},
    }


async def _ack(session: Session, queue: str, data: bytes) -> dict[str, Any]:
    broker, consumer = _pull_consumer(session, queue)
    acks, retries = ack_lists(parse_json_object(data, "ack"))
    store = broker.store
    result = await store.run(
        pulling.ack, store, consumer, acks=acks, retries=retries, now_ms=session.clock.now_ms()
    )
    _tell_failures(session, broker, result.failed)
    answer: dict[str, Any] = {"ackCount": result.ack_count, "retryCount": result.retry_count}
    if result.warnings:
        answer["warnings"] = result.warnings
    return answer


async def _publish(session: Session, queue: str, data: bytes) -> dict[str, Any]:
    message = publish_message(parse_json_object(data, "publish"), "publish")
    broker = session.queue_broker()
    publisher = broker.publisher(queue)
    sending = publisher.send(
        message["body"], contentType=message["contentType"], delaySeconds=message.get("delaySeconds")
    )
    return await _sent(broker, queue, sending)


async def _publish_batch(session: Session, queue: str, data: bytes) -> dict[str, Any]:
    messages, delay_s = publish_batch(parse_json_object(data, "batch"))
    broker = session.queue_broker()
    return await _sent(broker, queue, broker.publisher(queue).sendBatch(messages, delaySeconds=delay_s))


_HANDLERS: dict[str | None, Handler] = {"pull": _pull, "ack": _ack, None: _publish, "batch": _publish_batch}


# --- helpers --------------------------------------------------------------------------------


def _pull_consumer(session: Session, queue: str) -> tuple[Broker, QueueConsumer]:
    """The session's broker (it has the settings of every pull consumer the session loaded) and the
    settings of ``queue``; a 409 when a loaded Worker consumes ``queue`` (its messages are pushed,
    not pulled)."""
    broker = session.queue_broker()
    for runtime in session.workers.values():
        for consumer in runtime.config.consumers:
            if consumer.queue == queue and consumer.type == "worker":
                raise ApiError(
                    409,
                    CODE_WORKER_CONSUMER,
                    f'queue "{queue}" is consumed by the Worker {runtime.name} ({runtime.config.path}), '
                    "which receives its messages; pull a queue whose consumer is "
                    'type = "http_pull", or that has none',
                )
    return broker, broker.settings(queue)


def _tell_failures(session: Session, broker: Broker, failed: list[pulling.Failed]) -> None:
    """Log (through the session's events) the messages a pull or an ack moved out of their queue."""
    for failure in failed:
        record = stored_record(failure.message)
        logger.warning(
            'Message "%s" on queue "%s" can no longer be delivered: %s',
            failure.message.id,
            failure.queue,
            failure.reason,
        )
        if failure.dead_letter_queue is not None:
            event: Any = MessageDeadLettered(
                failure.queue, failure.dead_letter_queue, record, failure.message.attempts
            )
            broker.wake()
        else:
            event = MessageDropped(failure.queue, record, failure.message.attempts)
        session.bus.emit(event)


async def _sent(broker: Broker, queue: str, sending: Awaitable[Any]) -> dict[str, Any]:
    """Wait for a publish; the producer's refusals become the API's statuses (413 for a size
    limit, 400 for the rest). The answer carries the queue's metrics."""
    try:
        await sending
    except QueueError as error:
        if error.code in ("queue-message-size", "queue-batch-bytes"):
            raise ApiError(413, CODE_MESSAGE_TOO_LARGE, error.message) from None
        raise invalid(error.message) from None
    except TypeError as error:
        raise invalid(str(error)) from None
    return {"metadata": {"metrics": queue_metrics(broker.store, queue).for_api()}}
