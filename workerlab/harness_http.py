"""Drive an ASGI app in-process with a workers ``Request`` and collect its ``Response``.

The harness sends ``worker.fetch`` through the same app `workerlab dev` serves (reserved paths,
Content-Length handling, Starlette responses), the way Starlette's TestClient drives an app,
without a socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from .compat.request import Request
    from .compat.response import Response

App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]

_DEFAULT_PORTS = {"http": 80, "https": 443}


async def drive_app(app: App, request: Request) -> Response:
    """One request through ``app``; an exception the app lets through propagates."""
    parts = urlsplit(request.url)
    host = parts.hostname or "localhost"
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
    headers = request._sdk_headers()._raw_pairs()
    if not any(name == b"host" for name, _ in headers):
        headers = [(b"host", parts.netloc.encode("latin-1")), *headers]
    body = request._take_body() if request._body is not None else b""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": parts.scheme or "http",
        "path": unquote(parts.path or "/"),
        "raw_path": (parts.path or "/").encode("latin-1"),
        "query_string": parts.query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "server": (host, port),
        "client": ("127.0.0.1", 0),
    }
    if request.cf is not None:
        scope["workerlab.cf"] = dict(request.cf)
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if sent_request:
            return {"type": "http.disconnect"}
        sent_request = True
        return {"type": "http.request", "body": body, "more_body": False}

    return await collect_response(app, scope, receive, f"{request.method} {request.url}")


async def collect_response(app: App, scope: MutableMapping[str, Any], receive: Any, what: str) -> Response:
    """Run ``app`` on ``scope`` and return what it sent as a workers ``Response`` (a RuntimeError
    naming ``what`` when it sent none)."""
    from .compat.response import Response

    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    if not start:
        raise RuntimeError(f"{what}: the app sent no response")
    raw = [(bytes(name).lower(), bytes(value)) for name, value in start.get("headers", [])]
    return Response._from_parts(start["status"], raw, b"".join(chunks))
