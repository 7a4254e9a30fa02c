"""The inspector's ASGI app: the guard, the routes of every page's API, and JSON errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from .guard import check
from .responses import ApiError, error_body, not_found
from .state import SESSION_KEY, STATE_KEY, InspectorState

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute, Router

    from ..server import Receive, Send
    from ..session import Session

logger = logging.getLogger("workerlab")

#: Where `workerlab dev` serves the inspector.
INSPECTOR_PATH = "/cdn-cgi/workerlab/"

#: Sent with every answer: the page loads only its own files, is never framed by another site
#: (no click-jacking of its buttons), and sends no Referer to the links in what it shows.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


async def _unknown(request: Request) -> None:
    raise not_found(f"Nothing at {request.url.path}: see the API list in SPEC §15")


def _routes() -> list[BaseRoute]:
    # Imported when the first request comes, not when `workerlab dev` starts.
    from starlette.routing import Mount, Route

    from . import crons, d1, durable, kv, page, queues, r2, stream, workers, workflows

    api: list[BaseRoute] = []
    for module in (workers, queues, crons, kv, d1, r2, durable, workflows):
        api += module.ROUTES
    api += [
        Route("/api/events", stream.events, methods=["GET"]),
        Route("/api/timeline", stream.timeline, methods=["GET"]),
    ]
    return [Mount(INSPECTOR_PATH.rstrip("/"), routes=[*page.ROUTES, *api, Route("/{rest:path}", _unknown)])]


class InspectorApp:
    """The inspector, mounted by `workerlab dev` at :data:`INSPECTOR_PATH`.

    One app lives as long as the process: its token, timeline and cron runs survive reloads of
    the workers. :meth:`attach` gives it each newly loaded session (it also picks the session up
    from the first request that carries it). ``allow_remote`` lets clients off this machine in.
    """

    def __init__(self, *, state: InspectorState | None = None, allow_remote: bool = False) -> None:
        self.state = state or InspectorState()
        self.allow_remote = allow_remote
        self._router: Router | None = None

    @property
    def token(self) -> str:
        """The per-process token state-changing requests must carry."""
        return self.state.token

    def attach(self, session: Session) -> None:
        """Record what ``session`` does from now on (call it for every session loaded)."""
        self.state.attach(session)

    def stop_when(self, stopping: Callable[[], bool]) -> None:
        """End open event streams once ``stopping()`` is true (the server is shutting down)."""
        self.state.stopping = stopping

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = False

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), *SECURITY_HEADERS]}
            await send(message)

        refusal = check(scope, self.state.token, allow_remote=self.allow_remote)
        if refusal is not None:
            await _send_error(send_with_headers, refusal.status, refusal.code, refusal.message)
            return
        session = scope.get(SESSION_KEY)
        if session is not None:
            self.state.attach(session)
        if self._router is None:
            from starlette.routing import Router

            self._router = Router(routes=_routes())
        try:
            await self._router({**scope, STATE_KEY: self.state}, receive, send_with_headers)
        except UserError as error:
            if started:
                raise
            status = error.status if isinstance(error, ApiError) else 400
            await _send_error(send_with_headers, status, error.code, error.message)
        except Exception as error:
            logger.error("The inspector failed on %s %s", scope["method"], scope["path"], exc_info=error)
            if started:
                raise
            await _send_error(
                send_with_headers, 500, "internal", f"The inspector failed: {error!r} (see the terminal)"
            )


def inspector_url(host: str, port: int) -> str:
    """Where a browser on this machine opens the inspector of a server bound to ``host``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # bound to every address: loopback is one of them, and the one answered
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{INSPECTOR_PATH}"


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = error_body(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
