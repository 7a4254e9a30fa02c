"""The queue API served by a real `workerlab dev`: the pull consumer sample drains a queue over HTTP,
a lease runs out in real time, and leases survive a kill -9 of the server."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from devprocess import DevProcess
from test_pull_support import queue_url

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_workers" / "pull_consumer"

CONFIG = """
name = "pulled-by-http"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
"""
WORKER = "async def fetch(request, env, ctx):\n    from workers import Response\n    return Response('ok')\n"


def start(folder: Path, persist: Path) -> DevProcess:
    dev = DevProcess(["--no-reload", "--no-crons", "--persist-to", str(persist)], cwd=folder)
    dev.wait_ready()
    return dev


def project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wrangler.toml").write_text(CONFIG)
    (folder / "worker.py").write_text(WORKER)
    return folder


def post(dev: DevProcess, path: str, body: Any) -> dict[str, Any]:
    response = httpx.post(dev.url + path, json=body, headers={"authorization": "Bearer t"}, timeout=10)
    document: dict[str, Any] = response.json()
    assert response.status_code == 200, document
    return document["result"]


def pull(dev: DevProcess, **options: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = post(dev, queue_url("jobs", "pull"), options)["messages"]
    return messages


def body_of(message: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(message["body"]))


#: What a lease end may differ by between the server's clock (whole milliseconds) and this one.
CLOCK_SLACK_S = 0.05
#: How long after its lease ends a message may take to come back before the test fails.
COME_BACK_WITHIN_S = 10.0


def pull_until_back(dev: DevProcess, lease_ends_s: float, **options: Any) -> list[dict[str, Any]]:
    """Pull until a message comes back, asserting that none does before ``lease_ends_s``
    (``time.monotonic()``): a lease running out in real time is what these tests are about."""
    while True:
        pulled = pull(dev, **options)
        now = time.monotonic()
        if pulled:
            early_s = lease_ends_s - now
            assert early_s <= CLOCK_SLACK_S, f"back {early_s:.3f} s before its lease ended"
            return pulled
        assert now < lease_ends_s + COME_BACK_WITHIN_S, "the message never came back"


def test_the_pull_consumer_sample_drains_a_queue_of_workerlab_dev(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "sample", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    with start(tmp_path / "sample", tmp_path / "state") as dev:
        events = [{"type": "click", "n": n} for n in range(250)]
        for first in range(0, 250, 100):
            response = httpx.post(dev.url + "/events/batch", json=events[first : first + 100], timeout=10)
            assert response.status_code == 202
        httpx.post(dev.url + "/events", json={"type": "broken", "fail": True}, timeout=10)

        script = subprocess.run(
            [sys.executable, str(SAMPLE / "pull_consumer.py"), "--url", dev.url, "--batch-size", "100"],
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert script.returncode == 0, script.stderr
        printed = [
            json.loads(line[len("event ") :])
            for line in script.stdout.splitlines()
            if line.startswith("event ")
        ]
        assert [event["n"] for event in printed] == list(range(250))
        assert "retrying message" in script.stdout and "could not handle 'broken'" in script.stdout
        assert script.stdout.splitlines()[-1] == "drained: 251 pulled, 250 acked, 1 retried"
        left = post(dev, "/cdn-cgi/workerlab/api/client/v4/accounts/x/queues/events/messages/pull", {})
        assert left["messages"] == [] and left["message_backlog_count"] == 1  # the retry, 10 s later


def test_a_lease_runs_out_in_real_time_and_the_message_comes_back(tmp_path: Path) -> None:
    with start(project(tmp_path / "worker"), tmp_path / "state") as dev:
        post(dev, queue_url("jobs"), {"body": "task"})
        [first] = pull(dev, visibility_timeout_ms=500)
        leased_at = time.monotonic()
        assert pull(dev) == []  # leased: nobody else gets it meanwhile

        again = pull_until_back(dev, leased_at + 0.5)

        assert [(m["id"], m["attempts"], body_of(m)) for m in again] == [(first["id"], 2, "task")]


def test_leases_survive_a_kill_9_of_the_server(tmp_path: Path) -> None:
    folder, persist = project(tmp_path / "worker"), tmp_path / "state"
    with start(folder, persist) as first:
        post(
            first,
            queue_url("jobs", "batch"),
            {"messages": [{"body": b} for b in ("done", "held", "waiting")]},
        )
        done, held = pull(first, batch_size=2, visibility_timeout_ms=4_000)
        lease_ends = time.monotonic() + 4
        assert (
            post(first, queue_url("jobs", "ack"), {"acks": [{"lease_id": done["lease_id"]}]})["ackCount"] == 1
        )
        first.kill()

    with start(folder, persist) as second:
        [waiting] = pull(second, visibility_timeout_ms=60_000)
        assert (body_of(waiting), waiting["attempts"]) == ("waiting", 1)

        assert pull(second, visibility_timeout_ms=60_000) == []  # "held" is still leased

        [back] = pull_until_back(second, lease_ends, visibility_timeout_ms=60_000)

        assert (back["id"], body_of(back), back["attempts"]) == (held["id"], "held", 2)
        assert post(second, queue_url("jobs", "pull"), {})["message_backlog_count"] == 2  # "done" is gone
