"""Workers written the ways people write them for Cloudflare, run through workerlab's SDK modules.

Each worker lives in tests/styles/compat_<style>/worker.py and imports only what it would
import on Cloudflare (workers, js, pyodide.ffi, asgi, FastAPI, Starlette, Django). The tests call
its handler with the request objects the server builds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from workerlab.compat import asgi as compat_asgi
from workerlab.compat.cf import local_cf
from workerlab.compat.install import install_sdk_modules, uninstall_sdk_modules
from workerlab.compat.jsrequest import js_request
from workerlab.compat.request import Request
from workerlab.context import ExecutionContext, current_context

WORKERS_DIR = Path(__file__).parent / "styles"


@pytest.fixture(scope="module", autouse=True)
def sdk_modules() -> Iterator[None]:
    install_sdk_modules()
    yield
    uninstall_sdk_modules()


@pytest.fixture(autouse=True)
async def lifespans() -> AsyncIterator[None]:
    yield
    await compat_asgi.shutdown_lifespans()


def load_worker(style: str) -> ModuleType:
    """The worker module of tests/styles/compat_<style>/worker.py, imported once."""
    name = f"compat_{style}_worker"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, WORKERS_DIR / f"compat_{style}" / "worker.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def incoming(
    path: str, method: str = "GET", body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Request:
    """A request as the dev server builds it."""
    raw = [(b"host", b"localhost:8787"), (b"user-agent", b"tests"), *(headers or [])]
    return Request._from_asgi(f"http://localhost:8787{path}", method, raw, body, cf=local_cf("1.1", False))


async def serve(handler: Any, request: Any, env: Any) -> Any:
    """Call a handler inside an event (ctx, workers.env), then wait for its waitUntil work."""
    ctx = ExecutionContext(env=env)
    context_token = current_context.set(ctx)
    try:
        response = await handler(request, env, ctx)
    finally:
        current_context.reset(context_token)
    assert await ctx.wait() == []
    return response


def default_fetch(module: ModuleType) -> Any:
    async def handler(request: Request, env: Any, ctx: Any) -> Any:
        return await module.Default(ctx, env).fetch(request)

    return handler


# --- legacy on_fetch with the js module ---------------------------------------------------------


async def test_legacy_worker_reads_the_js_request_and_answers_js_responses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = load_worker("legacy")
    caplog.set_level(logging.INFO, logger="workerlab")
    post = incoming("/echo", "POST", b'{"n": [1, 2]}', [(b"content-type", b"application/json")])
    response = await serve(lambda r, e, c: worker.on_fetch(js_request(r), e), post, SimpleNamespace())
    assert response.status == 201
    assert response.headers.get("content-type") == "application/json"
    assert await response.text() == '{"n":[1,2]}'
    assert "legacy worker: POST /echo" in caplog.messages

    greet = await worker.on_fetch(js_request(incoming("/greet?name=Ada")), None)
    assert (await greet.text(), greet.headers["x-greeted"]) == ("hello Ada", "Ada")


async def test_legacy_worker_binary_cf_and_redirect() -> None:
    worker = load_worker("legacy")
    reversed_ = await worker.on_fetch(js_request(incoming("/reverse", "POST", b"abc")), None)
    assert await reversed_.arrayBuffer() == b"cba"

    where = await worker.on_fetch(js_request(incoming("/where")), None)
    assert await where.text() == '{"colo":"LHR","tls":"","agent":"tests"}'

    moved = await worker.on_fetch(js_request(incoming("/old")), None)
    assert (moved.status, moved.headers.get("location")) == (301, "https://example.com/new")
    status, headers, body = moved._asgi_parts()
    assert (status, body) == (301, b"") and (b"location", b"https://example.com/new") in headers


async def test_legacy_request_has_js_names_only() -> None:
    request = js_request(incoming("/echo", "POST", b'{"a": 1}'))
    with pytest.raises(
        AttributeError, match="JS Request object has no attribute 'form_data'; JS spells it formData"
    ):
        request.form_data  # noqa: B018
    data = await request.json()
    assert data.a == 1 and data.to_py() == {"a": 1}
    with pytest.raises(TypeError, match="not subscriptable"):
        data["a"]
    assert request.bodyUsed


# --- pyodide.ffi ------------------------------------------------------------------------------------


class FakeStore:
    """A binding that takes an options object, as KV does on Cloudflare."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.options: list[Any] = []

    async def put(self, key: str, value: str, options: Any = None) -> None:
        self.values[key] = value
        self.options.append((options.expirationTtl, options.metadata.by))

    async def get(self, key: str) -> str | None:
        await asyncio.sleep(0)  # a real binding awaits I/O
        return self.values.get(key)


class FakeEvents:
    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def subscribe(self, listener: Any) -> None:
        self.listeners.append(listener)

    async def emit(self, event: str) -> None:
        for listener in self.listeners:
            listener(event)


async def test_ffi_worker_passes_js_objects_buffers_and_proxies_to_bindings() -> None:
    worker = load_worker("ffi")
    env = SimpleNamespace(STORE=FakeStore(), EVENTS=FakeEvents())
    stored = await serve(default_fetch(worker), incoming("/store", "POST", b"bonjour"), env)
    assert await stored.text() == "stored"
    assert env.STORE.options == [(60, "ffi")]

    binary = await serve(default_fetch(worker), incoming("/bytes"), env)
    assert binary._asgi_parts()[2] == b"\x00\x01binary"

    notified = await serve(default_fetch(worker), incoming("/notify"), env)
    assert await notified.text() == "ping"
    with pytest.raises(Exception, match="Object has already been destroyed"):
        env.EVENTS.listeners[0]("again")


