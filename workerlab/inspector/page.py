"""The page: ``index.html`` with this process's token in it, and the static files beside it.

Everything the page needs ships in ``static/`` of this package; nothing is fetched from elsewhere
(the Content-Security-Policy the app sends says so to the browser too).
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .responses import not_found
from .state import state_of

_SCRIPTS = (
    "core",
    "main",
    "workers",
    "queues",
    "crons",
    "kv",
    "d1",
    "r2",
    "durable",
    "workflows",
    "timeline",
)
#: The static files the page loads, and their media types.
STATIC_FILES = {
    "inspector.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
    **{f"{name}.js": "text/javascript; charset=utf-8" for name in _SCRIPTS},
}
#: Where the token goes in ``index.html``.
_TOKEN_SLOT = "{{token}}"


@cache
def static_file(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


async def index(request: Request) -> Response:
    page = static_file("index.html").decode()
    page = page.replace(_TOKEN_SLOT, html.escape(state_of(request).token, quote=True))
    return Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise not_found(f"No static file named {name!r}")
    return Response(static_file(name), media_type=media_type, headers={"cache-control": "no-cache"})


ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/static/{name}", static, methods=["GET"]),
]
