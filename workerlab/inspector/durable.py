"""Durable Object routes: the namespaces, their objects (id, name, in memory or not, alarm), and one
object's storage: its key-value pairs and its SQL tables, read from its file without waking it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..durable import DurableObjectNamespace, list_durable_object_ids
from ..durable.kv import KV_TABLE, read_value
from ..durable.store import class_dir, object_file_name
from ..errors import StorageError
from .readonly_sql import QueryResult, describe_tables, read
from .responses import ApiError, json_response, jsonable, not_found, preview, query_int
from .state import binding_of, bindings_of_kind, session_of

#: Key-value pairs shown per object unless the request asks for another count.
DEFAULT_PAIRS_SHOWN = 200
#: Most pairs one request may ask for.
MAX_PAIRS_SHOWN = 1_000
#: Tables of an object's database that hold workerlab's own bookkeeping, not the user's SQL.
_HIDDEN_PREFIX = "_cf_"


def _namespace(request: Request) -> DurableObjectNamespace:
    return binding_of(request, DurableObjectNamespace, "Durable Object namespace")


def _alarm(namespace: DurableObjectNamespace, object_id: str) -> dict[str, Any] | None:
    alarm = namespace.objects.book.find(object_id)
    return None if alarm is None else {"scheduled_ms": alarm.scheduled_ms, "retry_count": alarm.retry_count}


async def list_namespaces(request: Request) -> Response:
    found = bindings_of_kind(session_of(request), DurableObjectNamespace)
    namespaces = [
        {
            "worker": worker,
            "binding": binding,
            "class_name": namespace.class_name,
            "defined_by": namespace.worker,
            "storage": namespace.objects.kind,
            "objects": len(list_durable_object_ids(namespace)),
        }
        for worker, binding, namespace in found
    ]
    return json_response({"namespaces": namespaces})


async def list_objects(request: Request) -> Response:
    namespace = _namespace(request)
    live = {object_id.toString() for object_id in namespace.objects.live_ids()}
    objects = [
        {
            "id": object_id.toString(),
            "name": object_id.name,
            "in_memory": object_id.toString() in live,
            "alarm": _alarm(namespace, object_id.toString()),
        }
        for object_id in list_durable_object_ids(namespace)
    ]
    return json_response({"objects": objects})


async def show_object(request: Request) -> Response:
    namespace = _namespace(request)
    object_id = request.path_params["object_id"]
    known = {found.toString(): found for found in list_durable_object_ids(namespace)}
    if object_id not in known:
        raise not_found(f"The namespace {namespace.class_name} has no object {object_id!r}")
    limit = query_int(request, "limit", DEFAULT_PAIRS_SHOWN, low=1, high=MAX_PAIRS_SHOWN)
    objects = namespace.objects
    if objects.persist_dir is None:
        raise ApiError(
            409, "in-memory", "This session keeps Durable Objects in memory; the inspector reads files"
        )
    path = class_dir(objects.persist_dir, objects.class_name) / object_file_name(object_id)
    storage: dict[str, Any] = {"pairs": [], "more_pairs": False, "tables": []}
    if path.is_file():
        storage = await read(path, _storage(limit, sql=objects.kind == "sqlite"))
    return json_response(
        {
            "id": object_id,
            "name": known[object_id].name,
            "class_name": objects.class_name,
            "alarm": _alarm(namespace, object_id),
            **storage,
        }
    )


def _storage(limit: int, *, sql: bool) -> Callable[[Callable[..., QueryResult]], dict[str, Any]]:
    def collect(query: Callable[..., QueryResult]) -> dict[str, Any]:
        rows = query(f"SELECT key, value FROM {KV_TABLE} ORDER BY key LIMIT ?", limit + 1).rows
        pairs = []
        for key, data in rows[:limit]:
            try:
                value = read_value(data, key)
            except StorageError as error:
                value = f"<{error}>"
            pairs.append({"key": key, "value": jsonable(value), "preview": preview(value)})
        tables = describe_tables(query, hidden_prefix=_HIDDEN_PREFIX) if sql else []
        return {"pairs": pairs, "more_pairs": len(rows) > limit, "tables": tables}

    return collect


ROUTES = [
    Route("/api/durable-objects", list_namespaces, methods=["GET"]),
    Route("/api/durable-objects/{worker}/{binding}/objects", list_objects, methods=["GET"]),
    Route("/api/durable-objects/{worker}/{binding}/objects/{object_id}", show_object, methods=["GET"]),
]
