"""Queue routes: every queue with its counts and consumer, messages page by page, dropped messages,
and the actions (send a test message, pause, resume, purge, redrive a dead-letter queue).

The reads and the actions are the functions `workerlab queues` calls (:mod:`workerlab.queues.inspector`
and :mod:`workerlab.queues.admin`), so the page, the command line and a script see and do the
same thing. A page of messages is one indexed range read, however long the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from ..bindings.queue import QueueProducer, queue_names
from ..queues import admin
from ..queues import inspector as queue_views
from .responses import (
    bad_request,
    json_response,
    jsonable,
    not_found,
    preview,
    query_int,
    read_json,
    required_string,
)
from .state import record_action, session_of

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..queues.store import QueueStore
    from ..session import Session

#: Messages per page unless the request asks for another count.
DEFAULT_MESSAGES_PER_PAGE = 50
#: Most messages one page may ask for.
MAX_MESSAGES_PER_PAGE = 500
#: Content types a test message may be sent as from the page.
SENDABLE_CONTENT_TYPES = ("json", "text")


def queue_marker(store: QueueStore) -> object:
    """A value that changes whenever the store does: this process's writes (``total_changes``) and
    other processes' commits (``data_version``)."""
    return store.connection.total_changes, store.data_version()


def _store(session: Session) -> QueueStore | None:
    broker = session.broker
    return None if broker is None else broker.store


def _retention_s(session: Session, queue: str) -> int:
    broker = session.broker
    assert broker is not None  # asked only where there is a store, so a broker
    return broker.settings(queue).message_retention_period_s


def _topology(session: Session, store: QueueStore | None) -> dict[str, dict[str, Any]]:
    """What the configs say of each queue (its consumer, its dead-letter queue, its producers), for
    every queue a config names or the store holds."""
    queues: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        empty: dict[str, Any] = {
            "consumer": None,
            "dead_letter_queue": None,
            "dead_letter_of": [],
            "producers": [],
        }
        return queues.setdefault(name, {"name": name, **empty})

    stored = [] if store is None else store.queues()  # read once, not once per worker
    for runtime in session.workers.values():
        names = [*queue_names(runtime.config), *stored] if store is not None else []
        for name in names:
            entry(name)
        for consumer in runtime.config.consumers:
            found = entry(consumer.queue)
            found["consumer"] = {
                "worker": runtime.name,
                "max_retries": consumer.max_retries,
                "type": consumer.type,
            }
            if consumer.dead_letter_queue:
                found["dead_letter_queue"] = consumer.dead_letter_queue
                entry(consumer.dead_letter_queue)["dead_letter_of"].append(consumer.queue)
        for spec, _, _ in runtime.bindings:
            if isinstance(spec, QueueProducer):
                entry(spec.queue)["producers"].append({"worker": runtime.name, "binding": spec.binding})
    return queues


def _known_queue(request: Request) -> tuple[Session, QueueStore, str]:
    """The session, its queue store and the ``{queue}`` of the path, which some config names or the
    store holds (a 404 otherwise)."""
    session = session_of(request)
    queue = request.path_params["queue"]
    store = _store(session)
    known = _topology(session, store)
    if store is None or queue not in known:
        names = ", ".join(known) or "none"
        raise not_found(f"No queue named {queue!r} is configured or holds messages (queues: {names})")
    return session, store, queue


async def list_queues(request: Request) -> Response:
    session = session_of(request)
    store = _store(session)
    queues = _topology(session, store)
    for name, found in queues.items():
        if store is None:
            summary = queue_views.QueueSummary(name, pending=0, delayed=0, in_flight=0, dropped=0)
        else:
            retention_s = _retention_s(session, name)
            summary = await store.run(
                queue_views.summarize, store, name, session.clock, retention_s=retention_s
            )
        # Every field of the summary, as `workerlab queues --json` prints it.
        found.update({key: value for key, value in vars(summary).items() if key != "queue"})
    return json_response({"queues": list(queues.values())})


