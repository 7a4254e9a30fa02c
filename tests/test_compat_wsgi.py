"""workers.wsgi.fetch: the environ, start_response, the response, run_sync inside the app."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from workerlab.compat import wsgi
from workerlab.compat.ffi import run_sync
from workerlab.compat.request import Request

StartResponse = Callable[..., Any]


def server_request(
    url: str = "http://localhost:8787/caf%C3%A9?q=a%20b", method: str = "GET", body: bytes = b""
) -> Request:
    raw = [
        (b"host", b"localhost:8787"),
        (b"x-multi", b"1"),
        (b"x-multi", b"2"),
        (b"content-type", b"text/plain"),
    ]
    return Request._from_asgi(url, method, raw, body)


def test_environ_is_the_one_cloudflare_builds() -> None:
    env = object()
    environ = wsgi.build_environ(server_request(method="POST"), env, b"body")
    assert environ["REQUEST_METHOD"] == "POST" and type(environ["REQUEST_METHOD"]) is str
    assert environ["PATH_INFO"] == "/café".encode().decode("latin-1")  # a WSGI native string
    assert (environ["QUERY_STRING"], environ["SCRIPT_NAME"]) == ("q=a%20b", "")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["SERVER_PROTOCOL"]) == (
        "localhost",
        "8787",
        "HTTP/1.1",
    )
    assert (environ["HTTP_HOST"], environ["HTTP_X_MULTI"]) == ("localhost:8787", "1, 2")
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("text/plain", "4")
    assert environ["wsgi.input"].read() == b"body" and environ["wsgi.errors"] is sys.stderr
    assert environ["workers.env"] is env and environ["wsgi.url_scheme"] == "http"
    https = wsgi.build_environ(Request("https://x.test/"), env, b"")
    assert (https["SERVER_PORT"], "CONTENT_LENGTH" in https) == ("443", False)


async def test_response_status_headers_and_body() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"one "
            yield b""
            yield b"two"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        write = start_response(
            "202 Accepted", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        )
        write(b"zero ")
        return Body()

    response = await wsgi.fetch(app, server_request(), {})
    assert (response.status, response.statusText) == (202, "Accepted")
    assert response.headers.getSetCookie() == ["a=1", "b=2"]
    assert await response.text() == "zero one two" and closed == [True]


async def test_app_runs_in_a_worker_thread_where_run_sync_works() -> None:
    loop_thread = threading.current_thread()

    async def lookup() -> str:
        assert threading.current_thread() is loop_thread  # awaited on the event loop
        return "from the loop"

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert threading.current_thread() is not loop_thread
        start_response("200 OK", [])
        return [run_sync(lookup()).encode()]

    response = await wsgi.fetch(app, server_request(), {})
    assert await response.text() == "from the loop"


async def test_null_body_status() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("304 Not Modified", [("ETag", '"x"')])
        return [b"ignored"]

    response = await wsgi.fetch(app, server_request(), {})
    assert response._asgi_parts() == (304, [(b"etag", b'"x"')], b"")


async def test_app_errors() -> None:
    def silent(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return []

    def broken(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise KeyError("missing view")

    def twice(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        start_response("500 Error", [])
        return []

    def recovers(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())  # headers not sent yet: allowed
        return [b"error page"]

    with pytest.raises(RuntimeError, match="did not call start_response"):
        await wsgi.fetch(silent, server_request(), {})
    with pytest.raises(KeyError, match="missing view"):
        await wsgi.fetch(broken, server_request(), {})
    with pytest.raises(AssertionError, match="start_response\\(\\) called more than once"):
        await wsgi.fetch(twice, server_request(), {})
    response = await wsgi.fetch(recovers, server_request(), {})
    assert (response.status, await response.text()) == (500, "error page")
