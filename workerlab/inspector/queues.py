"""Queue routes: every queue with its counts and consumer, messages page by page, dropped messages,
and the actions (send a test message, pause, resume, purge, redrive a dead-letter queue).

The reads and the actions are the functions `workerlab queues` calls (:mod:`workerlab.queues.inspector`),
so the page, the command line and a script see and do the same thing.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..queues import inspector as queue_views
from ..queues.broker import Broker, stored_record
from ..queues.store import QueueStore, StoredMessage
from ..session import Session
from .responses import ApiError, bad_request, json_response, jsonable, preview, query_int, read_json
from .state import record_action, session_of

#: Messages per page unless the request asks for another count.
DEFAULT_MESSAGES_PER_PAGE = 50
#: Most messages one page may ask for.
MAX_MESSAGES_PER_PAGE = 500
#: Content types a test message may be sent as from the page.
SENDABLE_CONTENT_TYPES = ("json", "text")


def queue_marker(store: QueueStore) -> object:
    """A value that changes whenever the store does (another process's commits included)."""
    return store.data_version()


def _broker(session: Session) -> Broker | None:
    return session.broker


def _topology(session: Session) -> dict[str, dict[str, Any]]:
    """What the configs say of each queue: its consumer, its dead-letter queue, its producers."""
    queues: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return queues.setdefault(
            name,
            {
                "name": name,
                "consumer": None,
                "dead_letter_queue": None,
                "dead_letter_of": [],
                "producers": [],
            },
        )

    for runtime in session.workers.values():
        for name in queue_views.queue_names(runtime.config, _store_or_none(session)):
            entry(name)
        for consumer in runtime.config.consumers:
            found = entry(consumer.queue)
            found["consumer"] = {"worker": runtime.name, "max_retries": consumer.max_retries}
            if consumer.dead_letter_queue:
                found["dead_letter_queue"] = consumer.dead_letter_queue
                entry(consumer.dead_letter_queue)["dead_letter_of"].append(consumer.queue)
        for spec, kind, _ in runtime.bindings:
            if kind.section == "queues.producers":
                entry(spec.queue)["producers"].append({"worker": runtime.name, "binding": spec.binding})
    return queues


def _store_or_none(session: Session) -> Any:
    broker = _broker(session)
    return _EmptyStore() if broker is None else broker.store


class _EmptyStore:
    def queues(self) -> list[str]:
        return []


def _message_document(row: StoredMessage, now_ms: int) -> dict[str, Any]:
    record = stored_record(row)
    return {
        "id": record.id,
        "attempts": row.attempts,
        "timestamp": record.timestamp.isoformat(),
        "content_type": row.content_type,
        "next_delivery_ms": row.ready_ms,
        "state": "delayed" if row.ready_ms > now_ms else "ready",
        "body": jsonable(record.body),
        "preview": preview(record.body),
    }


async def list_queues(request: Request) -> Response:
    session = session_of(request)
    broker = _broker(session)
    queues = _topology(session)
    for name, found in queues.items():
        if broker is None:
            found.update(pending=0, delayed=0, in_flight=0, dropped=0)
            continue
        summary = queue_views.summarize(broker.store, name, session.clock)
        found.update({key: value for key, value in vars(summary).items() if key != "queue"})
    return json_response({"queues": list(queues.values())})


async def list_messages(request: Request) -> Response:
    session = session_of(request)
    queue = request.path_params["queue"]
    limit = query_int(request, "limit", DEFAULT_MESSAGES_PER_PAGE, low=1, high=MAX_MESSAGES_PER_PAGE)
    broker = _broker(session)
    if broker is None:
        return json_response({"messages": [], "cursor": None})
    now_ms = session.clock.now_ms()
    rows = broker.store.pending(queue, limit)
    return json_response({"messages": [_message_document(row, now_ms) for row in rows], "cursor": None})


async def list_dropped(request: Request) -> Response:
    session = session_of(request)
    queue = request.path_params["queue"]
    limit = query_int(request, "limit", DEFAULT_MESSAGES_PER_PAGE, low=1, high=MAX_MESSAGES_PER_PAGE)
    broker = _broker(session)
    records = [] if broker is None else queue_views.last_dropped(broker.store, queue, limit)
    return json_response(
        {
            "messages": [
                {**queue_views.record_json(r), "body": jsonable(r.body), "preview": preview(r.body)}
                for r in records
            ]
        }
    )


async def send_message(request: Request) -> Response:
    session = session_of(request)
    queue = request.path_params["queue"]
    document = await read_json(request)
    if "body" not in document:
        raise bad_request('expected "body" in the request body: the message to send')
    content_type = document.get("content_type", "json")
    if content_type not in SENDABLE_CONTENT_TYPES:
        raise bad_request(
            f"content_type must be one of {', '.join(SENDABLE_CONTENT_TYPES)}, found {content_type!r}"
        )
    delay_s = document.get("delay_seconds")
    await (
        session.queue_broker()
        .producer(queue)
        .send(document["body"], contentType=content_type, delaySeconds=delay_s)
    )
    record_action(request, f"Sent a test message to {queue}", "queues", queue=queue)
    return json_response({"sent": 1})


async def not_yet(request: Request) -> Response:
    raise ApiError(501, "not-available", "This queue action is not available yet")


ROUTES = [
    Route("/api/queues", list_queues, methods=["GET"]),
    Route("/api/queues/{queue}/messages", list_messages, methods=["GET"]),
    Route("/api/queues/{queue}/dropped", list_dropped, methods=["GET"]),
    Route("/api/queues/{queue}/send", send_message, methods=["POST"]),
    Route("/api/queues/{queue}/pause", not_yet, methods=["POST"]),
    Route("/api/queues/{queue}/resume", not_yet, methods=["POST"]),
    Route("/api/queues/{queue}/purge", not_yet, methods=["POST"]),
    Route("/api/queues/{queue}/redrive", not_yet, methods=["POST"]),
]