async def list_messages(request: Request) -> Response:
    session, store, queue = _known_queue(request)
    limit = query_int(request, "limit", DEFAULT_MESSAGES_PER_PAGE, low=1, high=MAX_MESSAGES_PER_PAGE)
    cursor = request.query_params.get("cursor") or None
    retention_s = _retention_s(session, queue)
    now_ms = session.clock.now_ms()
    try:
        found, next_cursor = await store.run(
            queue_views.page, store, queue, cursor, limit, now_ms=now_ms, retention_s=retention_s
        )
    except ValueError as error:
        raise bad_request(str(error)) from None
    messages = [{**message.to_json(), "preview": preview(message.body)} for message in found]
    return json_response({"messages": messages, "cursor": next_cursor})


async def list_dropped(request: Request) -> Response:
    _, store, queue = _known_queue(request)
    limit = query_int(request, "limit", DEFAULT_MESSAGES_PER_PAGE, low=1, high=MAX_MESSAGES_PER_PAGE)
    records = await store.run(queue_views.last_dropped, store, queue, limit)
    messages = [
        {**queue_views.record_json(r), "body": jsonable(r.body), "preview": preview(r.body)} for r in records
    ]
    return json_response({"messages": messages})


async def send_message(request: Request) -> Response:
    session, _, queue = _known_queue(request)
    document = await read_json(request)
    if "body" not in document:
        raise bad_request('expected "body" in the request body: the message to send')
    content_type = document.get("content_type", "json")
    if content_type not in SENDABLE_CONTENT_TYPES:
        kinds = ", ".join(SENDABLE_CONTENT_TYPES)
        raise bad_request(f"content_type must be one of {kinds}, found {content_type!r}")
    producer = session.queue_broker().producer(queue)
    await producer.send(
        document["body"], contentType=content_type, delaySeconds=document.get("delay_seconds")
    )
    record_action(request, f"Sent a test message to {queue}", "queues", queue=queue)
    return json_response({"sent": 1})


async def pause(request: Request) -> Response:
    _, store, queue = _known_queue(request)
    changed = await store.run(admin.pause, store, queue)
    record_action(request, f"Paused delivery of {queue}", "queues", queue=queue)
    return json_response({"paused": True, "changed": changed})


async def resume(request: Request) -> Response:
    _, store, queue = _known_queue(request)
    changed = await store.run(admin.resume, store, queue)
    record_action(request, f"Resumed delivery of {queue}", "queues", queue=queue)
    return json_response({"paused": False, "changed": changed})


async def purge(request: Request) -> Response:
    _, store, queue = _known_queue(request)
    purged = await store.run(admin.purge, store, queue)
    record_action(request, f"Purged {purged} message(s) of {queue}", "queues", queue=queue)
    return json_response({"purged": purged})


async def redrive(request: Request) -> Response:
    session, store, queue = _known_queue(request)
    document = await read_json(request)
    to = required_string(document, "to")
    known = _topology(session, store)
    if to not in known:
        raise bad_request(f"Cannot redrive to {to!r}: no such queue (queues: {', '.join(known)})")
    limit = document.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise bad_request(f'"limit" must be a whole number of messages, found {limit!r}')
    moved = await store.run(admin.redrive, store, queue, to, session.clock.now_ms(), limit=limit)
    record_action(request, f"Redrove {moved} message(s) from {queue} to {to}", "queues", queue=queue, to=to)
    return json_response({"moved": moved})


ROUTES = [
    Route("/api/queues", list_queues, methods=["GET"]),
    Route("/api/queues/{queue}/messages", list_messages, methods=["GET"]),
    Route("/api/queues/{queue}/dropped", list_dropped, methods=["GET"]),
    Route("/api/queues/{queue}/send", send_message, methods=["POST"]),
    Route("/api/queues/{queue}/pause", pause, methods=["POST"]),
    Route("/api/queues/{queue}/resume", resume, methods=["POST"]),
    Route("/api/queues/{queue}/purge", purge, methods=["POST"]),
    Route("/api/queues/{queue}/redrive", redrive, methods=["POST"]),
]
