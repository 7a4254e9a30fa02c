"""Another process holding a shared database never freezes the event loop: the work waits in a thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workerlab.bindings.kv import KVNamespace, open_kv
from workerlab.clock import FakeClock
from workerlab.queues.store import QueueStore


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
