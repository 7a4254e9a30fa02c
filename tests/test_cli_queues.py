"""`workerlab queues`: what the local queues hold, read from the persist directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workerlab.clock import FakeClock, SystemClock
from workerlab.config import load_config
from workerlab.session import Session, SessionOptions

CONFIG = """
name = "inspected"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.producers]]
binding = "LATER"
queue = "later"
[[queues.consumers]]
queue = "jobs"
max_retries = 0
max_batch_timeout = 0
"""

WORKER = """
async def queue(batch, env, ctx):
    raise RuntimeError("always fails")
"""


async def fill(folder: Path) -> None:
    (folder / "wrangler.toml").write_text(CONFIG)
    (folder / "worker.py").write_text(WORKER)
    # The command reads the real clock: messages sent at a fake 2026-01-01 would be past retention.
    options = SessionOptions(persist_dir=folder / "state", clock=FakeClock(int(SystemClock().now_s())))
    session = await Session.open([load_config(folder / "wrangler.toml")], options)
    env = session.primary.env
    await env.JOBS.send({"job": 1})
    await env.LATER.sendBatch([{"body": "a"}, {"body": "b", "delaySeconds": 600}])
    await session.timers.run_due()
    await session.close()


def workerlab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workerlab", "queues", "--persist-to", "state", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_summary_of_every_queue(tmp_path: Path) -> None:
    await fill(tmp_path)
    result = workerlab(tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    summaries = {s["queue"]: s for s in json.loads(result.stdout)}
    assert summaries["jobs"] == {
        "queue": "jobs",
        "pending": 0,
        "ready": 0,
        "delayed": 0,
        "in_flight": 0,
        "dropped": 1,
        "dead_lettered": 0,
        "expired": 0,
        "paused": False,
        "backlog_bytes": 0,
    }
    assert summaries["later"]["pending"] == 2 and summaries["later"]["dropped"] == 0


async def test_messages_of_one_queue(tmp_path: Path) -> None:
    await fill(tmp_path)
    dropped = json.loads(workerlab(tmp_path, "jobs", "--json").stdout)
    assert [(m["body"], m["attempts"]) for m in dropped["last_dropped"]] == [({"job": 1}, 1)]
    later = json.loads(workerlab(tmp_path, "later", "--json", "--limit", "1").stdout)
    assert [m["body"] for m in later["next"]] == ["a"]
    table = workerlab(tmp_path, "later")
    assert "Next 2 pending" in table.stdout and "'a'" in table.stdout


def test_nothing_stored_yet(tmp_path: Path) -> None:
    (tmp_path / "wrangler.toml").write_text(CONFIG)
    (tmp_path / "worker.py").write_text(WORKER)
    result = workerlab(tmp_path)
    assert result.returncode == 0
    assert "No queue has stored anything yet" in result.stdout
