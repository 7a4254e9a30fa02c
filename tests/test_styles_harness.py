"""The style workers of tests/styles/ as users test them: loaded from their wrangler.toml by the
harness (the ``worker`` fixture and ``Worker.start``), every request going through the app
`workerlab dev` serves, with in-memory bindings and the fake clock.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from workerlab.bindings.not_emulated import NotEmulatedError
from workerlab.compat.request import Request
from workerlab.errors import WorkerLoadError
from workerlab.portability import NO_GLOBAL_HANDLERS_DATE
from workerlab.testing import Worker

STYLES = Path(__file__).parent / "styles"
NAVIGATE = {"sec-fetch-mode": "navigate"}


def config(style: str, name: str = "wrangler.toml") -> str:
    return str(STYLES / style / name)


def load_fakes(style: str) -> ModuleType:
    """The fakes module of a style folder (what `workerlab dev --binding NAME=fakes:...` imports)."""
    spec = importlib.util.spec_from_file_location(f"{style}_fakes", STYLES / style / "fakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def started() -> AsyncIterator[list[Worker]]:
    """Workers a test starts itself (``Worker.start``), closed at the end; their failures fail it."""
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        assert await worker.close() == []


async def start(started: list[Worker], path: str, **options: Any) -> Worker:
    worker = await Worker.start(path, **options)
    started.append(worker)
    return worker


# --- FastAPI, Starlette, Django --------------------------------------------------------------------


@pytest.mark.workerlab(config=config("compat_fastapi"))
async def test_fastapi_app_with_lifespan_state_and_env_dependencies(worker: Worker) -> None:
    hello = await worker.fetch("/hello/Ada")
    assert (hello.status, await hello.json()) == (200, {"message": "hello Ada", "mode": "fastapi"})

    created = await worker.fetch("/items", method="POST", json={"name": "pen", "price": 1.5})
    assert await created.json() == {"stored": "pen", "total": 3.0, "mode": "fastapi"}
    invalid = await worker.fetch("/items", method="POST", json={"name": "pen"})
    assert invalid.status == 422
    assert (await invalid.json())["detail"][0]["loc"] == ["body", "price"]
    assert worker.module.LIFESPAN == {"startups": 1, "shutdowns": 0}  # once, not per request


async def test_fastapi_lifespan_shuts_down_with_the_worker_and_background_tasks_run(
    started: list[Worker],
) -> None:
    worker = await start(started, config("compat_fastapi"))
    response = await worker.fetch("/notify")
    assert await response.json() == {"queued": True}
    await worker.settle()
    module = worker.module
    assert module.SENT == ["mail"]
    assert await worker.close() == []
    started.remove(worker)
    assert module.LIFESPAN == {"startups": 1, "shutdowns": 1}


@pytest.mark.workerlab(config=config("compat_starlette"))
async def test_starlette_app_json_cookies_streaming_and_empty_bodies(worker: Worker) -> None:
    echo = await worker.fetch("/echo?q=find", method="POST", json={"a": [1, 2]})
    assert await echo.json() == {"echo": {"a": [1, 2]}, "query": "find", "env": "starlette"}

    cookies = await worker.fetch("/cookies")
    assert await cookies.text() == "> cookies"  # the lifespan state reached request.state
    assert [c.split(";")[0] for c in cookies.headers.get_all("set-cookie") or []] == ["a=1", "b=2"]

    streamed = await worker.fetch("/chunks")
    assert (streamed.headers.get("content-type"), await streamed.text()) == (
        "text/plain; charset=utf-8",
        "one two three",
    )
    empty = await worker.fetch("/empty")
    assert (empty.status, await empty.bytes()) == (204, b"")


@pytest.mark.workerlab(config=config("compat_starlette"))
async def test_starlette_route_error_answers_500_and_is_logged(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    response = await worker.fetch("/broken")
    assert (response.status, await response.text()) == (500, "Internal Server Error")
    [record] = [r for r in caplog.records if r.name == "workerlab.asgi"]
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom in a route"


@pytest.mark.workerlab(config=config("compat_django"))
async def test_django_app_through_wsgi(worker: Worker) -> None:
    home = await worker.fetch("/")
    assert (home.status, await home.text()) == (200, "django says wsgi")
    created = await worker.fetch("/submit/", method="POST", json={"x": [1]})
    assert created.status == 201
    assert await created.json() == {"got": {"x": [1]}, "method": "POST", "path": "/submit/"}
    gone = await worker.fetch("/gone/")
    assert (gone.status, gone.headers.get("x-reason")) == (204, "nothing")
    assert (await worker.fetch("/missing/")).status == 404


# --- legacy `from js import Response` and Pyodide's bridge ----------------------------------------


@pytest.mark.workerlab(config=config("compat_legacy"))
async def test_legacy_on_fetch_with_js_objects(worker: Worker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    echo = await worker.fetch("/echo", method="POST", json={"n": [1, 2]})
    assert (echo.status, echo.headers.get("content-type"), await echo.text()) == (
        201,
        "application/json",
        '{"n":[1,2]}',
    )
    assert "legacy worker: POST /echo" in caplog.messages  # console.log reaches the log

    greet = await worker.fetch("/greet?name=Ada")
    assert (await greet.text(), greet.headers.get("x-greeted")) == ("hello Ada", "Ada")
    reversed_ = await worker.fetch("/reverse", method="POST", body=b"abc")
    assert await reversed_.bytes() == b"cba"
    moved = await worker.fetch("/old")
    assert (moved.status, moved.headers.get("location")) == (301, "https://example.com/new")


@pytest.mark.workerlab(config=config("compat_legacy"))
async def test_legacy_worker_reads_request_cf_and_the_harness_overrides_it(worker: Worker) -> None:
    where = await worker.fetch("/where", headers={"user-agent": "tests"})
    assert await where.json() == {"colo": "LHR", "tls": "", "agent": "tests"}
    elsewhere = await worker.fetch("/where", headers={"user-agent": "tests"}, cf={"colo": "FRA"})
    assert await elsewhere.json() == {"colo": "FRA", "tls": "", "agent": "tests"}


async def test_pyodide_worker_to_js_values_buffers_proxies_and_run_sync(
    started: list[Worker], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    fakes = load_fakes("pyodide_ffi")
    events = fakes.make_events()
    worker = await start(started, config("pyodide_ffi"), bindings={"EVENTS": events})

    stored = await worker.fetch("/kv/greeting", method="PUT", body="bonjour")
    assert (stored.status, await stored.text()) == (201, "stored")
    # to_js(options, dict_converter=Object.fromEntries) reached KV as its options object.
    value = await worker.env.STORE.getWithMetadata("greeting")
    assert (value["value"], value["metadata"]) == ("bonjour", {"by": "pyodide", "size": 7})
    read = await worker.fetch("/kv/greeting")
    assert await read.json() == {"value": "bonjour", "by": "pyodide", "size": 7}
    assert (await worker.fetch("/kv/absent")).status == 404
    assert "pyodide worker: GET /kv/greeting" in caplog.messages

    binary = await worker.fetch("/bytes")  # to_js(bytes).buffer as the body
    assert (binary.headers.get("content-type"), await binary.bytes()) == (
        "application/octet-stream",
        worker.module.BINARY,
    )
    parsed = await worker.fetch("/parse", method="POST", json={"numbers": [1, 2, 3.5]})
    assert await parsed.json() == {"total": 6.5, "echo": {"numbers": [1, 2, 3.5]}}

    heard = await worker.fetch("/events?name=hello")  # create_proxy lent to a binding
    assert await heard.text() == "hello"
    [listener] = events.listeners
    with pytest.raises(Exception, match="Object has already been destroyed"):
        listener("after destroy()")

    synced = await worker.fetch("/sync?key=greeting")  # run_sync in a WSGI app's thread
    assert await synced.text() == "greeting=bonjour"


async def test_the_other_ffi_style_worker_with_kv_and_a_faked_binding(started: list[Worker]) -> None:
    events = load_fakes("pyodide_ffi").make_events()
    worker = await start(started, config("compat_ffi"), bindings={"EVENTS": events})
    stored = await worker.fetch("/store", method="POST", body="salut")
    assert await stored.text() == "stored"
    assert await worker.env.STORE.getWithMetadata("greeting") == {
        "value": "salut",
        "metadata": {"by": "ffi"},
    }
    assert await (await worker.fetch("/bytes")).bytes() == b"\x00\x01binary"
    assert await (await worker.fetch("/notify")).text() == "ping"


# --- the current SDK: Durable Objects, workers.env, patch_env, request.cf -----------------------


@pytest.mark.workerlab(config=config("sdk_durable"))
async def test_durable_object_rpc_and_the_importable_env(worker: Worker) -> None:
    first = await worker.fetch("/sign", method="POST", json={"author": "ada", "note": "hi"})
    assert (first.status, await first.json()) == (
        201,
        {"book": "lobby", "entries": 1, "by": "Guestbook (local)"},
    )
    # worker.fetch also takes a Request, as the handler would get it.
    body = json.dumps({"author": "bob", "note": "yo"})
    second = await worker.fetch(Request("http://localhost/sign", method="POST", body=body))
    assert (await second.json())["entries"] == 2
    entries = await worker.fetch("/entries")
    assert await entries.json() == [["ada", "hi"], ["bob", "yo"]]


@pytest.mark.workerlab(config=config("sdk_durable"))
async def test_queue_message_bodies_have_attribute_access_and_to_py(
    worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    await worker.fetch("/sign", method="POST", json={"author": "ada", "note": "hi"})
    await worker.drain()
    assert [m.body for m in worker.queues["signed"].acked] == [{"author": "ada", "entries": 1}]
    assert "signed by ada (1 so far): {'author': 'ada', 'entries': 1}\n" in capsys.readouterr().out


@pytest.mark.workerlab(config=config("sdk_durable"))
async def test_patch_env_and_the_request_s_sdk_names(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    patched = await worker.fetch("/patched")
    assert await patched.json() == {"inside": "patched site (nowhere)", "after": "Guestbook (local)"}

    raw = await worker.fetch("/raw", method="PUT", body=b"\x00abc")
    assert await raw.bytes() == b"\x00abc"  # request.buffer() as the response body
    assert (raw.headers.get("x-method"), raw.headers.get("x-js-same-url")) == ("PUT", "True")


@pytest.mark.workerlab(config=config("sdk_durable"))
async def test_request_cf_is_local_and_worker_fetch_cf_overrides_fields(worker: Worker) -> None:
    local = await worker.fetch("/cf")
    assert await local.json() == {
        "country": "GB",
        "colo": "LHR",
        "tlsVersion": "",
        "httpProtocol": "HTTP/1.1",
        "asn": 64496,
        "city": "London",
    }
    moved = await worker.fetch("/cf", cf={"country": "DE", "city": "Berlin"})
    assert await moved.json() == {
        "country": "DE",
        "colo": "LHR",
        "tlsVersion": "",
        "httpProtocol": "HTTP/1.1",
        "asn": 64496,
        "city": "Berlin",
    }
    secure = await worker.fetch("https://localhost/cf")
    assert (await secure.json())["tlsVersion"] == "TLSv1.3"


@pytest.mark.workerlab(config=config("compat_durable"))
async def test_the_other_durable_object_style_worker(worker: Worker) -> None:
    assert await (await worker.fetch("/")).text() == "2 sdk sdk"
    assert await (await worker.fetch("/")).text() == "4 sdk sdk"


# --- bindings with no local emulation ----------------------------------------------------------


@pytest.mark.workerlab(config=config("hosted_ai"))
async def test_a_call_to_workers_ai_raises_the_clear_error(worker: Worker) -> None:
    assert await (await worker.fetch("/health")).text() == "ok hosted"  # the rest still works
    with pytest.raises(NotEmulatedError) as raised:
        await worker.fetch("/ask", method="POST", body="why?")
    message = str(raised.value)
    assert message.startswith("env.AI.run(): Workers AI has no local equivalent")
    assert "@pytest.mark.workerlab(bindings={'AI': fake})" in message
    assert "workerlab dev --binding AI=module:factory" in message
    assert "not emulated" in repr(worker.env.INDEX)


FAKE_AI = load_fakes("hosted_ai").make_ai()


@pytest.mark.workerlab(config=config("hosted_ai"), bindings={"AI": FAKE_AI})
async def test_the_marker_supplies_a_fake_workers_ai(worker: Worker) -> None:
    response = await worker.fetch("/ask", method="POST", body="why?")
    assert await response.json() == {"answer": "fake answer to 'why?'"}
    assert worker.env.AI is FAKE_AI
    assert FAKE_AI.calls[-1] == ("@cf/meta/llama-3.1-8b-instruct", {"prompt": "why?"})


# --- compatibility dates and load errors -------------------------------------------------------


async def test_module_level_handler_after_the_date_warns_at_load_and_still_runs(
    started: list[Worker], caplog: pytest.LogCaptureFixture
) -> None:
    worker = await start(started, config("compat_legacy", "wrangler.late.toml"))
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "on_fetch is a module-level handler" in warning
    assert NO_GLOBAL_HANDLERS_DATE in warning and "(workerlab runs it anyway)" in warning
    assert await (await worker.fetch("/greet?name=Bo")).text() == "hello Bo"


async def test_default_class_before_the_date_warns_at_load(
    started: list[Worker], caplog: pytest.LogCaptureFixture
) -> None:
    await start(started, config("compat_starlette", "wrangler.early.toml"))
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "Cloudflare looks for on_fetch on the Default class" in warning


@pytest.mark.parametrize(
    "style", ["compat_fastapi", "compat_starlette", "compat_django", "compat_legacy", "sdk_durable"]
)
async def test_style_workers_load_without_warnings(
    started: list[Worker], caplog: pytest.LogCaptureFixture, style: str
) -> None:
    await start(started, config(style))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_an_unknown_name_from_workers_fails_the_load_naming_workers(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("from workers import Response, Nope\n")
    (tmp_path / "wrangler.toml").write_text(
        'name = "broken"\nmain = "worker.py"\ncompatibility_date = "2025-09-29"\n'
    )
    with pytest.raises(WorkerLoadError) as raised:
        await Worker.start(tmp_path / "wrangler.toml")
    message = str(raised.value)
    assert "ImportError: cannot import name 'Nope' from 'workers'" in message
    assert "workerlab" not in message.replace(str(tmp_path), "")


async def test_a_load_error_shows_only_the_worker_s_frames(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("from workers import Nope\n")
    (tmp_path / "wrangler.toml").write_text('name = "broken"\nmain = "worker.py"\n')
    with pytest.raises(WorkerLoadError) as raised:
        await Worker.start(tmp_path / "wrangler.toml")
    frames = re.findall(r'File "([^"]+)"', str(raised.value))
    assert frames == [str(tmp_path / "worker.py")]


# --- static assets ---------------------------------------------------------------------------------

#: (path, status, the Location of a redirect or a piece of the body) for each html_handling mode.
HTML_HANDLING = {
    "wrangler.toml": [  # auto-trailing-slash, the default
        ("/", 200, "home page"),
        ("/index.html", 307, "/"),
        ("/about", 200, "about page"),
        ("/about.html", 307, "/about"),
        ("/about/", 307, "/about"),
        ("/docs", 307, "/docs/"),
        ("/docs/", 200, "docs index"),
        ("/docs/index.html", 307, "/docs/"),
        ("/docs/index", 307, "/docs/"),
        ("/guides/intro", 200, "guide intro"),
        ("/style.css", 200, "color: teal"),
    ],
    "wrangler.force.toml": [
        ("/", 200, "home page"),
        ("/about", 307, "/about/"),
        ("/about/", 200, "about page"),
        ("/about.html", 307, "/about/"),
        ("/docs", 307, "/docs/"),
        ("/docs/", 200, "docs index"),
        ("/docs/index.html", 307, "/docs/"),
    ],
    "wrangler.drop.toml": [
        ("/", 200, "home page"),
        ("/index.html", 307, "/"),
        ("/about", 200, "about page"),
        ("/about/", 307, "/about"),
        ("/docs", 200, "docs index"),
        ("/docs/", 307, "/docs"),
        ("/docs/index.html", 307, "/docs"),
    ],
    "wrangler.exact.toml": [  # html_handling = "none": exact file paths only, the rest is the worker's
        ("/index.html", 200, "home page"),
        ("/about.html", 200, "about page"),
        ("/about", 200, "worker answered /about"),
        ("/docs/", 200, "worker answered /docs/"),
        ("/docs/index.html", 200, "docs index"),
    ],
}


@pytest.mark.parametrize("config_name", list(HTML_HANDLING))
async def test_assets_html_handling(started: list[Worker], config_name: str) -> None:
    worker = await start(started, config("assets_site", config_name))
    for path, status, expected in HTML_HANDLING[config_name]:
        response = await worker.fetch(path)
        if status == 307:
            assert (response.status, response.headers.get("location"), await response.bytes()) == (
                307,
                expected,
                b"",
            ), path
        else:
            assert response.status == status, path
            assert expected in await response.text(), path


async def test_a_redirect_keeps_the_query_and_paths_are_served_decoded_and_canonical(
    started: list[Worker],
) -> None:
    worker = await start(started, config("assets_site"))
    moved = await worker.fetch("/docs/index.html?tab=api")
    assert (moved.status, moved.headers.get("location")) == (307, "/docs/?tab=api")
    menu = await worker.fetch("/caf%C3%A9%20menu.txt")
    assert (menu.status, await menu.text()) == (200, "café menu\n")
    lower = await worker.fetch("/caf%c3%a9%20menu.txt")  # not the canonical spelling
    assert (lower.status, lower.headers.get("location")) == (307, "/caf%C3%A9%20menu.txt")
    assert (await worker.fetch("/a%62out")).headers.get("location") == "/about"


async def test_asset_headers_etag_304_head_and_405(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site"))
    css = await worker.fetch("/style.css")
    etag = css.headers.get("etag")
    assert etag is not None and re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert css.headers.get("content-type") == "text/css; charset=utf-8"
    assert css.headers.get("cache-control") == "public, max-age=0, must-revalidate"
    for sent in (etag, f"W/{etag}"):
        cached = await worker.fetch("/style.css", headers={"if-none-match": sent})
        assert (cached.status, await cached.bytes(), cached.headers.get("etag")) == (304, b"", etag)
    changed = await worker.fetch("/style.css", headers={"if-none-match": '"something-else"'})
    assert changed.status == 200
    head = await worker.fetch("/style.css", method="HEAD")
    assert (head.status, await head.bytes(), head.headers.get("etag")) == (200, b"", etag)
    for path in ("/style.css", "/about.html"):  # 405 comes before html_handling's redirect
        posted = await worker.fetch(path, method="POST", body="x")
        assert (posted.status, posted.headers.get("location")) == (405, None), path
    unknown = await worker.fetch("/blob.unknownext")
    assert (unknown.headers.get("content-type"), await unknown.bytes()) == (None, b"\x00\x01data\xff")
    private = await worker.fetch("/style.css", headers={"authorization": "Bearer x"})
    assert private.headers.get("cache-control") is None


async def test_assets_never_serve_their_rule_files_and_misses_reach_the_worker(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site"))
    for path in ("/_headers", "/nowhere", "/guides/nowhere"):
        response = await worker.fetch(path, headers=NAVIGATE)  # not_found_handling = "none"
        assert (response.headers.get("x-served-by"), await response.text()) == (
            "worker",
            f"worker answered {path}",
        )
    assert await (await worker.fetch("/api/items", method="POST", body="x")).json() == {
        "worker": "/api/items",
        "method": "POST",
    }


async def test_env_assets_fetch_serves_assets_with_the_fallbacks_and_never_the_worker(
    started: list[Worker],
) -> None:
    plain = await start(started, config("assets_site"))
    assert (await plain.fetch("/through-binding")).status == 404  # no asset, no fallback: 404
    assert await (await plain.fetch("/wrapped/docs/")).text() == (
        "[wrapped 200] <!doctype html><title>docs</title><p>docs index</p>\n"
    )
    assert (await (await plain.fetch("/wrapped/docs")).text()) == "[wrapped 307] "

    spa = await start(started, config("assets_site", "wrangler.spa.toml"))
    through = await spa.fetch("/through-binding")
    assert (through.status, "home page" in await through.text()) == (200, True)

    pages = await start(started, config("assets_site", "wrangler.404.toml"))
    lost = await pages.fetch("/wrapped/guides/lost")
    assert (await lost.text()).startswith("[wrapped 404] <!doctype html><title>lost</title><p>no such guide")


async def test_single_page_app_answers_navigations_and_leaves_other_requests_to_the_worker(
    started: list[Worker],
) -> None:
    worker = await start(started, config("assets_site", "wrangler.spa.toml"))
    page = await worker.fetch("/dashboard/settings", headers=NAVIGATE)
    assert (page.status, "home page" in await page.text()) == (200, True)
    api = await worker.fetch("/dashboard/settings")  # fetch() from the page: not a navigation
    assert await api.text() == "worker answered /dashboard/settings"
    # Without route rules a navigation to an API path gets the app too, as on Cloudflare.
    assert "home page" in await (await worker.fetch("/api/me", headers=NAVIGATE)).text()


async def test_404_page_answers_navigations_from_the_nearest_folder(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site", "wrangler.404.toml"))
    guide = await worker.fetch("/guides/lost", headers=NAVIGATE)
    assert (guide.status, "no such guide" in await guide.text()) == (404, True)
    other = await worker.fetch("/a/b/lost", headers=NAVIGATE)
    assert (other.status, "no such page" in await other.text()) == (404, True)
    assert await (await worker.fetch("/guides/lost")).text() == "worker answered /guides/lost"


async def test_an_assets_only_project_answers_every_miss_with_the_404_page(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site", "wrangler.site.toml"))
    assert "about page" in await (await worker.fetch("/about")).text()
    lost = await worker.fetch("/x/y")
    assert (lost.status, "no such page" in await lost.text()) == (404, True)


async def test_run_worker_first_true_sends_everything_to_the_worker(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site", "wrangler.first.toml"))
    for path in ("/", "/about", "/style.css"):
        assert await (await worker.fetch(path)).text() == f"worker answered {path}"
    # The worker still reaches the files through its binding.
    assert await (await worker.fetch("/wrapped/style.css")).text() == "[wrapped 200] body { color: teal; }\n"


async def test_run_worker_first_rules_with_exclusions(started: list[Worker]) -> None:
    worker = await start(started, config("assets_site", "wrangler.rules.toml"))
    assert await (await worker.fetch("/api/users")).json() == {"worker": "/api/users", "method": "GET"}
    assert await (await worker.fetch("/api/users", headers=NAVIGATE)).json() == {
        "worker": "/api/users",
        "method": "GET",
    }
    static = await worker.fetch("/api/static/info.json")  # "!/api/static/*" beats "/api/*"
    assert await static.json() == {"static": True}
    assert "about page" in await (await worker.fetch("/about")).text()
    # With route rules the single-page app answers every path no rule sends to the worker.
    app = await worker.fetch("/dashboard")
    assert (app.status, "home page" in await app.text()) == (200, True)


async def test_import_module_finds_the_worker_s_modules_after_import_importlib_util(
    started: list[Worker], tmp_path: Path
) -> None:
    (tmp_path / "helpers.py").write_text('VALUE = "from helpers"\n')
    (tmp_path / "worker.py").write_text(
        "import importlib\nimport importlib.util\nfrom workers import Response, WorkerEntrypoint\n\n"
        "class Default(WorkerEntrypoint):\n    async def fetch(self, request):\n"
        '        return Response(importlib.import_module("helpers").VALUE)\n'
    )
    (tmp_path / "wrangler.toml").write_text(
        'name = "imports"\nmain = "worker.py"\ncompatibility_date = "2025-09-29"\n'
    )
    worker = await start(started, str(tmp_path / "wrangler.toml"))
    assert await (await worker.fetch("/")).text() == "from helpers"
