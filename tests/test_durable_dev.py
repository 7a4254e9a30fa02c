"""Durable Objects under a real `workerlab dev`: storage and alarms survive restarts and kill -9,
past-due alarms fire at start, the ALARM log line, and a class bound from another worker."""

from __future__ import annotations

import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from devprocess import DevProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

OPTIONS = ("--persist-to", "state", "--no-reload", "--no-inspector")
ALARM_LINE = r"^ALARM Box {id8} {outcome} \(\d+ms\)$"

WORKER = """
import asyncio
import time
from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint

LOADED_MS = time.time_ns() // 1_000_000


def now_ms():
    return time.time_ns() // 1_000_000


class Box(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (value TEXT)")

    async def save(self, value):
        await self.ctx.storage.put("value", value)
        self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", value)

    async def read(self):
        logged = [row.value for row in self.ctx.storage.sql.exec("SELECT value FROM log")]
        return {
            "id": self.ctx.id.toString(),
            "value": await self.ctx.storage.get("value"),
            "log": logged,
            "alarm": await self.ctx.storage.getAlarm(),
            "runs": await self.ctx.storage.get("runs") or 0,
        }

    async def arm(self, mode, delay_ms):
        when = now_ms() + delay_ms
        await self.ctx.storage.put("mode", mode)
        await self.ctx.storage.setAlarm(when)
        return {"id": self.ctx.id.toString(), "when": when}

    async def alarm(self, alarm_info):
        mode = await self.ctx.storage.get("mode")
        runs = (await self.ctx.storage.get("runs") or 0) + 1
        await self.ctx.storage.put("runs", runs)
        print(
            f"alarm {mode} run {runs} retry {alarm_info.retryCount} "
            f"scheduled {alarm_info.scheduledTime} loaded {LOADED_MS}",
            flush=True,
        )
        if runs > 1:
            return
        if mode == "hang":
            await asyncio.Event().wait()  # until the process is killed
        elif mode == "rearm":
            await self.ctx.storage.setAlarm(now_ms() + 3_600_000)
        elif mode == "fail":
            raise RuntimeError("failing once on purpose")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        box = self.env.BOXES.getByName(query.get("name", "box"))
        if url.path == "/save":
            await box.save(query["value"])
            return Response("saved")
        if url.path == "/arm":
            return Response.json(await box.arm(query["mode"], int(query.get("delay_ms", "0"))))
        return Response.json(await box.read())
"""

BINDINGS = """
[[durable_objects.bindings]]
name = "BOXES"
class_name = "Box"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Box"]
"""


def write(folder: Path, name: str, source: str, config: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(source))
    path = folder / "wrangler.toml"
    path.write_text(
        f'name = "{name}"\nmain = "worker.py"\ncompatibility_date = "2026-03-01"\n'
        f'compatibility_flags = ["python_workers"]\n{textwrap.dedent(config)}'
    )
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path, "boxes", WORKER, BINDINGS)
    return tmp_path


def start(folder: Path, *configs: str) -> DevProcess:
    args = [arg for config in configs for arg in ("-c", config)]
    process = DevProcess([*args, *OPTIONS], cwd=folder)
    process.wait_ready()
    return process


