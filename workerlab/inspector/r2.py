"""R2 routes: the buckets, their objects page by page (folders by ``/``), one object's metadata, its body.

A body is always served as an attachment, never shown in the inspector's own origin: an HTML or
SVG object opened inline there could run script next to the page's token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import limits
from ..bindings.r2 import R2BucketBinding
from .responses import bad_request, json_response, jsonable, not_found, query_int
from .state import binding_of, bindings_of_kind, session_of

#: Objects listed per page unless the request asks for another count.
DEFAULT_OBJECTS_PER_PAGE = 100


def object_document(obj: Any) -> dict[str, Any]:
    return {
        "key": obj["key"],
        "size": obj["size"],
        "etag": obj["etag"],
        "uploaded": jsonable(obj["uploaded"]),
        "storage_class": obj["storageClass"],
        "http_metadata": jsonable(obj.get("httpMetadata") or {}),
        "custom_metadata": jsonable(obj.get("customMetadata") or {}),
    }


def _key(request: Request) -> str:
    key = request.query_params.get("key")
    if not key:
        raise bad_request("expected ?key=<the object's key> in the query")
    return key


async def list_buckets(request: Request) -> Response:
    found = bindings_of_kind(session_of(request), R2BucketBinding)
    return json_response({"buckets": [{"worker": w, "binding": b} for w, b, _ in found]})


async def list_objects(request: Request) -> Response:
    bucket = binding_of(request, R2BucketBinding, "R2 bucket")
    params = request.query_params
    options: dict[str, Any] = {
        "prefix": params.get("prefix", ""),
        "delimiter": params.get("delimiter", ""),
        "limit": query_int(request, "limit", DEFAULT_OBJECTS_PER_PAGE, low=1, high=limits.R2_MAX_LIST_LIMIT),
        "include": ["httpMetadata", "customMetadata"],
    }
    if params.get("cursor"):
        options["cursor"] = params["cursor"]
    listing = await bucket.list(options)
    return json_response(
        {
            "objects": [object_document(obj) for obj in listing["objects"]],
            "prefixes": list(listing["delimitedPrefixes"]),
            "cursor": listing["cursor"] or None,
            "truncated": listing["truncated"],
        }
    )


async def head_object(request: Request) -> Response:
    bucket = binding_of(request, R2BucketBinding, "R2 bucket")
    key = _key(request)
    obj = await bucket.head(key)
    if obj is None:
        raise not_found(f"The bucket {bucket.binding} holds no object {key!r}")
    return json_response(object_document(obj))


async def download_object(request: Request) -> Response:
    bucket = binding_of(request, R2BucketBinding, "R2 bucket")
    key = _key(request)
    obj = await bucket.get(key)
    if obj is None:
        raise not_found(f"The bucket {bucket.binding} holds no object {key!r}")
    body: bytes = await obj.bytes()
    name = key.rsplit("/", 1)[-1] or "object"
    http = obj.get("httpMetadata") or {}
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "content-security-policy": "sandbox",
        "etag": obj["httpEtag"],
    }
    return Response(body, media_type=http.get("contentType") or "application/octet-stream", headers=headers)


ROUTES = [
    Route("/api/r2", list_buckets, methods=["GET"]),
    Route("/api/r2/{worker}/{binding}/objects", list_objects, methods=["GET"]),
    Route("/api/r2/{worker}/{binding}/object", head_object, methods=["GET"]),
    Route("/api/r2/{worker}/{binding}/download", download_object, methods=["GET"]),
]
