"""The ASGI app that serves a worker: its fetch handler, the reserved scheduled endpoints and the
service-call endpoint other `workerlab dev` processes use. `workerlab dev` serves it over HTTP; the
harness's ``worker.fetch`` drives the same app in-process."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from . import limits
from .compat.cf import scope_cf
from .compat.request import Request
from .compat.response import Response
from .errors import HandlerNotFoundError
from .events import RequestServed
from .mounts import RPC_PATH_PREFIX, TOKEN_HEADER
from .request_limits import Refusal, read_body, refusal, request_body
from .tracebacks import format_user_traceback

if TYPE_CHECKING:
    from .runtime import Runtime

logger = logging.getLogger("workerlab")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCHEDULED_PATHS = ("/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled")
TEST_SCHEDULED_PATH = "/__scheduled"
_RESERVED_PREFIXES = ("/cdn-cgi/handler/", "/cdn-cgi/local/")
#: What WorkerApp._special answers for a request the worker serves after all (no HTTP status is 0).
_THE_WORKERS = 0


class RuntimeSlot:
    """The runtime currently serving, or the error that keeps one from loading (after a broken edit)."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime: Runtime | None = runtime
        self.load_error: str | None = None


class WorkerApp:
    """ASGI app serving one worker. Thin on purpose: every request goes through it.

    ``raise_errors`` (the harness) lets an exception of the fetch handler propagate instead of
    answering a 500 page, the way Starlette's TestClient does. ``rpc_token`` is the secret other
    processes must send to call this process's workers (None: no service calls accepted).
    """

    def __init__(
        self,
        slot: RuntimeSlot,
        *,
        test_scheduled: bool = False,
        raise_errors: bool = False,
        rpc_token: str | None = None,
        mounts: Sequence[tuple[str, AsgiApp]] = (),
    ) -> None:
        self.slot = slot
        self.test_scheduled = test_scheduled
        self.raise_errors = raise_errors
        self.rpc_token = rpc_token
        #: (path prefix under /cdn-cgi/workerlab/, ASGI app): workerlab's own pages and APIs. Each app
        #: finds the session in ``scope["workerlab.session"]``.
        self.mounts = tuple(mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        started = time.perf_counter()
        failure: Exception | None = None
        path: str = scope["path"]
        runtime = self.slot.runtime
        status = _THE_WORKERS
        if (
            runtime is None
            or path.startswith("/cdn-cgi/")
            or (self.test_scheduled and path == TEST_SCHEDULED_PATH)
        ):
            special = await self._special(runtime, path, scope, receive, send)
            if runtime is None or special is None:  # not the worker's request: no request line
                return
            status = special
        if status == _THE_WORKERS:
            # The hot path, kept inline: every request of the worker goes through here.
            if (refused := refusal(scope)) is not None:
                status = await _send_refusal(refused, scope, send)
            elif runtime.assets is not None and (served := _serve_asset(runtime, scope)) is not None:
                status = await _send_workers_response(served, send)
            else:
                message = await receive()
                body: bytes = message.get("body", b"")
                try:
                    if message.get("more_body", False) or len(body) > limits.MAX_BODY_BYTES:
                        body = await read_body(message, receive)
                    result = await runtime.fetch(_request(scope, body))
                except Refusal as too_large:
                    status = await _send_refusal(too_large, scope, send)
                except Exception as error:
                    if self.raise_errors:
                        raise
                    failure = error
                    status = await _fetch_failed(error, scope, send)
                else:
                    if isinstance(result, Response):
                        status, response_headers, payload = result._asgi_parts()
                        start = {"type": "http.response.start", "status": status, "headers": response_headers}
                        await send(start)
                        await send({"type": "http.response.body", "body": payload})
                    else:
                        status = await self._send_other_result(runtime, result, scope, receive, send)
        bus = runtime.session.bus
        if bus.wants(RequestServed):
            query = scope.get("query_string")
            target = f"{path}?{query.decode('latin-1')}" if query else path
            elapsed_ms = (time.perf_counter() - started) * 1000
            bus.emit(RequestServed(runtime.name, scope["method"], target, status, elapsed_ms, failure))

    async def _special(
        self, runtime: Runtime | None, path: str, scope: Scope, receive: Receive, send: Send
    ) -> int | None:
        """A request workerlab answers itself: no worker loaded, the reserved paths, /__scheduled.
        Returns the status to log as the worker's request, None when it was not the worker's (no
        worker loaded, a service call whose caller logs an RPC line, workerlab's own apps), or
        ``_THE_WORKERS`` when the worker serves it after all (any other /cdn-cgi/ path)."""
        mounted = next((app for prefix, app in self.mounts if path.startswith(prefix)), None)
        if runtime is None:
            if mounted is not None:  # the inspector stays reachable while a broken edit is served
                await _send_mounted(mounted, {**scope, "workerlab.session": None}, receive, send)
            else:
                message = self.slot.load_error or "the worker is not loaded"
                await _send_error(scope, send, 500, "The worker failed to load", message)
            return None
        if path in SCHEDULED_PATHS:
            return await self._scheduled(runtime, scope, send, dunder=False)
        if path.startswith(RPC_PATH_PREFIX) and scope["method"] == "POST":
            await self._service_call(runtime, path, scope, receive, send)
            return None
        if mounted is not None:
            await _send_mounted(mounted, {**scope, "workerlab.session": runtime.session}, receive, send)
            return None
        if path.startswith(_RESERVED_PREFIXES):
            valid = " and ".join(SCHEDULED_PATHS)
            body = f"Unknown handler path {path}: the valid handler paths are {valid}\n"
            return await _send_text(send, 404, body)
        if path == TEST_SCHEDULED_PATH and self.test_scheduled:
            return await self._scheduled(runtime, scope, send, dunder=True)
        return _THE_WORKERS  # any other /cdn-cgi/ path belongs to the worker

    async def _send_other_result(
        self, runtime: Runtime, result: object, scope: Scope, receive: Receive, send: Send
    ) -> int:
        if _is_starlette_response(result):
            return await _send_mounted(result, scope, receive, send)  # type: ignore[arg-type]
        message = (
            f"The fetch handler of {runtime.worker.path} returned {type(result).__name__}; "
            "expected a workers.Response (or a Starlette Response)"
        )
        if self.raise_errors:
            raise TypeError(message)
        logger.error("%s", message)
        return await _send_error(scope, send, 500, "Invalid response from the worker", message)

    async def _service_call(
        self, runtime: Runtime, path: str, scope: Scope, receive: Receive, send: Send
    ) -> int:
        """A service binding call from another `workerlab dev` process sharing the persist directory."""
        import hmac

        from .bindings.service_remote import serve_call

        token = dict(scope["headers"]).get(TOKEN_HEADER.encode())
        if self.rpc_token is None or token is None or not hmac.compare_digest(token, self.rpc_token.encode()):
            return await _send_text(send, 403, "Service calls need this process's token from the registry\n")
        name = path[len(RPC_PATH_PREFIX) :]
        target = runtime.session.loaded_worker(name)
        if target is None:
            return await _send_text(send, 404, f"No worker named {name!r} runs in this process\n")
        try:
            data = await request_body(receive)
        except Refusal as too_large:
            return await _send_refusal(too_large, scope, send)
        answer = await serve_call(target, data)
        return await _send_bytes(send, 200, answer, b"application/octet-stream")

    async def _scheduled(self, runtime: Runtime, scope: Scope, send: Send, *, dunder: bool) -> int:
        """Run the scheduled handler for /cdn-cgi/handler/scheduled, or /__scheduled when ``dunder``."""
        params = _query(scope)
        cron = params.get("cron", "")
        scheduled_time_ms = _parse_time(params.get("time"), runtime)
        if isinstance(scheduled_time_ms, str):
            return await _send_text(send, 400, scheduled_time_ms)
        _warn_unknown_cron(runtime, cron)
        result = await runtime.scheduled(cron, scheduled_time_ms)
        if dunder:
            if result.outcome == "ok":
                return await _send_text(send, 200, "Ran scheduled event")
            detail = format_user_traceback(result.error) if result.error is not None else "the handler failed"
            return await _send_error(scope, send, 500, "Error in the scheduled handler", detail)
        status = 200 if result.outcome == "ok" else 500
        if params.get("format") == "json":
            import json

            body = json.dumps({"outcome": result.outcome, "noRetry": result.no_retry})
            return await _send_bytes(send, status, body.encode(), b"application/json")
        return await _send_text(send, status, result.outcome)


def _serve_asset(runtime: Runtime, scope: Scope) -> Response | None:
    """The assets' answer when the router sends the request to them (None: the worker's turn)."""
    assets = runtime.assets
    assert assets is not None
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
    if assets.worker_first(scope["path"], headers, has_worker="fetch" in runtime.worker.invokers):
        return None
    query = (scope.get("query_string") or b"").decode("latin-1")
    return assets.serve(scope["method"], raw_path, query, headers)


def _request(scope: Scope, body: bytes) -> Request:
    """The worker's request for an ASGI request, with its ``request.cf``."""
    return Request._from_asgi(_url(scope), scope["method"], scope["headers"], body, partial(scope_cf, scope))


def _url(scope: Scope) -> str:
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
            break
    if host is None:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query = scope.get("query_string")
    if query:
        return f"{scope.get('scheme', 'http')}://{host}{path}?{query.decode('latin-1')}"
    return f"{scope.get('scheme', 'http')}://{host}{path}"


async def _send_refusal(refused: Refusal, scope: Scope, send: Send) -> int:
    """Cloudflare's answer to a request over its size limits (the worker never sees it)."""
    return await _send_error(scope, send, refused.status, refused.title, refused.detail)


async def _send_workers_response(response: Response, send: Send) -> int:
    status, headers, payload = response._asgi_parts()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    return status


async def _fetch_failed(error: Exception, scope: Scope, send: Send) -> int:
    detail = format_user_traceback(error)
    logger.error("Uncaught exception in fetch handler:\n%s", detail)
    if isinstance(error, HandlerNotFoundError):
        return await _send_error(scope, send, 500, "The worker has no fetch handler", error.message)
    return await _send_error(scope, send, 500, "Uncaught exception in the worker's fetch handler", detail)


def _query(scope: Scope) -> dict[str, str]:
    parsed = parse_qs((scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _parse_time(value: str | None, runtime: Runtime) -> int | str:
    """The ``time`` parameter in ms, the clock's now without one, or an error message."""
    if value is None or value == "":
        return runtime.clock.now_ms()
    try:
        return int(value)
    except ValueError:
        return (
            f"Invalid time parameter {value!r}: "
            "expected milliseconds since the epoch, e.g. time=1767225600000\n"
        )


def _warn_unknown_cron(runtime: Runtime, cron: str) -> None:
    crons = runtime.config.crons
    if cron not in crons:
        configured = ", ".join(f'"{c}"' for c in crons) or "none"
        logger.warning(
            'Cron "%s" matches none of the configured crons (%s); running the handler anyway',
            cron,
            configured,
        )


async def _send_bytes(send: Send, status: int, body: bytes, content_type: bytes) -> int:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _send_text(send: Send, status: int, text: str) -> int:
    return await _send_bytes(send, status, text.encode(), b"text/plain;charset=UTF-8")


async def _send_error(scope: Scope, send: Send, status: int, title: str, detail: str) -> int:
    """An error page: HTML for a browser, plain text for everything else."""
    accept = b""
    for name, value in scope["headers"]:
        if name == b"accept":
            accept = value
            break
    if b"text/html" in accept:
        import html

        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2rem}"
            "pre{background:#fdf2f2;padding:1rem;overflow:auto;border-left:4px solid #c53030}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><pre>{html.escape(detail)}</pre></body></html>"
        )
        return await _send_bytes(send, status, page.encode(), b"text/html;charset=UTF-8")
    return await _send_text(send, status, f"{title}\n\n{detail}\n")


async def _send_mounted(app: AsgiApp, scope: Scope, receive: Receive, send: Send) -> int:
    """Run an ASGI app (or a Starlette response) and return the status it sent."""
    status = 500

    async def capture(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    await app(scope, receive, capture)
    return status


def _is_starlette_response(result: object) -> bool:
    from starlette.responses import Response as StarletteResponse

    return isinstance(result, StarletteResponse)