async def test_ffi_worker_run_sync_in_a_plain_def_handler() -> None:
    worker = load_worker("ffi")
    env = SimpleNamespace(STORE=FakeStore(), EVENTS=FakeEvents())
    env.STORE.values["greeting"] = "salut"
    loop = asyncio.get_running_loop()
    ctx = ExecutionContext()
    ctx._enter_thread(loop)  # what the runtime does before running a plain `def` handler
    token = current_context.set(ctx)
    try:
        response = await asyncio.to_thread(worker.sync_fetch, incoming("/"), env)
    finally:
        current_context.reset(token)
    assert await response.text() == "salut"

    with pytest.raises(RuntimeError, match="run_sync\\(\\) was called on the event loop's thread"):
        worker.cached_greeting(env)


# --- FastAPI through asgi.fetch ------------------------------------------------------------------


async def test_fastapi_app_with_lifespan_and_env_dependencies() -> None:
    fastapi = pytest.importorskip("fastapi")
    assert fastapi
    worker = load_worker("fastapi")
    env = SimpleNamespace(MODE="local")
    startups = worker.LIFESPAN["startups"]
    hello = await serve(default_fetch(worker), incoming("/hello/Ada"), env)
    assert hello.status == 200
    assert await hello.json() == {"message": "hello Ada", "mode": "local"}

    item = incoming(
        "/items", "POST", b'{"name": "pen", "price": 1.5}', [(b"content-type", b"application/json")]
    )
    created = await serve(default_fetch(worker), item, env)
    assert (await created.json()).to_py() == {"stored": "pen", "total": 3.0, "mode": "local"}

    invalid = incoming("/items", "POST", b'{"name": "pen"}', [(b"content-type", b"application/json")])
    assert (await serve(default_fetch(worker), invalid, env)).status == 422
    assert worker.LIFESPAN["startups"] == startups + 1  # once for the app, not per request

    await compat_asgi.shutdown_lifespans()
    assert worker.LIFESPAN["shutdowns"] == worker.LIFESPAN["startups"]


async def test_fastapi_background_task_runs_under_wait_until() -> None:
    pytest.importorskip("fastapi")
    worker = load_worker("fastapi")
    worker.SENT.clear()
    response = await serve(default_fetch(worker), incoming("/notify"), SimpleNamespace(MODE="x"))
    assert await response.json() == {"queued": True}
    assert worker.SENT == ["mail"]  # serve() waited for the event's waitUntil work


# --- Starlette through asgi.fetch --------------------------------------------------------------


async def test_starlette_app_json_streaming_cookies_and_null_body() -> None:
    worker = load_worker("starlette")
    env = SimpleNamespace(MODE="dev")
    echo = incoming("/echo?q=find", "POST", b'{"a": 1}', [(b"content-type", b"application/json")])
    response = await serve(default_fetch(worker), echo, env)
    assert (await response.json()).to_py() == {"echo": {"a": 1}, "query": "find", "env": "dev"}

    streamed = await serve(default_fetch(worker), incoming("/chunks"), env)
    assert await streamed.text() == "one two three"

    cookies = await serve(default_fetch(worker), incoming("/cookies"), env)
    assert await cookies.text() == "> cookies"
    assert len(cookies.headers.getSetCookie()) == 2

    empty = await serve(default_fetch(worker), incoming("/empty"), env)
    assert empty._asgi_parts()[0] == 204 and empty._asgi_parts()[2] == b""


async def test_starlette_error_is_a_500_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    worker = load_worker("starlette")
    response = await serve(default_fetch(worker), incoming("/broken"), SimpleNamespace(MODE="dev"))
    assert response.status == 500  # Starlette answers, then raises the error again
    [record] = [r for r in caplog.records if r.name == "workerlab.asgi"]
    assert record.getMessage() == "Exception in ASGI application after the response was sent"
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom in a route"


# --- Django through wsgi.fetch ------------------------------------------------------------------


async def test_django_app_through_wsgi() -> None:
    pytest.importorskip("django")
    worker = load_worker("django")
    env = SimpleNamespace(MODE="wsgi")
    home = await serve(default_fetch(worker), incoming("/"), env)
    assert (home.status, await home.text()) == (200, "django says wsgi")
    assert home.statusText == "OK"

    post = incoming("/submit/", "POST", b'{"x": [1]}', [(b"content-type", b"application/json")])
    created = await serve(default_fetch(worker), post, env)
    assert created.status == 201
    assert (await created.json()).to_py() == {"got": {"x": [1]}, "method": "POST", "path": "/submit/"}

    gone = await serve(default_fetch(worker), incoming("/gone/"), env)
    assert (gone.status, gone.headers.get("x-reason")) == (204, "nothing")
    assert (await serve(default_fetch(worker), incoming("/missing/"), env)).status == 404


# --- the current SDK: Durable Objects, RPC helpers, workers.env ------------------------------


class FakeStorage:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def get(self, key: str) -> Any:
        return self.data.get(key)

    async def put(self, key: str, value: Any) -> None:
        self.data[key] = value


async def test_durable_object_style_worker() -> None:
    worker = load_worker("durable")
    counter = worker.Counter(SimpleNamespace(storage=FakeStorage()), None)
    env = SimpleNamespace(MODE="sdk", COUNTER=SimpleNamespace(getByName=lambda name: counter))
    first = await serve(default_fetch(worker), incoming("/"), env)
    assert await first.text() == "2 sdk sdk"
    assert await counter.increment() == {"count": 3, "tags": ["a", "b"]}

    entrypoint = worker.Default(ExecutionContext(), env)
    assert await entrypoint.check(5) == 5
    with pytest.raises(worker.NonRetryableError, match="negative amount"):
        await entrypoint.check(-1)
