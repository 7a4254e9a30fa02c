"""workers.asgi.fetch: the scope, the body, the response, lifespan and errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from workerlab.compat import asgi
from workerlab.compat.jsrequest import js_request
from workerlab.compat.jsresponse import JsResponse
from workerlab.compat.request import Request
from workerlab.context import ExecutionContext, current_context

Message = dict[str, Any]


@pytest.fixture(autouse=True)
async def lifespans() -> AsyncIterator[None]:
    yield
    await asgi.shutdown_lifespans()


def server_request(
    url: str = "http://localhost:8787/a%20b?x=1", method: str = "GET", body: bytes = b""
) -> Request:
    return Request._from_asgi(
        url, method, [(b"host", b"localhost:8787"), (b"x-multi", b"1"), (b"x-multi", b"2")], body
    )


class RecordingApp:
    """An ASGI app that records what it is given and answers with a fixed response."""

    def __init__(self, *, lifespan: str = "complete", status: int = 200, body: bytes = b"ok") -> None:
        self.lifespan = lifespan
        self.status = status
        self.body = body
        self.scopes: list[dict[str, Any]] = []
        self.received: list[Message] = []
        self.lifespan_events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        self.scopes.append(scope)
        self.received.append(await receive())
        await send({"type": "http.response.start", "status": self.status, "headers": [(b"X-App", b"yes")]})
        await send({"type": "http.response.body", "body": self.body})
        self.received.append(await receive())  # after the response: the client is gone

    async def _lifespan(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.lifespan == "unsupported":
            raise RuntimeError("no lifespan here")
        message = await receive()
        self.lifespan_events.append(message["type"])
        if self.lifespan == "failed":
            await send({"type": "lifespan.startup.failed", "message": "db unreachable"})
            return
        scope["state"]["pool"] = "pool"
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        self.lifespan_events.append(message["type"])
        await send({"type": "lifespan.shutdown.complete"})


async def test_scope_is_the_one_cloudflare_builds() -> None:
    app = RecordingApp()
    env = object()
    await asgi.fetch(app, server_request(), env)
    [scope] = app.scopes
    assert set(scope) == {
        "type",
        "asgi",
        "http_version",
        "method",
        "scheme",
        "path",
        "raw_path",
        "query_string",
    } | {
        "headers",
        "env",
        "state",
    }
    assert scope["asgi"] == {"spec_version": "2.0", "version": "3.0"}
    assert (scope["method"], scope["scheme"], scope["http_version"]) == ("GET", "http", "1.1")
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/a b", b"/a%20b", b"x=1")
    assert scope["headers"] == [(b"host", b"localhost:8787"), (b"x-multi", b"1"), (b"x-multi", b"2")]
    assert scope["env"] is env and scope["state"] == {"pool": "pool"}


async def test_body_then_disconnect_and_the_js_response() -> None:
    app = RecordingApp(status=201, body=b"made")
    response = await asgi.fetch(app, server_request(method="POST", body=b"payload"), {})
    assert isinstance(response, JsResponse)
    assert (response.status, response.headers.get("x-app"), await response.text()) == (201, "yes", "made")
    await asyncio.sleep(0)  # let the app read the disconnect that follows its response
    assert app.received == [
        {"type": "http.request", "body": b"payload", "more_body": False},
        {"type": "http.disconnect"},
    ]


async def test_a_js_style_request_works_too() -> None:
    app = RecordingApp()
    request = js_request(server_request(method="PUT", body=b"x"))
    await asgi.fetch(app, request, {})
    assert (app.scopes[0]["method"], dict(app.scopes[0]["headers"])[b"host"]) == ("PUT", b"localhost:8787")
    assert request.bodyUsed


async def test_lifespan_runs_once_per_app_and_shuts_down() -> None:
    app = RecordingApp()
    for _ in range(3):
        await asgi.fetch(app, server_request(), {})
    assert app.lifespan_events == ["lifespan.startup"]
    app.scopes[0]["state"]["mutated"] = True  # each request has its own copy of the state
    assert "mutated" not in app.scopes[1]["state"]
    await asgi.shutdown_lifespans()
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]


async def test_closing_one_session_shuts_down_only_its_own_apps() -> None:
    """On reload the old session closes after the new one may have served: only the apps served
    with the closing workers' envs are shut down."""
    old_env, new_env = object(), object()
    old_app, new_app = RecordingApp(), RecordingApp()
    await asgi.fetch(old_app, server_request(), old_env)
    await asgi.fetch(new_app, server_request(), new_env)
    await asgi.shutdown_lifespans([old_env])
    assert old_app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]
    assert new_app.lifespan_events == ["lifespan.startup"]
    await asgi.fetch(new_app, server_request(), new_env)
    assert new_app.lifespan_events == ["lifespan.startup"]  # still the same lifespan


async def test_a_lifespan_belongs_to_the_worker_serving_it_whatever_env_the_app_is_given() -> None:
    worker_env, app = object(), RecordingApp()
    token = current_context.set(ExecutionContext(env=worker_env))
    try:
        await asgi.fetch(app, server_request(), {"API": "a dict of the worker's own"})
    finally:
        current_context.reset(token)
    await asgi.shutdown_lifespans([worker_env])
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]


async def test_an_app_without_lifespan_support_is_served() -> None:
    app = RecordingApp(lifespan="unsupported")
    response = await asgi.fetch(app, server_request(), {})
    assert response.status == 200 and app.scopes[0]["state"] == {}


async def test_a_failed_startup_fails_every_request() -> None:
    app = RecordingApp(lifespan="failed")
    for _ in range(2):
        with pytest.raises(RuntimeError, match="db unreachable"):
            await asgi.fetch(app, server_request(), {})
    assert app.scopes == []


async def test_errors_before_a_response_reach_the_caller() -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise LookupError("no route")

    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    with pytest.raises(LookupError, match="no route"):
        await asgi.fetch(broken, server_request(), {})
    with pytest.raises(RuntimeError, match="The application did not generate a response"):
        await asgi.fetch(silent, server_request(), {})


async def test_null_body_status_and_chunked_body() -> None:
    async def chunked(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 304, "headers": []})
        await send({"type": "http.response.body", "body": b"ignored", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    response = await asgi.fetch(chunked, server_request(), {})
    assert response._asgi_parts() == (304, [], b"")


async def test_websocket_is_not_emulated() -> None:
    with pytest.raises(Exception, match="WebSockets \\(WebSocketPair\\) are not emulated"):
        await asgi.websocket(RecordingApp(), server_request())


async def test_adapter_overhead() -> None:
    """Measure (not assert) what asgi.fetch adds to a trivial app, in microseconds."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
            )
            await send({"type": "http.response.body", "body": b"hi"})

    raw = [(b"host", b"localhost")]
    await asgi.fetch(app, Request._from_asgi("http://localhost/", "GET", raw, b""), {})
    number = 2000
    start = time.perf_counter()
    for _ in range(number):
        await asgi.fetch(app, Request._from_asgi("http://localhost/", "GET", raw, b""), {})
    print(f"asgi.fetch overhead: {(time.perf_counter() - start) / number * 1e6:.1f} us per request")
