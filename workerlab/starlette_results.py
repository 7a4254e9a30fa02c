"""A fetch handler may return a Starlette response: turned into a workers ``Response`` where one is needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .harness_http import collect_response

if TYPE_CHECKING:
    from .compat.response import Response


async def to_workers_response(result: object) -> Response | None:
    """``result`` (a Starlette response, streaming ones too) as a workers ``Response``; None when it
    is not a Starlette response."""
    from starlette.responses import Response as StarletteResponse

    if not isinstance(result, StarletteResponse):
        return None

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    return await collect_response(result, scope, receive, f"the {type(result).__name__} of a fetch handler")
