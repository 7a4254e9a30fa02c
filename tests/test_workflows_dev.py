"""Workflows under a real `workerlab dev`: an instance survives kill -9 of the process. After the
restart it resumes, replaying ``run`` with its stored step results: no succeeded step runs twice
(the worker counts every step run in a file), the step that was running at the crash runs again
as its next attempt. The WORKFLOW log lines and the status over HTTP, as a user sees them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from devprocess import DevProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

#: Every step appends "<instance> <step> <attempt>" to the file COUNTS_FILE names, before it
#: returns: the side effects the test counts across the crash.
WORKER = """
import asyncio
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint
from workers.workflows import NonRetryableError


def count(env, instance_id, step, attempt):
    with open(env.COUNTS_FILE, "a") as out:
        out.write(f"{instance_id} {step} {attempt}\\n")


class Crashy(WorkflowEntrypoint):
    async def run(self, event, step):
        name = event.instanceId

        @step.do()
        async def prepare(ctx):
            count(self.env, name, "prepare", ctx.attempt)
            return {"n": event.payload["n"]}

        @step.do(config={"retries": {"limit": 2, "delay": 100}, "timeout": "10 minutes"})
        async def work(prepare, ctx):
            count(self.env, name, "work", ctx.attempt)
            if event.payload.get("hang") and ctx.attempt == 1:
                print(f"work is running for {name}", flush=True)
                await asyncio.Event().wait()  # until the process is killed
            if event.payload.get("fail") and ctx.attempt == 1:
                raise ConnectionError("the backend refused")
            return prepare["n"] * 2

        @step.do()
        async def finish(work, ctx):
            count(self.env, name, "finish", ctx.attempt)
            if event.payload.get("fatal"):
                raise NonRetryableError("cannot finish", "FinishError")
            return work + 1

        await prepare()
        await step.sleep("rest", event.payload.get("rest_ms", 1))
        await work()
        if event.payload.get("approval"):
            await step.wait_for_event("approval", "approved", timeout="1 hour")
        return await finish()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        if request.method == "POST" and parts[0] == "start":
            instance = await self.env.CRASHY.create(id=parts[1], params=await request.json())
            return Response.json({"id": instance.id})
        instance = await self.env.CRASHY.get(parts[1])
        if request.method == "POST" and parts[0] == "approve":
            await instance.send_event(type="approved", payload={"by": "http"})
            return Response.json({"sent": True})
        return Response.json(await instance.status())
"""

CONFIG = """
name = "flows"
main = "worker.py"
compatibility_date = "2026-03-01"
compatibility_flags = ["python_workers"]

[vars]
COUNTS_FILE = "{counts}"

[[workflows]]
name = "crashy"
binding = "CRASHY"
class_name = "Crashy"
"""

#: A WORKFLOW log line: workflow, instance id, step, outcome, duration.
LINE = r"^WORKFLOW crashy {id} {step} {outcome} \(\d+ms\)$"
#: Status requests made while waiting for a status (each answers in a few milliseconds; the tests
#: first wait for the log line of the step that leads to it).
MAX_POLLS = 2_000


class App:
    """The worker above in ``tmp_path/app``, its step counts in ``tmp_path/counts.log``."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "app"
        self.folder.mkdir()
        self.counts_file = tmp_path / "counts.log"
        (self.folder / "worker.py").write_text(WORKER)
        (self.folder / "wrangler.toml").write_text(CONFIG.format(counts=self.counts_file))

    def dev(self, *, reload: bool = False) -> DevProcess:
        dev = DevProcess(["--reload" if reload else "--no-reload", "--no-inspector"], cwd=self.folder)
        dev.wait_ready()
        return dev

    def counts(self, instance_id: str) -> list[str]:
        if not self.counts_file.exists():
            return []
        lines = self.counts_file.read_text().splitlines()
        return [line.split(" ", 1)[1] for line in lines if line.split(" ", 1)[0] == instance_id]


def start(dev: DevProcess, instance_id: str, **params: Any) -> None:
    response = httpx.post(f"{dev.url}/start/{instance_id}", json={"n": 21, **params})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": instance_id}


