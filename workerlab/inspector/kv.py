"""KV routes: the namespaces, their keys page by page, and one value with its metadata."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import limits
from ..bindings.kv import KVNamespaceBinding
from .responses import bad_request, json_response, jsonable, not_found, query_int
from .state import binding_of, bindings_of_kind, session_of

#: Keys listed per page unless the request asks for another count.
DEFAULT_KEYS_PER_PAGE = 100


def value_document(data: bytes) -> dict[str, object]:
    """A stored value for display: its text when it is UTF-8, else its bytes in base64."""
    try:
        return {"size": len(data), "text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"size": len(data), "bytes": jsonable(data)}


async def list_namespaces(request: Request) -> Response:
    found = bindings_of_kind(session_of(request), KVNamespaceBinding)
    return json_response({"namespaces": [{"worker": w, "binding": b} for w, b, _ in found]})


async def list_keys(request: Request) -> Response:
    namespace = binding_of(request, KVNamespaceBinding, "KV namespace")
    options: dict[str, object] = {
        "prefix": request.query_params.get("prefix", ""),
        "limit": query_int(request, "limit", DEFAULT_KEYS_PER_PAGE, low=1, high=limits.KV_MAX_LIST_LIMIT),
    }
    if request.query_params.get("cursor"):
        options["cursor"] = request.query_params["cursor"]
    listing = await namespace.list(options)
    return json_response(
        {
            "keys": jsonable(listing["keys"]),
            "cursor": listing["cursor"] or None,
            "complete": listing["list_complete"],
        }
    )


async def get_value(request: Request) -> Response:
    namespace = binding_of(request, KVNamespaceBinding, "KV namespace")
    key = request.query_params.get("key")
    if not key:
        raise bad_request("expected ?key=<the key> in the query")
    found = await namespace.getWithMetadata(key, "bytes")
    if found["value"] is None:
        raise not_found(f"The namespace {namespace.binding} holds no key {key!r} (or it expired)")
    return json_response(
        {"key": key, "metadata": jsonable(found["metadata"]), **value_document(found["value"])}
    )


ROUTES = [
    Route("/api/kv", list_namespaces, methods=["GET"]),
    Route("/api/kv/{worker}/{binding}/keys", list_keys, methods=["GET"]),
    Route("/api/kv/{worker}/{binding}/value", get_value, methods=["GET"]),
]
