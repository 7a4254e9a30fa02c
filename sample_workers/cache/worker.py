"""A cache and rate-limit API over HTTP: values in KV, atomic counters in Durable Objects.

Routes (keys are one path segment: encode a ``/`` in a key as ``%2F``):

- ``GET /cache/<key>``, ``HEAD /cache/<key>``, ``PUT /cache/<key>`` (``{value, ttl?, metadata?}``),
  ``DELETE /cache/<key>``: get, has, set, delete.
- ``POST /cache/<key>/increment`` (``{amount?}``), ``POST /cache/<key>/expire`` (``{ttl}``).
- ``POST /batch/get`` (``{keys}``), ``POST /batch/set`` (``{entries, ttl?, metadata?}``),
  ``POST /batch/delete`` (``{keys}``): getMany, setMany, deleteMany.
- ``GET /keys?prefix=``, ``GET /list?prefix=``: keys, and keys with their metadata.
- ``DELETE /cache``: flush.
- ``POST /ratelimit/<userId>``: count one request of the user in this minute; 429 past the limit.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlparse

import cache_api
from cache_api import Cache, CacheError, NotACounter, check_rate_limit
from counters import Counter
from workers import Response, WorkerEntrypoint

__all__ = ["Counter", "Default"]


def error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status=status)


def ok(**fields) -> Response:
    return Response.json({"ok": True, **fields})


async def body_of(request) -> dict:
    """The request's JSON object ({} for an empty body)."""
    text = await request.text()
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        raise CacheError("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise CacheError("the body must be a JSON object")
    return body


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        segments = [unquote(segment) for segment in url.path.strip("/").split("/")]
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        try:
            return await self.route(request, request.method, segments, query)
        except NotACounter as conflict:
            return error(409, str(conflict))
        except CacheError as refused:
            return error(400, str(refused))

    async def route(self, request, method: str, segments: list[str], query: dict) -> Response:
        cache = Cache(self.env)
        match method, segments:
            case "GET", ["cache", key]:
                value = await cache.get(key)
                if value is None:
                    return error(404, f"no key {key!r}")
                return Response.json({"key": key, "value": value})
            case "HEAD", ["cache", key]:
                return Response(None, status=200 if await cache.has(key) else 404)
            case "PUT", ["cache", key]:
                body = await body_of(request)
                if "value" not in body:
                    raise CacheError("the body must hold the value: {value, ttl?, metadata?}")
                await cache.set(key, body["value"], {k: body[k] for k in ("ttl", "metadata") if k in body})
                return ok()
            case "DELETE", ["cache", key]:
                await cache.delete(key)
                return ok()
            case "POST", ["cache", key, "increment"]:
                body = await body_of(request)
                return Response.json({"key": key, "value": await cache.increment(key, body.get("amount", 1))})
            case "POST", ["cache", key, "expire"]:
                body = await body_of(request)
                if not await cache.expire_existing(key, body.get("ttl")):
                    return error(404, f"no key {key!r}")
                return ok()
            case "DELETE", ["cache"]:
                await cache.flush()
                return ok()
            case "POST", ["batch", operation]:
                return await self.batch(cache, operation, await body_of(request))
            case "GET", ["keys"]:
                return Response.json({"keys": await cache.keys({"prefix": query.get("prefix", "")})})
            case "GET", ["list"]:
                return Response.json({"entries": await cache.list({"prefix": query.get("prefix", "")})})
            case "POST", ["ratelimit", user_id]:
                return await self.rate_limit(cache, user_id)
        return error(404, f"no route for {method} /{'/'.join(segments)}")

    async def batch(self, cache: Cache, operation: str, body: dict) -> Response:
        if operation == "set":
            entries = body.get("entries")
            if not isinstance(entries, dict):
                raise CacheError("the body must hold the entries: {entries: {key: value}, ttl?, metadata?}")
            await cache.setMany(entries, {k: body[k] for k in ("ttl", "metadata") if k in body})
            return ok()
        keys = body.get("keys")
        if not isinstance(keys, list):
            raise CacheError("the body must hold the keys: {keys: [...]}")
        if operation == "get":
            return Response.json({"values": await cache.getMany(keys)})
        if operation == "delete":
            await cache.deleteMany(keys)
            return ok()
        return error(404, f"no batch operation {operation!r} (get, set, delete)")

    async def rate_limit(self, cache: Cache, user_id: str) -> Response:
        verdict = await check_rate_limit(cache, user_id, int(self.env.RATE_LIMIT_PER_MINUTE))
        headers = {
            "x-ratelimit-limit": str(verdict["limit"]),
            "x-ratelimit-remaining": str(verdict["remaining"]),
            "x-ratelimit-reset": str(verdict["resetAt"] // 1000),
        }
        if verdict["allowed"]:
            return Response.json(verdict, headers=headers)
        headers["retry-after"] = str(max(1, -(-(verdict["resetAt"] - cache_api.now_ms()) // 1000)))
        return Response.json(verdict, status=429, headers=headers)