def get(process: DevProcess, path: str, **params: Any) -> Any:
    response = httpx.get(process.url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return (
        response.json() if response.headers["content-type"].startswith("application/json") else response.text
    )


def stop(process: DevProcess) -> None:
    process.signal(signal.SIGTERM)
    assert process.wait_exit() == 0


def alarm_runs(process: DevProcess, mode: str, *, after: int = 0) -> dict[str, int]:
    """Wait for the worker's line about a run of its ``mode`` alarm; its numbers by name."""
    line = process.wait_for(rf"^alarm {mode} run \d+ ", after=after).string
    words = line.split()
    return {name: int(value) for name, value in zip(words[2::2], words[3::2], strict=True)}


def test_storage_survives_a_restart(folder: Path) -> None:
    with start(folder) as dev:
        assert get(dev, "/save", value="first") == "saved"
        assert get(dev, "/save", value="second") == "saved"
        stop(dev)
    with start(folder) as dev:
        box = get(dev, "/read")
        assert (box["value"], box["log"]) == ("second", ["first", "second"])
    files = list((folder / "state" / "durable_objects" / "Box").glob("*.sqlite3"))
    assert [path.name for path in files] == [f"{box['id']}.sqlite3"]


def test_a_kill_with_an_alarm_due_then_a_restart_fires_it_at_start(folder: Path) -> None:
    with start(folder) as dev:
        armed = get(dev, "/arm", mode="hang")
        first = alarm_runs(dev, "hang")
        assert (first["run"], first["retry"]) == (1, 0)
        dev.kill()  # SIGKILL in the middle of alarm(): the alarm is still due
    with start(folder) as dev:
        second = alarm_runs(dev, "hang")
        dev.wait_for(ALARM_LINE.format(id8=armed["id"][:8], outcome="ok"))
        assert (second["run"], second["retry"]) == (2, 0)
        assert second["scheduled"] == armed["when"] < second["loaded"]  # past due when it started
        assert get(dev, "/read")["alarm"] is None


def test_an_alarm_that_falls_due_while_dev_is_killed_fires_after_the_restart(folder: Path) -> None:
    with start(folder) as dev:
        armed = get(dev, "/arm", mode="plain", delay_ms=1000)
        dev.kill()
    assert not any(line.startswith("alarm plain") for line in dev.lines)  # it had not fired yet
    with start(folder) as dev:
        run = alarm_runs(dev, "plain")
        dev.wait_for(ALARM_LINE.format(id8=armed["id"][:8], outcome="ok"))
        assert (run["run"], run["scheduled"]) == (1, armed["when"])
        assert get(dev, "/read")["alarm"] is None


def test_an_alarm_set_before_a_reload_fires_in_the_reloaded_code(folder: Path) -> None:
    dev = DevProcess(["--persist-to", "state", "--no-inspector"], cwd=folder)  # reloading on edits
    with dev:
        dev.wait_ready()
        armed = get(dev, "/arm", mode="plain", delay_ms=5000)
        mark = dev.mark()
        edited_ms = time.time_ns() // 1_000_000
        source = (folder / "worker.py").read_text()
        (folder / "worker.py").write_text(source.replace("class Box(", "# edited\nclass Box("))
        dev.wait_for("^Reloaded$", after=mark)
        run = alarm_runs(dev, "plain", after=mark)
        assert (run["run"], run["scheduled"]) == (1, armed["when"])
        assert run["loaded"] >= edited_ms  # the module loaded by the reload ran it
        dev.wait_for(ALARM_LINE.format(id8=armed["id"][:8], outcome="ok"), after=mark)


def test_an_alarm_set_inside_alarm_is_kept_across_a_kill(folder: Path) -> None:
    with start(folder) as dev:
        armed = get(dev, "/arm", mode="rearm")
        dev.wait_for(ALARM_LINE.format(id8=armed["id"][:8], outcome="ok"))
        rearmed = get(dev, "/read")["alarm"]
        assert rearmed is not None and rearmed > armed["when"]
        dev.kill()
    with start(folder) as dev:
        box = get(dev, "/read")
        assert (box["alarm"], box["runs"]) == (rearmed, 1)


def test_the_alarm_log_line_says_ok_or_exception(folder: Path) -> None:
    with start(folder) as dev:
        mark = dev.mark()
        armed = get(dev, "/arm", mode="fail")
        id8 = armed["id"][:8]
        failed = dev.wait_for(ALARM_LINE.format(id8=id8, outcome="exception"), after=mark)
        retried = dev.wait_for(ALARM_LINE.format(id8=id8, outcome="ok"), after=mark)
        assert dev.lines.index(failed.string) < dev.lines.index(retried.string)
        assert alarm_runs(dev, "fail", after=dev.lines.index(failed.string))["retry"] == 1
        assert "failing once on purpose" in dev.output


FRONT = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.json(await self.env.COUNTER.getByName("visits").hit())
"""

FRONT_CONFIG = """
[vars]
OWNER = "front"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"
script_name = "store"
"""

STORE = """
from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    async def hit(self):
        count = (await self.ctx.storage.get("count") or 0) + 1
        await self.ctx.storage.put("count", count)
        return {"count": count, "owner": self.env.OWNER}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("store")
"""

STORE_CONFIG = """
[vars]
OWNER = "store"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
"""


def test_a_worker_binds_a_class_of_another_through_script_name(tmp_path: Path) -> None:
    write(tmp_path / "front", "front", FRONT, FRONT_CONFIG)
    write(tmp_path / "store", "store", STORE, STORE_CONFIG)
    configs = ("front/wrangler.toml", "store/wrangler.toml")
    with start(tmp_path, *configs) as dev:
        row = dev.wait_for(r"^\s+env\.COUNTER\s+Durable Object\s+store\.Counter\s+local$")
        assert row
        assert [get(dev, "/") for _ in range(2)] == [
            {"count": 1, "owner": "store"},  # the class runs with its own worker's env
            {"count": 2, "owner": "store"},
        ]
        stop(dev)
    with start(tmp_path, *configs) as dev:
        assert get(dev, "/") == {"count": 3, "owner": "store"}
    assert len(list((tmp_path / "state" / "durable_objects" / "Counter").glob("*.sqlite3"))) == 1
