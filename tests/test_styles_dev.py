"""The style workers of tests/styles/ under `workerlab dev`: a real subprocess per worker, started
in the worker's folder as a user starts it, spoken to over HTTP on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from devprocess import DevProcess

from workerlab.portability import NO_GLOBAL_HANDLERS_DATE

STYLES = Path(__file__).parent / "styles"
NAVIGATE = {"sec-fetch-mode": "navigate"}


@contextmanager
def running(style: str, state: Path, *args: str, config: str = "wrangler.toml") -> Iterator[DevProcess]:
    """`workerlab dev -c <config>` in the style's folder, ready, with its state in ``state``."""
    with DevProcess(
        ["-c", config, "--persist-to", str(state), "--no-reload", *args], cwd=STYLES / style
    ) as dev:
        dev.wait_ready()
        yield dev


def serve(style: str, *args: str, config: str = "wrangler.toml") -> Any:
    """A module-scoped fixture serving one style worker."""

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
        with running(style, tmp_path_factory.mktemp(style), *args, config=config) as dev:
            yield dev

    return fixture


fastapi_dev = serve("compat_fastapi")
starlette_dev = serve("compat_starlette")
django_dev = serve("compat_django")
legacy_dev = serve("compat_legacy")
pyodide_dev = serve("pyodide_ffi", "--binding", "EVENTS=fakes:make_events")
sdk_dev = serve("sdk_durable")
assets_dev = serve("assets_site")
routed_assets_dev = serve("assets_site", config="wrangler.rules.toml")


# --- FastAPI, Starlette, Django --------------------------------------------------------------------


def test_fastapi_worker(fastapi_dev: DevProcess) -> None:
    mark = fastapi_dev.mark()
    hello = httpx.get(fastapi_dev.url + "/hello/Ada")
    assert hello.json() == {"message": "hello Ada", "mode": "fastapi"}
    created = httpx.post(fastapi_dev.url + "/items", json={"name": "pen", "price": 2})
    assert created.json() == {"stored": "pen", "total": 4.0, "mode": "fastapi"}
    assert httpx.post(fastapi_dev.url + "/items", json={"price": 2}).status_code == 422
    assert httpx.get(fastapi_dev.url + "/notify").json() == {"queued": True}
    fastapi_dev.wait_for(r"^GET /hello/Ada 200 OK \(\d+ms\)$", after=mark)
    fastapi_dev.wait_for(r"^POST /items 422 Unprocessable", after=mark)


def test_starlette_worker(starlette_dev: DevProcess) -> None:
    echo = httpx.post(starlette_dev.url + "/echo?q=x", json={"a": 1})
    assert echo.json() == {"echo": {"a": 1}, "query": "x", "env": "starlette"}
    cookies = httpx.get(starlette_dev.url + "/cookies")
    assert cookies.text == "> cookies"
    assert [c.split(";")[0] for c in cookies.headers.get_list("set-cookie")] == ["a=1", "b=2"]
    assert httpx.get(starlette_dev.url + "/chunks").text == "one two three"
    empty = httpx.get(starlette_dev.url + "/empty")
    assert (empty.status_code, empty.content) == (204, b"")


def test_starlette_route_error_is_a_500_and_its_traceback_is_logged(starlette_dev: DevProcess) -> None:
    mark = starlette_dev.mark()
    broken = httpx.get(starlette_dev.url + "/broken")
    assert (broken.status_code, broken.text) == (500, "Internal Server Error")
    starlette_dev.wait_for(r"^RuntimeError: boom in a route$", after=mark)
    starlette_dev.wait_for(r"^GET /broken 500 Internal Server Error", after=mark)


def test_django_worker(django_dev: DevProcess) -> None:
    home = httpx.get(django_dev.url + "/")
    assert (home.status_code, home.text) == (200, "django says wsgi")
    created = httpx.post(django_dev.url + "/submit/", json={"x": [1]})
    assert (created.status_code, created.json()) == (
        201,
        {"got": {"x": [1]}, "method": "POST", "path": "/submit/"},
    )
    assert httpx.get(django_dev.url + "/missing/").status_code == 404


# --- legacy `from js import Response` and Pyodide's bridge ----------------------------------------


def test_legacy_js_worker_and_console_log(legacy_dev: DevProcess) -> None:
    mark = legacy_dev.mark()
    echo = httpx.post(legacy_dev.url + "/echo", json={"n": [1, 2]})
    assert (echo.status_code, echo.text) == (201, '{"n":[1,2]}')
    assert httpx.get(legacy_dev.url + "/greet?name=Ada").headers["x-greeted"] == "Ada"
    assert httpx.post(legacy_dev.url + "/reverse", content=b"abc").content == b"cba"
    moved = httpx.get(legacy_dev.url + "/old")
    assert (moved.status_code, moved.headers["location"]) == (301, "https://example.com/new")
    legacy_dev.wait_for(r"legacy worker: POST /echo$", after=mark)


