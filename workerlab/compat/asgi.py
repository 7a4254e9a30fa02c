"""``workers.asgi`` (also ``import asgi``): serve a Workers request with an ASGI app.

``await asgi.fetch(app, request, env)`` builds the scope Cloudflare's SDK builds (``scope["env"]``
is ``env``; no ``client``, ``server`` or ``root_path``), gives the app the whole body, and returns
the JS-style response as soon as the app has sent it; what the app does afterwards (Starlette's
background tasks) goes on under ``ctx.waitUntil``.

Lifespan: the app's lifespan starts on the first request and its state is copied into each
request's scope. Cloudflare's SDK runs startup and shutdown around every request; workerlab
starts it once per app (per event loop) and shuts it down in :func:`shutdown_lifespans`, so that
serving a request costs what it costs under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Collection, MutableMapping
from typing import Any, NoReturn, Protocol
from urllib.parse import unquote, urlsplit

from workerlab.compat.jsresponse import JsResponse
from workerlab.compat.request import Request
from workerlab.compat.response import NULL_BODY_STATUSES
from workerlab.context import current_context

logger = logging.getLogger("workerlab.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class ASGIApp(Protocol):
    """An ASGI application (FastAPI, Starlette, ...)."""

    def __call__(self, scope: Any, receive: Any, send: Any, /) -> Awaitable[None]: ...


#: The ``scope["asgi"]`` Cloudflare's SDK sends.
ASGI_VERSION = {"spec_version": "2.0", "version": "3.0"}

# App tasks still running after their response, kept alive while no event context holds them.
_background: set[asyncio.Task[None]] = set()


class _Lifespan:
    """One run of an app's lifespan protocol on one event loop."""

    def __init__(self, app: ASGIApp, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.state: dict[str, Any] = {}
        self.supported = False
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[bool] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> _Lifespan:
        self._inbox.put_nowait({"type": "lifespan.startup"})
        # A context of its own: the lifespan outlives the request that happened to start it.
        self._task = self.loop.create_task(self._run(), context=contextvars.Context())
        self.supported = await self._started
        return self

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        try:
            await self.app(scope, self._inbox.get, self._send)
        except Exception:
            # Raising before startup is acknowledged means "no lifespan support" (ASGI spec).
            if self._started.done():
                logger.exception("Exception in the ASGI app's lifespan")
        finally:
            # An app that returns or raises before acknowledging startup has no lifespan support.
            if not self._started.done():
                self._started.set_result(False)
            if not self._stopped.done():
                self._stopped.set_result(None)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            if not self._started.done():
                self._started.set_result(True)
        elif kind == "lifespan.startup.failed":
            if not self._started.done():
                self._started.set_exception(
                    RuntimeError(message.get("message") or "ASGI lifespan startup failed")
                )
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind == "lifespan.shutdown.failed":
                logger.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
            if not self._stopped.done():
                self._stopped.set_result(None)
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message {kind!r}")

    async def shutdown(self) -> None:
        if not self.supported or self._stopped.done():
            return
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        await self._stopped


# id(app) -> (app, startup, env of the worker that served it first); the app is kept so that its id
# is not reused while the entry lives, the env tells which worker (of which session) serves it.
_lifespans: dict[int, tuple[ASGIApp, asyncio.Task[_Lifespan], Any]] = {}


async def _lifespan_of(app: ASGIApp, loop: asyncio.AbstractEventLoop, env: Any) -> _Lifespan:
    entry = _lifespans.get(id(app))
    if entry is not None and entry[0] is app and entry[1].get_loop() is loop:
        startup = entry[1]
        if startup.done():
            return startup.result()  # a failed startup fails every request, as on Cloudflare
    else:
        startup = loop.create_task(_Lifespan(app, loop).startup(), context=contextvars.Context())
        _lifespans[id(app)] = (app, startup, env)
    return await asyncio.shield(startup)


async def shutdown_lifespans(envs: Collection[Any] | None = None) -> None:
    """Shut down the lifespan of the apps served on the running event loop (at worker shutdown or
    reload): those served with one of ``envs`` (the closing session's workers), or every one when
    None; apps of closed loops are forgotten. The next request starts a new lifespan."""
    loop = asyncio.get_running_loop()
    for key, (_, startup, env) in list(_lifespans.items()):
        owner = startup.get_loop()
        if owner.is_closed():
            del _lifespans[key]
        if owner is not loop or (envs is not None and not any(env is given for given in envs)):
            continue
        del _lifespans[key]
        if startup.done() and not startup.cancelled() and startup.exception() is None:
            await startup.result().shutdown()


def _header_pairs(request: Request) -> list[tuple[bytes, bytes]]:
    raw = request._raw_headers
    if raw is not None and request._headers is None:
        return raw  # the server's own pairs: names already lower-case bytes
    return [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in request._sdk_headers().items()
    ]


def request_scope(request: Request, env: Any, state: dict[str, Any] | None) -> Scope:
    """The HTTP scope Cloudflare's SDK gives an ASGI app for ``request``."""
    parts = urlsplit(request.url)
    path = parts.path or "/"
    scope: Scope = {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": "1.1",
        "method": request.method,
        "scheme": parts.scheme,
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": parts.query.encode(),
        "headers": _header_pairs(request),
        "env": env,
    }
    if state is not None:
        scope["state"] = dict(state)  # ASGI: each request gets a shallow copy of the lifespan state
    return scope


class _Exchange:
    """One request through the app: its receive and send, and the response once it is complete."""

    __slots__ = ("_body", "_chunks", "_finished", "_headers", "_status", "response")

    def __init__(self, body: bytes, response: asyncio.Future[JsResponse]) -> None:
        self._body: bytes | None = body
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._finished: asyncio.Event | None = None
        self.response = response

    async def receive(self) -> Message:
        body = self._body
        if body is not None:
            self._body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.response.done():
            if self._finished is None:
                self._finished = asyncio.Event()
            await self._finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._status = message["status"]
            self._headers = [
                (bytes(name).lower(), bytes(value)) for name, value in message.get("headers", ())
            ]
        elif kind == "http.response.body" and not self.response.done():
            chunk = message.get("body", b"")
            if message.get("more_body", False):
                self._chunks.append(chunk)
                return
            if self._chunks:
                chunk = b"".join((*self._chunks, chunk))
            body = None if self._status in NULL_BODY_STATUSES else bytes(chunk)
            self._done(JsResponse._from_parts(self._status, self._headers, body))

    def _done(self, response: JsResponse | BaseException) -> None:
        if isinstance(response, BaseException):
            self.response.set_exception(response)
        else:
            self.response.set_result(response)
        if self._finished is not None:
            self._finished.set()

    async def run(self, app: ASGIApp, scope: Scope) -> None:
        try:
            await app(scope, self.receive, self.send)
            if not self.response.done():
                raise RuntimeError("The application did not generate a response")
        except Exception as exc:
            if not self.response.done():
                self._done(exc)
            else:
                # The response is already on its way: nobody else can see this error.
                logger.exception("Exception in ASGI application after the response was sent")
        finally:
            if not self.response.done():  # cancelled before it responded
                self.response.cancel()


def _keep_running(task: asyncio.Task[None]) -> None:
    ctx = current_context.get()
    if ctx is not None:
        ctx.waitUntil(task)
        return
    _background.add(task)
    task.add_done_callback(_background.discard)


async def fetch(app: ASGIApp, req: Request, env: Any, ctx: Any = None) -> JsResponse:
    """Serve ``req`` with the ASGI ``app`` and return its response (``scope["env"]`` is ``env``).

    An exception the app raises before responding is raised here; ``ctx`` is accepted for
    Cloudflare's signature and not needed (the event's context is found on its own).
    """
    loop = asyncio.get_running_loop()
    event = current_context.get()
    # The worker serving the event owns the lifespan, whatever env its code hands the app.
    owner = env if event is None or event._env is None else event._env
    lifespan = await _lifespan_of(app, loop, owner)
    body = req._take_body() if req._body is not None else b""
    exchange = _Exchange(body, loop.create_future())
    task = loop.create_task(exchange.run(app, request_scope(req, env, lifespan.state)))
    try:
        return await exchange.response
    except Exception:
        logger.debug("ASGI request failed: %s %s", req.method, req.url)
        raise
    finally:
        # Most apps are done by the time their response is; what goes on after it (background
        # tasks) is the event's waitUntil work, as on Cloudflare.
        if not task.done():
            _keep_running(task)


async def websocket(app: ASGIApp, req: Request, env: Any = None) -> NoReturn:
    """Cloudflare's WebSocket bridge for ASGI apps: WebSockets are not emulated locally."""
    from workerlab.bindings.not_emulated import NotEmulatedError

    raise NotEmulatedError(
        "asgi.websocket() has no local equivalent in workerlab: WebSockets (WebSocketPair) are not emulated"
    )


def __getattr__(name: str) -> Any:
    if name == "env":
        return _fastapi_env_dependency()
    raise AttributeError(f"module 'workers.asgi' has no attribute {name!r}")


def _fastapi_env_dependency() -> Any:
    """``asgi.env``: a FastAPI dependency giving ``request.scope["env"]``, as in Cloudflare's SDK."""
    from fastapi import Depends
    from fastapi import Request as FastAPIRequest

    async def env(request: FastAPIRequest) -> Any:
        return request.scope["env"]

    # This module's annotations are strings FastAPI would resolve in its globals: give it the class.
    env.__annotations__["request"] = FastAPIRequest
    return Depends(env)
