"""End to end: `workerlab dev` as a real subprocess, spoken to over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import httpx
import pytest
from devprocess import DevProcess

WORKER = """
import asyncio
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = "/" + request.url.split("/", 3)[3].split("?")[0]
        if path == "/":
            return Response("hello " + self.env.GREETING)
        if path == "/boom":
            raise ValueError("the handler blew up")
        if path == "/json":
            return Response.json({"method": request.method, "body": await request.text()})
        if path == "/starlette":
            from starlette.responses import PlainTextResponse
            return PlainTextResponse("from starlette", status_code=201)
        if path == "/bad":
            return 42
        if path == "/slow-background":
            def wait_for_the_gate():
                with open("gate.fifo") as gate:  # opens once the test does, after its SIGTERM
                    gate.read()

            async def later():
                await asyncio.to_thread(wait_for_the_gate)
                print("BACKGROUND DONE", flush=True)
            self.ctx.waitUntil(later())
            return Response("accepted", status=202)
        return Response("not found", status=404)
"""


def write_worker(folder: Path, source: str = WORKER, extra_config: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(source))
    config = folder / "wrangler.toml"
    config.write_text(
        'name = "e2e"\nmain = "worker.py"\ncompatibility_date = "2026-01-01"\n'
        f'[vars]\nGREETING = "world"\n{extra_config}'
    )
    return config


@pytest.fixture
def served(tmp_path: Path):
    write_worker(tmp_path)
    with DevProcess([], cwd=tmp_path) as dev:
        dev.wait_ready()
        yield dev


def test_serves_fetch_and_logs_each_request(served: DevProcess) -> None:
    mark = served.mark()
    response = httpx.get(served.url + "/")
    assert response.status_code == 200
    assert response.text == "hello world"
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    served.wait_for(r"^GET / 200 OK \(\d+ms\)$", after=mark)


def test_a_websocket_upgrade_request_reaches_the_fetch_handler(served: DevProcess) -> None:
    # As on Cloudflare, where the worker decides (here it answers as for any other request).
    upgrade = {"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13"}
    response = httpx.get(
        served.url + "/", headers={**upgrade, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
    )
    assert response.status_code == 200 and response.text == "hello world"


def test_request_method_and_body_reach_the_handler(served: DevProcess) -> None:
    response = httpx.post(served.url + "/json", content=b"payload")
    assert response.json() == {"method": "POST", "body": "payload"}


def test_starlette_response_is_served(served: DevProcess) -> None:
    response = httpx.get(served.url + "/starlette")
    assert (response.status_code, response.text) == (201, "from starlette")


def test_uncaught_exception_is_a_500_with_the_traceback(served: DevProcess) -> None:
    mark = served.mark()
    text = httpx.get(served.url + "/boom")
    assert text.status_code == 500
    assert "ValueError: the handler blew up" in text.text
    assert "worker.py" in text.text
    assert text.headers["content-type"].startswith("text/plain")
    page = httpx.get(served.url + "/boom", headers={"accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "ValueError: the handler blew up" in page.text
    served.wait_for("ValueError: the handler blew up", after=mark)
    served.wait_for(r"^GET /boom 500 Internal Server Error", after=mark)


def test_a_non_response_return_value_is_a_clear_500(served: DevProcess) -> None:
    response = httpx.get(served.url + "/bad")
    assert response.status_code == 500
    assert "returned int" in response.text
    assert "expected a workers.Response" in response.text


def test_unknown_cdn_cgi_handler_path_is_404_naming_valid_paths(served: DevProcess) -> None:
    response = httpx.get(served.url + "/cdn-cgi/handler/email")
    assert response.status_code == 404
    assert "/cdn-cgi/handler/scheduled" in response.text


def test_sigterm_waits_for_wait_until_work_and_exits_zero(served: DevProcess, tmp_path: Path) -> None:
    gate = tmp_path / "gate.fifo"
    os.mkfifo(gate)
    response = httpx.get(served.url + "/slow-background")
    assert response.status_code == 202
    served.signal(signal.SIGTERM)
    # The work can finish only once the gate opens, after the SIGTERM: the server must wait for it.
    opener = threading.Thread(target=lambda: gate.open("w").close())
    opener.start()
    opener.join(timeout=20)
    assert not opener.is_alive(), "the waitUntil work never reached its gate after SIGTERM"
    assert served.wait_exit() == 0
    assert "BACKGROUND DONE" in served.output


def test_sigint_shuts_down_with_status_zero(served: DevProcess) -> None:
    served.signal(signal.SIGINT)
    assert served.wait_exit() == 0


def test_reload_after_edit_keeps_the_port(tmp_path: Path) -> None:
    write_worker(tmp_path)
    with DevProcess([], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.get(url + "/").text == "hello world"
        mark = dev.mark()
        source = (tmp_path / "worker.py").read_text().replace('"hello "', '"edited "')
        (tmp_path / "worker.py").write_text(source)
        dev.wait_for("^Reloaded$", after=mark)
        assert httpx.get(url + "/").text == "edited world"


@pytest.mark.parametrize(
    "broken, shown",
    [
        (lambda good: good + "\ndef broken(:\n", "SyntaxError"),
        (lambda good: "import sys\nsys.exit('bye')\n", "sys.exit('bye')"),
    ],
    ids=["syntax-error", "sys-exit"],
)
def test_broken_edit_serves_the_error_then_recovers(tmp_path: Path, broken, shown: str) -> None:  # type: ignore[no-untyped-def]
    write_worker(tmp_path)
    with DevProcess([], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        good = (tmp_path / "worker.py").read_text()
        mark = dev.mark()
        (tmp_path / "worker.py").write_text(broken(good))
        dev.wait_for("Reload failed", after=mark)
        response = httpx.get(url + "/")
        assert response.status_code == 500
        assert shown in response.text
        mark = dev.mark()
        (tmp_path / "worker.py").write_text(good)
        dev.wait_for("^Reloaded$", after=mark)
        assert httpx.get(url + "/").text == "hello world"


def test_var_flag_overrides_vars(tmp_path: Path) -> None:
    write_worker(tmp_path)
    with DevProcess(["--var", "GREETING:from:flag"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.get(url + "/").text == "hello from:flag"


def test_config_error_is_one_clear_message_and_nonzero_exit(tmp_path: Path) -> None:
    write_worker(tmp_path)
    (tmp_path / "wrangler.toml").write_text('name = "x"\nmain = "missing.py"\n')
    with DevProcess([], cwd=tmp_path) as dev:
        assert dev.wait_exit() != 0
        assert "missing.py" in dev.output
        assert "Traceback" not in dev.output


def test_import_error_shows_only_the_users_frames(tmp_path: Path) -> None:
    write_worker(tmp_path, source="import nonexistent_module_xyz\n")
    with DevProcess([], cwd=tmp_path) as dev:
        assert dev.wait_exit() != 0
        assert "nonexistent_module_xyz" in dev.output
        assert "workerlab/" not in dev.output


def test_worker_can_import_its_own_helper_modules(tmp_path: Path) -> None:
    source = """
    from workers import Response
    from helpers import shout

    async def on_fetch(request, env):
        return Response(shout("hi"))
    """
    write_worker(tmp_path, source=source)
    (tmp_path / "helpers.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    with DevProcess([], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.get(url + "/").text == "HI!"


def test_dev_applies_pending_d1_migrations_at_start(tmp_path: Path) -> None:
    source = """
    from workers import Response

    async def fetch(request, env):
        row = await env.DB.prepare("SELECT count(*) AS n FROM notes").first()
        return Response(str(row["n"]))
    """
    write_worker(
        tmp_path, source=source, extra_config='[[d1_databases]]\nbinding = "DB"\ndatabase_name = "notes"\n'
    )
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_notes.sql").write_text("CREATE TABLE notes (id INTEGER PRIMARY KEY);\n")
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert "Applied D1 migration 0001_notes.sql to DB (local)" in dev.output
        assert httpx.get(url + "/").text == "0"
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        dev.wait_ready()
        assert "Applied D1 migration" not in dev.output


FAILING_WORK = """
from workers import Response