def status(dev: DevProcess, instance_id: str) -> dict[str, Any]:
    response = httpx.get(f"{dev.url}/status/{instance_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_for_status(dev: DevProcess, instance_id: str, *wanted: str) -> dict[str, Any]:
    """Poll the status over HTTP until it is one of ``wanted`` (a replay may be under way)."""
    for _ in range(MAX_POLLS):
        current = status(dev, instance_id)
        if current["status"] in wanted:
            return current
    raise AssertionError(f"instance {instance_id} still {current} after {MAX_POLLS} polls:\n{dev.output}")


def wait_until_over(dev: DevProcess, instance_id: str) -> dict[str, Any]:
    return wait_for_status(dev, instance_id, "complete", "errored", "terminated")


@pytest.fixture
def app(tmp_path: Path) -> App:
    return App(tmp_path)


def test_kill_9_mid_step_then_restart_resumes_without_running_a_succeeded_step_again(app: App) -> None:
    with app.dev() as dev:
        start(dev, "job", hang=True)
        dev.wait_for(LINE.format(id="job", step="prepare", outcome="ok"))
        dev.wait_for(r"^work is running for job$")
        assert status(dev, "job") == {"status": "running"}
        dev.kill()  # SIGKILL to the whole process group, in the middle of "work"
    assert app.counts("job") == ["prepare 1", "work 1"]

    with app.dev() as dev:
        dev.wait_for(LINE.format(id="job", step="work", outcome="ok"))
        dev.wait_for(LINE.format(id="job", step="finish", outcome="ok"))
        assert wait_until_over(dev, "job") == {"status": "complete", "output": 43}
        # The replay took prepare's stored result; the cut attempt of work counted as attempt 1.
        assert app.counts("job") == ["prepare 1", "work 1", "work 2", "finish 1"]
        assert "WORKFLOW crashy job prepare" not in dev.output


def test_kill_9_during_a_sleep_then_restart_ends_the_sleep_and_goes_on(app: App) -> None:
    with app.dev() as dev:
        start(dev, "sleeper", rest_ms=1500)
        dev.wait_for(LINE.format(id="sleeper", step="prepare", outcome="ok"))
        assert wait_for_status(dev, "sleeper", "waiting") == {"status": "waiting"}
        dev.kill()

    with app.dev() as dev:
        dev.wait_for(LINE.format(id="sleeper", step="finish", outcome="ok"))
        assert wait_until_over(dev, "sleeper") == {"status": "complete", "output": 43}
    assert app.counts("sleeper") == ["prepare 1", "work 1", "finish 1"]


def test_kill_9_while_waiting_for_an_event_then_the_event_over_http(app: App) -> None:
    with app.dev() as dev:
        start(dev, "waiter", approval=True)
        dev.wait_for(LINE.format(id="waiter", step="work", outcome="ok"))
        dev.kill()

    with app.dev() as dev:
        mark = dev.mark()
        assert wait_for_status(dev, "waiter", "waiting") == {"status": "waiting"}
        assert httpx.post(f"{dev.url}/approve/waiter").json() == {"sent": True}
        dev.wait_for(LINE.format(id="waiter", step="finish", outcome="ok"), after=mark)
        assert wait_until_over(dev, "waiter") == {"status": "complete", "output": 43}
    assert app.counts("waiter") == ["prepare 1", "work 1", "finish 1"]


def test_a_stop_mid_step_then_restart_runs_the_step_again_as_its_next_attempt(app: App) -> None:
    with app.dev() as dev:
        start(dev, "stopped", hang=True)
        dev.wait_for(r"^work is running for stopped$")
        dev.signal()  # SIGTERM: a clean stop
        assert dev.wait_exit() == 0

    with app.dev() as dev:
        dev.wait_for(LINE.format(id="stopped", step="finish", outcome="ok"))
        assert wait_until_over(dev, "stopped") == {"status": "complete", "output": 43}
    assert app.counts("stopped") == ["prepare 1", "work 1", "work 2", "finish 1"]


def test_a_reload_mid_step_runs_the_step_again_with_the_new_code(app: App) -> None:
    with app.dev(reload=True) as dev:
        start(dev, "edited", hang=True)
        dev.wait_for(r"^work is running for edited$")
        mark = dev.mark()
        source = app.folder / "worker.py"
        source.write_text(source.read_text().replace("return work + 1", "return work + 1000"))
        dev.wait_for(r"Reloaded", after=mark)
        dev.wait_for(LINE.format(id="edited", step="finish", outcome="ok"), after=mark)
        assert wait_until_over(dev, "edited") == {"status": "complete", "output": 1042}
    assert app.counts("edited") == ["prepare 1", "work 1", "work 2", "finish 1"]


def test_log_lines_and_status_of_a_retry_and_an_error(app: App) -> None:
    with app.dev() as dev:
        start(dev, "bumpy", fail=True, fatal=True)
        dev.wait_for(LINE.format(id="bumpy", step="work", outcome="retry"))
        dev.wait_for(LINE.format(id="bumpy", step="work", outcome="ok"))
        dev.wait_for(LINE.format(id="bumpy", step="finish", outcome="error"))
        assert wait_until_over(dev, "bumpy") == {
            "status": "errored",
            "error": {"name": "FinishError", "message": "cannot finish"},
        }
        assert dev.wait_for(r'Workflow "crashy" instance "bumpy" errored')
    assert app.counts("bumpy") == ["prepare 1", "work 1", "work 2", "finish 1"]


def test_an_unknown_instance_over_http_is_a_clear_error(app: App) -> None:
    with app.dev() as dev:
        response = httpx.get(f"{dev.url}/status/nobody")
        assert response.status_code == 500
        assert "no instance with id" in response.text
        assert json.dumps("nobody")[1:-1] in response.text
