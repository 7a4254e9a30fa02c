"""Queues end to end: `workerlab dev` subprocesses on a persist directory, fed over HTTP.

Covers delivery, retries with a real delay, dead letters, kill -9 mid-batch then restart,
and two processes sharing one persist directory.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx
from devprocess import DevProcess

WORKER = """
import asyncio
import time
from workers import Response


async def fetch(request, env, ctx):
    bodies = await request.json()
    await env.JOBS.sendBatch([{"body": body} for body in bodies])
    print(f"SENT {time.time()}", flush=True)
    return Response("queued")


async def queue(batch, env, ctx):
    for message in batch.messages:
        print(f"GOT {batch.queue} {message.id} {message.body} {message.attempts} {time.time()}", flush=True)
    for message in batch.messages:
        if message.body == "fail":
            message.retry()
        if message.body == "block" and message.attempts == 1:
            print("BLOCKED", flush=True)
            await asyncio.Event().wait()  # hangs here until the test kills the process
"""

GOT = re.compile(r"^GOT (\S+) ([0-9a-f]{32}) (\S+) (\d+) ([\d.]+)$")


def write_worker(folder: Path, queues: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(WORKER))
    config = folder / "wrangler.toml"
    config.write_text('name = "queues-e2e"\nmain = "worker.py"\n' + textwrap.dedent(queues))
    return config


PRODUCER = """
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
"""


def consumer(**settings: object) -> str:
    lines = [f"{key} = {value!r}".replace("'", '"') for key, value in settings.items()]
    return "\n[[queues.consumers]]\n" + "\n".join(lines) + "\n"


def start(folder: Path, persist: Path) -> DevProcess:
    dev = DevProcess(["--no-reload", "--no-crons", "--persist-to", str(persist)], cwd=folder)
    dev.wait_ready()
    return dev


def send(dev: DevProcess, *bodies: object) -> None:
    response = httpx.post(dev.url + "/", json=list(bodies), timeout=10)
    assert response.text == "queued"


def deliveries(dev: DevProcess) -> list[tuple[str, str, str, int, float]]:
    found = []
    for line in dev.lines:
        match = GOT.match(line)
        if match:
            queue, msg_id, body, attempts, when = match.groups()
            found.append((queue, msg_id, body, int(attempts), float(when)))
    return found


def wait_for_either(devs: tuple[DevProcess, ...], pattern: str, timeout_s: float = 20) -> None:
    """Wait until any of ``devs`` printed a line matching ``pattern``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for dev in devs:
            try:
                dev.wait_for(pattern, timeout_s=0.05)
                return
            except AssertionError:
                continue
    raise AssertionError(f"no process printed a line matching {pattern!r} within {timeout_s}s")


def test_dev_delivers_sent_messages_and_logs_each_batch(tmp_path):
    write_worker(tmp_path, PRODUCER + consumer(queue="jobs", max_batch_timeout=0))
    with start(tmp_path, tmp_path / "state") as dev:
        send(dev, "a", "b")
        dev.wait_for(r"^QUEUE jobs 2/2 \(\d+ms\)$")
        assert [(q, body, attempts) for q, _, body, attempts, _ in deliveries(dev)] == [
            ("jobs", "a", 1),
            ("jobs", "b", 1),
        ]
    assert (tmp_path / "state" / "queues.sqlite3").exists()


def test_dev_retries_after_the_real_retry_delay_then_dead_letters(tmp_path):
    queues = PRODUCER + consumer(
        queue="jobs", max_batch_timeout=0, max_retries=1, retry_delay=1, dead_letter_queue="jobs-dlq"
    )
    queues += consumer(queue="jobs-dlq", max_batch_timeout=0, max_retries=0)
    write_worker(tmp_path, queues)
    with start(tmp_path, tmp_path / "state") as dev:
        send(dev, "fail")
        moved = dev.wait_for(
            r'Moving message "([0-9a-f]{32})" on queue "jobs" to dead letter queue "jobs-dlq"'
            r" after 2 failed attempts"
        )
        dev.wait_for(r'Dropped message "[0-9a-f]{32}" on queue "jobs-dlq" after 1 failed attempts')
        got = deliveries(dev)
    assert [(q, attempts) for q, _, _, attempts, _ in got] == [("jobs", 1), ("jobs", 2), ("jobs-dlq", 1)]
    assert {msg_id for _, msg_id, _, _, _ in got} == {moved.group(1)}
    retry_gap_s = got[1][4] - got[0][4]
    assert 1.0 <= retry_gap_s < 3.0, retry_gap_s


def test_kill_9_mid_batch_then_restart_delivers_every_message(tmp_path):
    write_worker(tmp_path, PRODUCER + consumer(queue="jobs", max_batch_size=5, max_batch_timeout=0))
    persist = tmp_path / "state"
    bodies = [f"m{n}" for n in range(20)]
    bodies[7] = "block"
    with start(tmp_path, persist) as first:
        send(first, *bodies)
        first.wait_for("^BLOCKED$")
        before = deliveries(first)
        first.kill()
    in_flight = {body for _, _, body, _, _ in before[5:]}
    assert in_flight == set(bodies[5:10])

    with start(tmp_path, persist) as second:
        ready_s = time.time()
        second.wait_for(r"^GOT jobs \S+ m19 ")
        after = deliveries(second)
    # The dead process's lease is recovered at once: its batch comes first, well within 2 s.
    assert {body for _, _, body, _, _ in after[:5]} == in_flight
    assert after[0][4] - ready_s < 2
    counts = Counter(body for _, _, body, _, _ in before + after)
    assert set(counts) == set(bodies)
    assert {body for body, n in counts.items() if n > 1} == in_flight
    assert {(body, attempts) for _, _, body, attempts, _ in after if body in in_flight} == {
        (body, 2) for body in in_flight
    }
    assert all(attempts == 1 for _, _, body, attempts, _ in after if body not in in_flight)


def test_two_processes_share_a_persist_directory(tmp_path):
    persist = tmp_path / "state"
    write_worker(tmp_path / "producer", PRODUCER)
    write_worker(
        tmp_path / "consumer", PRODUCER + consumer(queue="jobs", max_batch_size=3, max_batch_timeout=0)
    )
    with start(tmp_path / "producer", persist) as producer, start(tmp_path / "consumer", persist) as first:
        # A process with only a producer feeds a consumer in another process, quickly.
        latencies_s = []
        for n in range(3):
            mark = producer.mark()
            send(producer, f"solo{n}")
            sent_s = float(producer.wait_for(r"^SENT ([\d.]+)$", after=mark).group(1))
            got = first.wait_for(rf"^GOT jobs \S+ solo{n} 1 ([\d.]+)$")
            latencies_s.append(float(got.group(1)) - sent_s)
        assert max(latencies_s) < 0.5, latencies_s  # 50 ms polling: picked up within 100 ms when idle

        # Two consumers on one directory: each message is leased to one of them at a time.
        with start(tmp_path / "consumer", persist) as second:
            bodies = [f"shared{n}" for n in range(60)]
            for start_at in range(0, 60, 20):
                send(producer, *bodies[start_at : start_at + 20])
            for body in bodies:
                wait_for_either((first, second), rf"^GOT jobs \S+ {body} ")
            got = [d for d in deliveries(first) + deliveries(second) if d[2].startswith("shared")]
    assert sorted(body for _, _, body, _, _ in got) == sorted(bodies)
    assert all(attempts == 1 for _, _, _, attempts, _ in got)