async def fetch(request, env, ctx):
    path = request.url.split("/", 3)[3]
    if path == "background":
        async def later():
            raise LookupError("background work failed")
        ctx.waitUntil(later())
        return Response("ok")
    if path == "storage":
        await env.CACHE.put("k" * 600, "v")
    if path == "sync":
        return sync_helper()
    return Response("hi")

def sync_helper():
    raise KeyError("from a helper")
"""


def test_user_errors_show_the_users_frames_only(tmp_path: Path) -> None:
    write_worker(
        tmp_path, source=FAILING_WORK, extra_config='[[kv_namespaces]]\nbinding = "CACHE"\nid = "c"\n'
    )
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        mark = dev.mark()
        assert httpx.get(url + "/background").text == "ok"
        dev.wait_for("LookupError: background work failed", after=mark)
        page = httpx.get(url + "/storage")
        assert page.status_code == 500
        assert "worker.py" in page.text and "StorageError: KV PUT failed: 414" in page.text
        assert "workerlab/" not in page.text and "workerlab.errors" not in page.text
        dev.signal()
        assert dev.wait_exit() == 0
        after = "\n".join(dev.lines[mark:])
        assert not re.search(r"workerlab/[\w/]+\.py", after)  # no frame of workerlab's own code
        assert "Shutting down" in after


def test_plain_def_handler_traceback_has_no_thread_plumbing(tmp_path: Path) -> None:
    source = """
    def fetch(request):
        raise KeyError("sync handler failed")
    """
    write_worker(tmp_path, source=source)
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        page = httpx.get(dev.wait_ready() + "/")
        assert page.status_code == 500
        assert "KeyError: 'sync handler failed'" in page.text
        assert "asyncio" not in page.text and "concurrent" not in page.text


@pytest.mark.parametrize("port", ["70000", "-5"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    write_worker(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "workerlab", "dev", "--port", port],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "0<=x<=65535" in result.stderr
    assert "Traceback" not in result.stderr


QUEUE_WORKER = """
from workers import Response

VERSION = "one"

async def fetch(request, env):
    await env.JOBS.send({"sent_by": VERSION}, delaySeconds=3)  # still pending at the reload
    return Response("queued")

async def queue(batch, env):
    for message in batch.messages:
        print(f"GOT {message.body} in {VERSION}", flush=True)
"""

QUEUES = """
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
"""


def test_queued_messages_survive_a_reload(tmp_path: Path) -> None:
    write_worker(tmp_path, source=QUEUE_WORKER, extra_config=QUEUES)
    with DevProcess([], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        assert httpx.post(url + "/").text == "queued"
        mark = dev.mark()
        source = (tmp_path / "worker.py").read_text()
        (tmp_path / "worker.py").write_text(source.replace('VERSION = "one"', 'VERSION = "two"'))
        dev.wait_for("^Reloaded$", after=mark)
        dev.wait_for(r"GOT \{'sent_by': 'one'\} in two", after=mark)


def test_a_wrong_content_length_from_the_worker_is_corrected(tmp_path: Path) -> None:
    source = """
    from workers import Response

    async def fetch(request):
        return Response("hello world", headers={"content-length": "5"})
    """
    write_worker(tmp_path, source=source)
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        response = httpx.get(dev.wait_ready() + "/")
        assert response.text == "hello world"
        assert response.headers.get_list("content-length") == ["11"]
