"""``workers.wsgi``: serve a Workers request with a WSGI app (Django, Flask).

``await wsgi.fetch(app, request, env)`` builds the environ Cloudflare's SDK builds (the env is
``environ["workers.env"]``) and runs the app in a worker thread, so that it never blocks the
event loop; inside it ``pyodide.ffi.run_sync`` works, as it does on Cloudflare. The response
body is collected whole, then returned as the JS-style response.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from workerlab.compat.jsresponse import JsResponse
from workerlab.compat.request import Request
from workerlab.compat.response import NULL_BODY_STATUSES
from workerlab.compat.sync import thread_event_loop

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], None]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _native(text: str) -> str:
    """A str as a WSGI "native string": its UTF-8 bytes read as latin-1 (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def build_environ(request: Request, env: Any, body: bytes) -> dict[str, Any]:
    """The WSGI environ Cloudflare's SDK gives an app for ``request`` (with ``body`` read whole)."""
    url = urlsplit(request.url)
    if not url.scheme:
        raise ValueError(f"Request URL is not absolute: {request.url!r}")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": str(request.method),
        "SCRIPT_NAME": "",
        "PATH_INFO": _native(unquote(url.path or "/")),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port) if url.port else _DEFAULT_PORTS.get(url.scheme, "80"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        # Locally apps run in worker threads, several at a time: say so (Cloudflare says False).
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "workers.env": env,
    }
    for name, value in request._sdk_headers().items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


class _Call:
    """One call of a WSGI app: ``start_response`` and the body it produces (PEP 3333)."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self._sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self._sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise AssertionError("start_response() called more than once")
        self.status, self.headers = status, headers
        return self.write

    def write(self, chunk: bytes) -> None:
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        self._sent = True
        self.chunks.append(chunk)

    def run(self, app: WSGIApp, environ: dict[str, Any]) -> None:
        result = app(environ, self.start_response)
        try:
            for chunk in result:
                if chunk:
                    self._sent = True
                    self.chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if self.status is None:
            raise RuntimeError("The WSGI application did not call start_response()")


async def fetch(app: WSGIApp, req: Request, env: Any, ctx: Any = None) -> JsResponse:
    """Serve ``req`` with the WSGI ``app`` in a worker thread and return its response.

    ``environ["workers.env"]`` is ``env``. An exception the app raises is raised here; ``ctx`` is
    accepted for Cloudflare's signature.
    """
    body = req._take_body() if req._body is not None else b""
    environ = build_environ(req, env, body)
    call = _Call()
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    context.run(thread_event_loop.set, loop)  # run_sync() in the app waits on this loop
    await loop.run_in_executor(None, context.run, call.run, app, environ)
    assert call.status is not None
    code, _, reason = call.status.partition(" ")
    status = int(code)
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in call.headers]
    data = None if status in NULL_BODY_STATUSES else b"".join(call.chunks)
    response = JsResponse._from_parts(status, raw, data)
    response.status_text = reason
    return response
