"""Another process holding a shared database never freezes the event loop: the work waits in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workerlab.bindings.kv import KVNamespace, open_kv
from workerlab.bindings.queue import QueueProducer
from workerlab.clock import FakeClock
from workerlab.config import WorkerConfig
from workerlab.queues.store import QueueStore
from workerlab.session import Session, SessionOptions
from workerlab.sqlite_connections import LockWait, connect


@contextmanager
def held(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection (as another process would have) holding the write lock of ``path``."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def loop_turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_kv_write_waits_off_the_loop_while_another_process_holds_the_file(tmp_path: Path) -> None:
    kv = open_kv(KVNamespace("CACHE"), tmp_path, FakeClock())
    try:
        await kv.put("before", "1")
        with held(tmp_path / "kv" / "CACHE.sqlite3") as other:
            writing = asyncio.create_task(kv.put("during", "2"))
            reading = asyncio.create_task(kv.get("before"))
            await loop_turns()
            # The loop still runs: this test got control back, and the write is waiting, not failed.
            assert not writing.done()
            other.execute("COMMIT")
            await writing
            assert await reading == "1"
        assert await kv.get("during") == "2"
    finally:
        kv.close()


async def test_a_queue_send_waits_off_the_loop_while_another_process_holds_the_store(tmp_path: Path) -> None:
    store = QueueStore.open(tmp_path, on_loop=True)
    try:
        with held(tmp_path / "queues.sqlite3") as other:
            sending = asyncio.create_task(store.run(store.insert, "jobs", [("a" * 32, 0, "json", b"1", 0)]))
            await loop_turns()
            assert not sending.done()
            assert store.count("jobs") == 0
            other.execute("COMMIT")
            await sending
        assert store.count("jobs") == 1
    finally:
        store.close()


async def test_work_that_finds_the_database_free_runs_on_the_loop_while_other_work_waits(
    tmp_path: Path,
) -> None:
    """Waiting is per piece of work: one that found the lock held does not send the ones after it
    to the thread (a lease heartbeat holding the lock a moment would otherwise slow every write)."""
    path = tmp_path / "db.sqlite3"
    connection = connect(path, wait_for_locks=False)
    gate = LockWait(connection, lambda: connect(path))
    loop_thread = threading.get_ident()
    release, waiting_in_thread = threading.Event(), threading.Event()
    ran_in: dict[str, int] = {}

    def first() -> str:
        ran_in["first"] = threading.get_ident()
        if threading.get_ident() == loop_thread:
            with held(path):
                connection.execute("BEGIN IMMEDIATE")  # refused: the other connection holds the lock
        waiting_in_thread.set()
        release.wait(timeout=10)
        return "first"

    def second() -> str:
        ran_in["second"] = threading.get_ident()
        return "second"

    try:
        waiting = asyncio.create_task(gate.run(first))
        assert await asyncio.to_thread(waiting_in_thread.wait, 10)
        assert not waiting.done() and ran_in["first"] != loop_thread
        assert await gate.run(second) == "second"
        assert ran_in["second"] == loop_thread  # not queued behind the waiting work
        release.set()
        assert await waiting == "first"
    finally:
        release.set()
        gate.close()
        connection.close()


async def test_a_producer_send_waits_off_the_loop_while_another_process_holds_it(tmp_path: Path) -> None:
    # send() writes at once when the store is free; held by another process, it waits in a thread.
    main = tmp_path / "worker.py"
    main.write_text("async def fetch(request, env):\n    pass\n")
    config = WorkerConfig(
        path=tmp_path / "wrangler.toml", name="w", main=main, bindings=(QueueProducer("JOBS", "jobs"),)
    )
    session = await Session.open([config], SessionOptions(persist_dir=tmp_path / "state"))
    try:
        jobs = session.primary.env.JOBS
        await jobs.send({"n": 1})  # the store is free: written at once
        with held(tmp_path / "state" / "queues.sqlite3") as other:
            sending = asyncio.create_task(jobs.send({"n": 2}))
            await loop_turns()
            assert not sending.done()
            other.execute("COMMIT")
            await sending
        assert (await jobs.metrics()).backlogCount == 2
    finally:
        await session.close()
