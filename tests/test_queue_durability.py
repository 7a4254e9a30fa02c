"""The SQLite store: WAL, sync levels, transactions, crash safety, leases, and sharing between processes."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from test_queue_support import Brokers, ScriptedConsumer

from workerlab.clock import FakeClock, SystemClock
from workerlab.config import QueueConsumer
from workerlab.queues import Broker, QueueStore
from workerlab.queues.leases import OWNER_STALE_S
from workerlab.queues.store import Owner

JOBS = QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=0)


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


def now_clock() -> FakeClock:
    return FakeClock(SystemClock().now_s())


def pragma(store: QueueStore, name: str) -> object:
    return store._db.execute(f"PRAGMA {name}").fetchone()[0]


# --- the file ---------------------------------------------------------------------------------


def test_the_store_is_a_wal_database_in_the_persist_directory(tmp_path):
    store = QueueStore.open(tmp_path / "state")
    try:
        assert store.path == tmp_path / "state" / "queues.sqlite3"
        assert store.path.exists()
        assert pragma(store, "journal_mode") == "wal"
        assert pragma(store, "synchronous") == 1  # NORMAL
    finally:
        store.close()


def test_durable_syncs_every_commit(tmp_path):
    store = QueueStore.open(tmp_path / "queues.sqlite3", durable=True)
    try:
        assert store.path == tmp_path / "queues.sqlite3"
        assert pragma(store, "synchronous") == 2  # FULL
    finally:
        store.close()


async def test_one_transaction_per_send_batch_claim_and_settle(brokers):
    broker, scripted, _ = brokers(JOBS)
    statements: list[str] = []
    broker.store._db.set_trace_callback(statements.append)

    def transactions() -> int:
        count = sum(1 for s in statements if s.startswith("BEGIN"))
        statements.clear()
        return count

    await broker.producer("jobs").sendBatch([{"body": i} for i in range(100)])
    assert transactions() == 1
    scripted.behaviour = lambda batch, ctx: [m.retry() for m in batch.messages[:3]]
    await broker._keeper.start()
    statements.clear()
    await broker.run_due()
    # 10 batches of 10: one claim and one settle each, and the 3 retried of each come back in later batches.
    delivered = len(scripted.batches)
    assert transactions() == 2 * delivered


async def test_messages_survive_closing_and_reopening(tmp_path):
    store = QueueStore.open(tmp_path)
    broker = Broker(store, FakeClock(), {}, ScriptedConsumer())
    await broker.producer("jobs").sendBatch([{"body": i} for i in range(5)])
    await broker.close()
    store.close()
    reopened = QueueStore.open(tmp_path)
    try:
        assert reopened.count("jobs") == 5
    finally:
        reopened.close()


# --- crashes and leases ----------------------------------------------------------------------

CRASHING_CONSUMER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from workerlab.clock import SystemClock
    from workerlab.config import QueueConsumer
    from workerlab.queues import Broker, QueueStore

    async def dispatch(batch):
        print("BATCH " + " ".join(m.id for m in batch.messages), flush=True)
        await asyncio.Event().wait()  # never finishes: the test kills us mid-batch

    async def main():
        store = QueueStore.open(Path(sys.argv[1]))
        consumer = QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=0)
        await Broker(store, SystemClock(), {"jobs": consumer}, dispatch).run()

    asyncio.run(main())
    """
)

