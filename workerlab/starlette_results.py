"""A fetch handler may return a Starlette response: turned into a workers ``Response`` where one is needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compat.response import Response


async def to_workers_response(result: object) -> Response | None:
    """``result`` (a Starlette response, streaming ones too) as a workers ``Response``; None when it
    is not a Starlette response."""
    from starlette.responses import Response as StarletteResponse

    from .compat.response import Response

    if not isinstance(result, StarletteResponse):
        return None
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await result(scope, receive, send)
    headers = [(bytes(name).lower(), bytes(value)) for name, value in start.get("headers", [])]
    return Response._from_parts(start.get("status", 200), headers, b"".join(chunks))
