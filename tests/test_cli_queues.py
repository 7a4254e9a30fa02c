"""`workerlab queues`: what the local queues hold, read from the persist directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devprocess import DevProcess
from test_cli_queues_support import LIVE_WORKER, send_to

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


def workerlab(cwd: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workerlab", "queues", "--persist-to", "state", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        input=input,
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


# --- acting on the queues of a running `workerlab dev` ----------------------------------------

LIVE_CONFIG = """
name = "live"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.producers]]
binding = "BARRIER"
queue = "barrier"
[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
max_retries = 0
dead_letter_queue = "jobs-dlq"
[[queues.consumers]]
queue = "barrier"
max_batch_timeout = 0
"""


def live_project(folder: Path) -> Path:
    (folder / "wrangler.toml").write_text(LIVE_CONFIG)
    (folder / "worker.py").write_text(LIVE_WORKER)
    return folder


def delivered(dev: DevProcess, queue: str) -> list[str]:
    return [line.split()[2] for line in dev.lines if line.startswith(f"GOT {queue} ")]


def test_pause_and_resume_a_running_consumer(tmp_path: Path) -> None:
    with DevProcess(["--no-reload", "--persist-to", "state"], cwd=live_project(tmp_path)) as dev:
        dev.wait_ready()
        paused = workerlab(tmp_path, "pause", "jobs")
        assert paused.stdout.strip() == 'Paused message delivery for queue "jobs".', paused.stderr

        send_to(dev, "jobs", "held")
        send_to(dev, "barrier", "b1")
        # The barrier queue's batch went out after "held" was sent: the consumer saw the pause.
        dev.wait_for(r"^GOT barrier b1 1$")
        assert delivered(dev, "jobs") == []
        assert json.loads(workerlab(tmp_path, "jobs", "--json").stdout)["paused"] is True

        mark = dev.mark()
        assert (
            workerlab(tmp_path, "resume", "jobs").stdout.strip()
            == 'Resumed message delivery for queue "jobs".'
        )
        dev.wait_for(r"^GOT jobs held 1$", after=mark)
    assert workerlab(tmp_path, "pause-delivery", "jobs").returncode == 0  # wrangler's name works too
    assert workerlab(tmp_path, "resume", "jobs").returncode == 0


def test_purge_a_queue_while_the_server_runs(tmp_path: Path) -> None:
    with DevProcess(["--no-reload", "--persist-to", "state"], cwd=live_project(tmp_path)) as dev:
        dev.wait_ready()
        workerlab(tmp_path, "pause", "jobs")
        send_to(dev, "jobs", "p1", "p2", "p3")

        refused = workerlab(tmp_path, "purge", "jobs", input="nope\n")
        assert refused.returncode != 0
        assert "Incorrect queue name provided. Skipping purge operation" in refused.stderr
        unanswered = workerlab(tmp_path, "purge", "jobs", input="")
        assert unanswered.returncode != 0 and "pass --yes" in unanswered.stderr
        assert json.loads(workerlab(tmp_path, "jobs", "--json").stdout)["pending"] == 3

        confirmed = workerlab(tmp_path, "purge", "jobs", input="jobs\n")
        assert confirmed.stdout.strip() == 'Purged queue "jobs": 3 message(s) deleted.', confirmed.stderr
        send_to(dev, "jobs", "p4")
        assert workerlab(tmp_path, "purge", "jobs", "--yes").stdout.strip().endswith("1 message(s) deleted.")

        workerlab(tmp_path, "resume", "jobs")
        send_to(dev, "jobs", "after")
        dev.wait_for(r"^GOT jobs after 1$")
        assert delivered(dev, "jobs") == ["after"]


def test_redrive_dead_letters_into_a_running_consumer(tmp_path: Path) -> None:
    with DevProcess(["--no-reload", "--persist-to", "state"], cwd=live_project(tmp_path)) as dev:
        dev.wait_ready()
        send_to(dev, "jobs", "fail-a", "fail-b")
        dev.wait_for(r"^QUEUE jobs 0/2 ")  # both failed, both moved to jobs-dlq (which has no consumer)
        assert json.loads(workerlab(tmp_path, "jobs-dlq", "--json").stdout)["pending"] == 2

        mark = dev.mark()
        one = workerlab(tmp_path, "redrive", "jobs-dlq", "--to", "jobs", "--limit", "1")
        assert one.stdout.strip() == 'Moved 1 message(s) from dead-letter queue "jobs-dlq" back to "jobs".'
        dev.wait_for(r"^GOT jobs fail-a 1$", after=mark)  # attempts start again at 1
        mark = dev.mark()
        rest = workerlab(tmp_path, "redrive", "jobs-dlq")  # --to defaults to the queue it serves
        assert rest.stdout.strip() == 'Moved 1 message(s) from dead-letter queue "jobs-dlq" back to "jobs".'
        dev.wait_for(r"^GOT jobs fail-b 1$", after=mark)
        dev.wait_for(r"^QUEUE jobs 1/1 ", after=mark)
    counts = json.loads(workerlab(tmp_path, "--json").stdout)
    jobs = next(s for s in counts if s["queue"] == "jobs")
    assert (jobs["pending"], jobs["dead_lettered"]) == (0, 2)
    assert next(s for s in counts if s["queue"] == "jobs-dlq")["pending"] == 0


def test_commands_on_queues_report_user_errors_without_a_traceback(tmp_path: Path) -> None:
    live_project(tmp_path)
    same = workerlab(tmp_path, "redrive", "jobs-dlq", "--to", "jobs-dlq")
    assert same.returncode != 0
    assert 'the target queue must differ from "jobs-dlq" itself' in same.stderr
    assert "Traceback" not in same.stderr
    unknown = workerlab(tmp_path, "redrive", "nowhere")
    assert unknown.returncode != 0 and "say where the messages go with --to QUEUE" in unknown.stderr
    note = workerlab(tmp_path, "pause", "typo")
    assert 'note: queue "typo" is not named in' in note.stderr and note.returncode == 0
