from __future__ import annotations

import inspect
import subprocess
import sys
import timeit

import pytest

import workerlab.compat.workers as workers
from workerlab.context import ExecutionContext, current_context

#: Cloudflare's ``workers.__all__`` (workers-py runtime SDK).
EXPORTED = [
    "Blob",
    "BlobEnding",
    "BlobValue",
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "File",
    "FormData",
    "FormDataValue",
    "Headers",
    "JSBody",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]


def test_module_exports_cloudflare_names() -> None:
    assert sorted(workers.__all__) == sorted(EXPORTED)
    for name in EXPORTED:
        assert getattr(workers, name) is not None


def test_importing_workers_does_not_import_httpx() -> None:
    code = "import sys, workerlab.compat.workers; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_worker_entrypoint_keeps_ctx_and_env() -> None:
    class Default(workers.WorkerEntrypoint):
        async def fetch(self, request: workers.Request) -> workers.Response:
            return workers.Response(self.env["GREETING"])

    ctx, env = ExecutionContext(), {"GREETING": "hi"}
    instance = Default(ctx, env)
    assert instance.ctx is ctx
    assert instance.env is env


async def test_handler_gives_a_legacy_handler_the_python_request() -> None:
    from workerlab.compat.jsrequest import js_request

    @workers.handler
    async def on_fetch(request: workers.Request, env: object) -> workers.Response:
        assert type(request) is workers.Request
        return workers.Response(str(await request.json()))

    @workers.handler
    def on_fetch_sync(request: workers.Request) -> str:
        return type(request).__name__

    incoming = workers.Request._from_asgi("http://x.test/", "POST", [], b'{"a": 1}')
    assert inspect.iscoroutinefunction(on_fetch) and list(inspect.signature(on_fetch).parameters) == [
        "request",
        "env",
    ]
    response = await on_fetch(js_request(incoming), {})
    assert await response.text() == "{'a': 1}" and incoming.body_used
    assert on_fetch_sync(js_request(workers.Request("https://x.test/"))) == "Request"


async def test_wait_until_uses_the_current_context() -> None:
    ctx = ExecutionContext()
    done: list[str] = []

    async def work(tag: str) -> None:
        done.append(tag)

    token = current_context.set(ctx)
    try:
        workers.wait_until(work("snake"))
        workers.waitUntil(work("camel"))
    finally:
        current_context.reset(token)
    assert await ctx.wait() == []
    assert sorted(done) == ["camel", "snake"]


async def test_wait_until_without_an_event_raises() -> None:
    async def work() -> None:
        pass

    coroutine = work()
    with pytest.raises(RuntimeError, match="wait_until\\(\\) was called while no event is being handled"):
        workers.wait_until(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED  # no "never awaited" warning


def test_server_hot_path_cost() -> None:
    """Measure (not assert) Request._from_asgi + Response("hi")._asgi_parts(), in microseconds."""
    raw = [(b"host", b"127.0.0.1:8787"), (b"user-agent", b"bench"), (b"accept", b"*/*")]

    def one() -> None:
        workers.Request._from_asgi("http://127.0.0.1:8787/", "GET", raw, b"")
        workers.Response("hi")._asgi_parts()

    number = 20_000
    best_s = min(timeit.repeat(one, number=number, repeat=3))
    print(f"Request._from_asgi + Response('hi')._asgi_parts(): {best_s / number * 1e6:.2f} us")


async def test_cloudflare_style_worker_round_trip() -> None:
    """A handler written as on Cloudflare, driven with the objects the server builds."""

    class Default(workers.WorkerEntrypoint):
        async def fetch(self, request: workers.Request) -> workers.Response:
            payload = await request.json()
            return workers.Response.json({"echo": payload, "agent": request.headers.get("user-agent")})

    request = workers.Request._from_asgi(
        "http://localhost/echo",
        "POST",
        [(b"user-agent", b"t"), (b"content-type", b"application/json")],
        b"[1]",
    )
    response = await Default(ExecutionContext(), {}).fetch(request)
    status, headers, body = response._asgi_parts()
    assert (status, headers) == (200, [(b"content-type", b"application/json"), (b"content-length", b"27")])
    assert body == b'{"echo": [1], "agent": "t"}'