def test_request_cf_over_plain_http(legacy_dev: DevProcess, sdk_dev: DevProcess) -> None:
    where = httpx.get(legacy_dev.url + "/where", headers={"user-agent": "dev-test"})
    assert where.json() == {"colo": "LHR", "tls": "", "agent": "dev-test"}
    cf = httpx.get(sdk_dev.url + "/cf").json()
    assert (cf["tlsVersion"], cf["httpProtocol"], cf["country"]) == ("", "HTTP/1.1", "GB")


def test_pyodide_worker(pyodide_dev: DevProcess) -> None:
    url = pyodide_dev.url
    mark = pyodide_dev.mark()
    assert httpx.put(url + "/kv/greeting", content="bonjour").status_code == 201
    assert httpx.get(url + "/kv/greeting").json() == {"value": "bonjour", "by": "pyodide", "size": 7}
    binary = httpx.get(url + "/bytes")
    assert (binary.headers["content-type"], binary.content) == (
        "application/octet-stream",
        b"\x00\x01\x02binary\xff",
    )
    assert httpx.post(url + "/parse", json={"numbers": [1, 2]}).json() == {
        "total": 3,
        "echo": {"numbers": [1, 2]},
    }
    assert httpx.get(url + "/events?name=hi").text == "hi"  # the fake from --binding EVENTS=...
    assert httpx.get(url + "/sync?key=greeting").text == "greeting=bonjour"  # run_sync
    pyodide_dev.wait_for(r"pyodide worker: PUT /kv/greeting$", after=mark)


# --- the current SDK: a Durable Object, workers.env, patch_env -----------------------------------


def test_sdk_worker_with_a_durable_object(sdk_dev: DevProcess) -> None:
    url = sdk_dev.url
    first = httpx.post(url + "/sign", json={"author": "ada", "note": "hi"})
    assert (first.status_code, first.json()["by"]) == (201, "Guestbook (local)")
    httpx.post(url + "/sign", json={"author": "bob", "note": "yo"})
    assert httpx.get(url + "/entries").json()[-2:] == [["ada", "hi"], ["bob", "yo"]]
    patched = httpx.get(url + "/patched").json()
    assert patched == {"inside": "patched site (nowhere)", "after": "Guestbook (local)"}


def test_sdk_worker_s_consumer_reads_bodies_by_attribute(sdk_dev: DevProcess) -> None:
    mark = sdk_dev.mark()
    httpx.post(sdk_dev.url + "/sign", json={"author": "cy", "note": "hey"})
    line = sdk_dev.wait_for(r"^signed by cy .*|AttributeError: .*", after=mark).group(0)
    assert re.fullmatch(r"signed by cy \(\d+ so far\): \{'author': 'cy', 'entries': \d+\}", line)


# --- bindings with no local emulation ----------------------------------------------------------


def test_workers_ai_is_named_not_emulated_and_a_call_is_a_500_page(tmp_path: Path) -> None:
    with running("hosted_ai", tmp_path) as dev:
        dev.wait_for(r"^\s+env\.AI\s+Workers AI\s+Workers AI\s+not emulated$")
        dev.wait_for(r"^\s+env\.INDEX\s+Vectorize index\s+Vectorize index docs\s+not emulated$")
        assert httpx.get(dev.url + "/health").text == "ok hosted"
        mark = dev.mark()
        asked = httpx.post(dev.url + "/ask", content="why?")
        assert asked.status_code == 500
        assert "env.AI.run(): Workers AI has no local equivalent" in asked.text
        assert "--binding AI=module:factory" in asked.text
        dev.wait_for(r"^NotEmulatedError: env\.AI\.run\(\): Workers AI has no local equivalent", after=mark)


def test_binding_flag_supplies_a_fake_workers_ai(tmp_path: Path) -> None:
    with running("hosted_ai", tmp_path, "--binding", "AI=fakes:make_ai") as dev:
        dev.wait_for(r"^\s+env\.AI\s+Workers AI\s+your fake \(--binding\)\s+local$")
        asked = httpx.post(dev.url + "/ask", content="why?")
        assert asked.json() == {"answer": "fake answer to 'why?'"}


# --- static assets -------------------------------------------------------------------------------