PRODUCER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from workerlab.clock import SystemClock
    from workerlab.queues import Broker, QueueStore

    async def main():
        store = QueueStore.open(Path(sys.argv[1]))
        jobs = Broker(store, SystemClock(), {}, None).producer("jobs")
        for line in sys.stdin:
            await jobs.send(line.strip())
            print(f"SENT {time.time()}", flush=True)
        store.close()

    asyncio.run(main())
    """
)


class Child:
    """A Python subprocess whose output lines the test reads with a deadline."""

    def __init__(self, code: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read_line(self, timeout_s: float = 20.0) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.kill()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"no output from the child within {timeout_s}s; stderr:\n{stderr}")
        return line.strip()

    def write_line(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


async def test_kill_9_mid_batch_loses_nothing_and_counts_the_lost_delivery(tmp_path, brokers, children):
    clock = now_clock()
    sender, _, _ = brokers(clock=clock, path=tmp_path)
    await sender.producer("jobs").sendBatch([{"body": i} for i in range(25)])
    child = Child(CRASHING_CONSUMER, str(tmp_path))
    children.append(child)
    in_flight = set(child.read_line().split()[1:])
    assert len(in_flight) == 10
    child.kill()

    broker, scripted, _ = brokers(JOBS, clock=clock, path=tmp_path)
    started = time.monotonic()
    await broker.drain()
    assert time.monotonic() - started < 2
    delivered = [m for batch in scripted.batches for m in batch.messages]
    assert sorted(m.body for m in delivered) == list(range(25))  # every message, each once
    assert {m.id for m in delivered if m.attempts == 2} == in_flight
    assert all(m.attempts == 1 for m in delivered if m.id not in in_flight)


async def test_leases_of_a_dead_process_are_recovered_at_start(tmp_path, brokers):
    clock = now_clock()
    sender, _, _ = brokers(clock=clock, path=tmp_path)
    await sender.producer("jobs").sendBatch([{"body": i} for i in range(3)])
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(finished.stdout)
    store = sender.store
    store.register_owner(Owner("ghost", socket.gethostname(), dead_pid, SystemClock().now_ms()))
    assert len(store.claim("jobs", "ghost", clock.now_ms(), 10)) == 3

    broker, scripted, _ = brokers(JOBS, clock=clock, path=tmp_path)
    await broker.run_due()
    assert scripted.attempts() == [[2, 2, 2]]
    assert [o.owner for o in store.owners()] == [broker.owner]


async def test_an_owner_on_another_host_is_dead_only_once_its_heartbeat_is_stale(tmp_path, brokers):
    clock = now_clock()
    sender, _, _ = brokers(clock=clock, path=tmp_path)
    await sender.producer("jobs").sendBatch([{"body": "fresh"}, {"body": "stale"}])
    store = sender.store
    wall_ms = SystemClock().now_ms()
    store.register_owner(Owner("fresh", "elsewhere", 1, wall_ms))
    store.register_owner(Owner("stale", "elsewhere", 1, wall_ms - int(OWNER_STALE_S * 1000) - 1))
    store.claim("jobs", "fresh", clock.now_ms(), 1)
    store.claim("jobs", "stale", clock.now_ms(), 1)

    broker, scripted, _ = brokers(JOBS, clock=clock, path=tmp_path)
    await broker.run_due()
    assert scripted.bodies() == [["stale"]]
    assert {o.owner for o in store.owners()} == {"fresh", broker.owner}


async def test_close_gives_back_leases_and_unregisters(tmp_path, brokers):
    broker, _, clock = brokers(JOBS, clock=now_clock(), path=tmp_path)
    await broker.producer("jobs").send("x")
    await broker._keeper.start()
    broker.store.claim("jobs", broker.owner, clock.now_ms(), 10)
    await broker.close()
    assert broker.store.owners() == []
    [row] = broker.store.pending("jobs")
    check = sqlite3.connect(broker.store.path)
    try:
        assert check.execute("SELECT owner FROM messages").fetchall() == [(None,)]
    finally:
        check.close()
    assert row.attempts == 1


# --- several processes ------------------------------------------------------------------------


async def test_a_message_is_leased_to_one_consumer_at_a_time(tmp_path, brokers):
    total = 300
    seen: list[str] = []
    all_in = asyncio.Event()

    async def behaviour(batch, ctx):
        seen.extend(m.id for m in batch.messages)
        await asyncio.sleep(0)  # let the other broker claim in between
        if len(seen) >= total:
            all_in.set()

    consumer = QueueConsumer("jobs", max_batch_size=7, max_batch_timeout_s=0, max_concurrency=3)
    first, _, _ = brokers(consumer, behaviour=behaviour, clock=SystemClock(), path=tmp_path)  # type: ignore[arg-type]
    second, _, _ = brokers(consumer, behaviour=behaviour, clock=SystemClock(), path=tmp_path)  # type: ignore[arg-type]
    loops = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    jobs = first.producer("jobs")
    for start in range(0, total, 100):
        await jobs.sendBatch([{"body": i} for i in range(start, start + 100)])
    await asyncio.wait_for(all_in.wait(), timeout=20)
    await first.close()
    await second.close()
    await asyncio.gather(*loops)
    assert len(seen) == len(set(seen)) == total


async def test_a_producer_in_another_process_feeds_this_consumer_quickly(tmp_path, brokers, children):
    received: asyncio.Queue[float] = asyncio.Queue()

    def behaviour(batch, ctx):
        for _ in batch.messages:
            received.put_nowait(SystemClock().now_s())

    consumer = QueueConsumer("jobs", max_batch_timeout_s=0)
    broker, scripted, _ = brokers(consumer, behaviour=behaviour, clock=SystemClock(), path=tmp_path)  # type: ignore[arg-type]
    loop = asyncio.create_task(broker.run())
    child = Child(PRODUCER, str(tmp_path))
    children.append(child)
    latencies_s = []
    for n in range(5):
        child.write_line(f"message {n}")
        sent_s = float(child.read_line().split()[1])
        got_s = await asyncio.wait_for(received.get(), timeout=5)
        latencies_s.append(got_s - sent_s)
    await broker.close()
    await loop
    assert [b for batch in scripted.bodies() for b in batch] == [f"message {n}" for n in range(5)]
    # Picked up within 100 ms by design (50 ms polling); the bound here leaves room for a loaded machine.
    assert max(latencies_s) < 0.5, latencies_s


async def test_messages_wait_for_a_consumer_that_appears_later(tmp_path, brokers):
    clock = now_clock()
    producer_only, _, _ = brokers(clock=clock, path=tmp_path)
    await producer_only.producer("later").sendBatch([{"body": "a"}, {"body": "b"}])
    await producer_only.drain()
    assert producer_only.store.count("later") == 2
    consumer, scripted, _ = brokers(QueueConsumer("later", max_batch_timeout_s=0), clock=clock, path=tmp_path)
    await consumer.drain()
    assert scripted.bodies() == [["a", "b"]]


def test_the_pid_check_sees_this_process_alive():
    from workerlab.process import process_alive

    assert process_alive(os.getpid())


async def test_a_batch_whose_outcome_cannot_be_written_is_delivered_again(brokers, monkeypatch, caplog):
    broker, scripted, _ = brokers(JOBS)
    await broker.producer("jobs").send("x")
    real_settle = broker.store.settle

    def failing_settle(*args, **kwargs):
        monkeypatch.setattr(broker.store, "settle", real_settle)
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(broker.store, "settle", failing_settle)
    await broker.drain()
    assert scripted.attempts() == [[1], [2]]
    assert broker.store.count("jobs") == 0
    assert "could not record a batch's outcome (database is locked)" in caplog.text


async def test_close_cancels_a_stuck_batch_after_the_grace_and_gives_its_messages_back(brokers, caplog):
    started = asyncio.Event()

    async def stuck(batch, ctx):
        started.set()
        await asyncio.Event().wait()

    broker, _, _ = brokers(JOBS, behaviour=stuck)
    await broker.producer("jobs").send("x")
    delivering = asyncio.create_task(broker.run_due())
    await asyncio.wait_for(started.wait(), timeout=5)
    await broker.close(grace_s=0)
    await delivering  # returns: nothing more starts once closing
    [row] = broker.store.pending("jobs")
    assert row.attempts == 1
    assert broker.store.claim("jobs", "someone", row.ready_ms, 10)  # not leased any more
    assert "Cancelling 1 queue batch(es) still running after 0 s" in caplog.text


def test_a_file_that_is_not_a_queue_store_is_a_clear_error(tmp_path):
    from workerlab.errors import StorageError

    bogus = tmp_path / "queues.sqlite3"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(
        StorageError, match=r"queues.sqlite3: cannot open the queue store \(file is not a database\)"
    ):
        QueueStore.open(bogus)