def test_assets_html_handling_and_the_worker_behind_them(assets_dev: DevProcess) -> None:
    url = assets_dev.url
    about = httpx.get(url + "/about")
    assert (about.status_code, about.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "about page" in about.text
    assert about.headers["cache-control"] == "public, max-age=0, must-revalidate"
    for path, location in [
        ("/about.html", "/about"),
        ("/docs", "/docs/"),
        ("/docs/index.html?x=1", "/docs/?x=1"),
    ]:
        moved = httpx.get(url + path)
        assert (moved.status_code, moved.headers["location"]) == (307, location), path
    missing = httpx.get(url + "/nowhere")
    assert (missing.text, missing.headers["x-served-by"]) == ("worker answered /nowhere", "worker")
    assert httpx.get(url + "/api/users").json() == {"worker": "/api/users", "method": "GET"}


def test_assets_etag_head_and_methods(assets_dev: DevProcess) -> None:
    url = assets_dev.url
    css = httpx.get(url + "/style.css")
    etag = css.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    for sent in (etag, f"W/{etag}"):
        cached = httpx.get(url + "/style.css", headers={"if-none-match": sent})
        assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
    head = httpx.head(url + "/style.css")
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
    assert head.headers["content-type"] == "text/css; charset=utf-8"
    assert httpx.post(url + "/style.css", content=b"x").status_code == 405
    assert httpx.get(url + "/_headers").text == "worker answered /_headers"  # never served


def test_env_assets_fetch_from_the_worker(assets_dev: DevProcess) -> None:
    through = httpx.get(assets_dev.url + "/through-binding")  # no asset at that path
    assert through.status_code == 404
    wrapped = httpx.get(assets_dev.url + "/wrapped/docs/")
    assert wrapped.text.startswith("[wrapped 200] <!doctype html><title>docs</title>")


def test_assets_spa_navigation_and_route_rules(routed_assets_dev: DevProcess) -> None:
    url = routed_assets_dev.url
    page = httpx.get(url + "/dashboard/settings", headers=NAVIGATE)
    assert (page.status_code, "home page" in page.text) == (200, True)
    # With route rules, the single-page app answers every path no rule gives the worker.
    assert "home page" in httpx.get(url + "/dashboard").text
    assert httpx.get(url + "/api/me", headers=NAVIGATE).json() == {"worker": "/api/me", "method": "GET"}
    static = httpx.get(url + "/api/static/info.json")  # a `!` rule: the assets answer
    assert static.json() == {"static": True}


def test_assets_only_site_serves_the_nearest_404_page(tmp_path: Path) -> None:
    with running("assets_site", tmp_path, config="wrangler.site.toml") as dev:
        guide = httpx.get(dev.url + "/guides/missing")
        assert (guide.status_code, "no such guide" in guide.text) == (404, True)
        other = httpx.get(dev.url + "/elsewhere/missing")
        assert (other.status_code, "no such page" in other.text) == (404, True)


# --- compatibility dates, load errors, `workerlab check` ----------------------------------------


def test_module_level_handler_after_the_date_is_warned_about_and_served(tmp_path: Path) -> None:
    with running("compat_legacy", tmp_path, config="wrangler.late.toml") as dev:
        dev.wait_for(rf"on_fetch is a module-level handler.*{NO_GLOBAL_HANDLERS_DATE}.*runs it anyway")
        assert httpx.get(dev.url + "/greet?name=Bo").text == "hello Bo"


def test_an_unknown_name_from_workers_is_a_load_error_naming_workers(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text("from workers import Response, Nope\n")
    (tmp_path / "wrangler.toml").write_text(
        'name = "broken"\nmain = "worker.py"\ncompatibility_date = "2025-09-29"\n'
    )
    with DevProcess(["--persist-to", str(tmp_path / "state")], cwd=tmp_path) as dev:
        assert dev.wait_exit() != 0
    assert "ImportError: cannot import name 'Nope' from 'workers'" in dev.output
    assert "workerlab" not in dev.output.replace(str(tmp_path), "")


@pytest.mark.parametrize(
    ("style", "config", "exit_code", "finding"),
    [
        ("compat_fastapi", "wrangler.toml", 0, None),
        ("compat_starlette", "wrangler.toml", 0, None),
        ("compat_django", "wrangler.toml", 0, None),
        ("compat_durable", "wrangler.toml", 0, None),
        ("compat_ffi", "wrangler.toml", 0, None),
        ("compat_legacy", "wrangler.toml", 0, None),
        ("pyodide_ffi", "wrangler.toml", 0, None),
        ("sdk_durable", "wrangler.toml", 0, None),
        ("compat_legacy", "wrangler.late.toml", 1, "on_fetch is a module-level handler"),
        ("compat_starlette", "wrangler.early.toml", 1, "Cloudflare looks for on_fetch on the Default class"),
        ("hosted_ai", "wrangler.toml", 1, "env.INDEX (Vectorize index) has no local emulation"),
        ("assets_site", "wrangler.toml", 1, "public/_headers: Cloudflare applies this file"),
    ],
)
def test_workerlab_check_on_the_style_workers(
    style: str, config: str, exit_code: int, finding: str | None
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workerlab", "check", "-c", config],
        cwd=STYLES / style,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    if finding is None:
        assert result.stdout.strip() == "Nothing found that would behave differently on Cloudflare."
    else:
        assert finding in result.stdout
