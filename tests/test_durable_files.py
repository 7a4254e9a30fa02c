"""What many objects cost: new object files made from a template, the open-database budget,
databases closed off the loop, and the bound on alarm runs under way at once on a real clock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from test_durable_support import Counter, Lab, LabFactory

from workerlab.compat.entrypoint import DurableObject
from workerlab.durable import closer, run_in_durable_object
from workerlab.durable.alarm_source import MAX_ALARMS_IN_FLIGHT
from workerlab.durable.limits import MAX_OPEN_DATABASES
from workerlab.durable.sqlfile import SqliteFile
from workerlab.durable.store import (
    OBJECT_PAGE_CACHE_KIB,
    class_dir,
    create_object_file,
    empty_database,
    object_file_name,
)

pytest_plugins = ["test_durable_support"]

#: How long a test waits for alarm runs it started before it fails.
WAIT_S = 10.0


def test_the_template_is_an_empty_wal_database_with_the_key_value_table(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    path.write_bytes(empty_database())
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        assert tables == ["_cf_KV"]
        assert conn.execute("SELECT count(*) FROM _cf_KV").fetchone() == (0,)
    finally:
        conn.close()


@pytest.mark.parametrize("durable", [False, True])
def test_a_new_object_file_appears_whole_and_nothing_else_is_left(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "Counter" / object_file_name("ab" * 32)
    create_object_file(path, durable=durable)
    assert path.read_bytes() == empty_database()
    assert [found.name for found in path.parent.iterdir()] == [path.name]


def test_an_existing_object_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / object_file_name("cd" * 32)
    path.write_bytes(b"another process's database")
    create_object_file(path, durable=False)
    assert path.read_bytes() == b"another process's database"
    assert [found.name for found in tmp_path.iterdir()] == [path.name]


async def test_objects_on_disk_keep_a_small_page_cache(make_lab: LabFactory, tmp_path: Path) -> None:
    lab = make_lab(tmp_path)
    stub = lab.namespace(Counter).getByName("a")
    await stub.increment()
    cache = await run_in_durable_object(
        stub, lambda instance, ctx: ctx.storage._opened().file.conn.execute("PRAGMA cache_size").fetchone()
    )
    assert cache == (-OBJECT_PAGE_CACHE_KIB,)
    path = class_dir(tmp_path, "Counter") / object_file_name(stub.id.toString())
    assert path.exists() and not list(path.parent.glob(".*"))


@pytest.mark.parametrize("persisted", [False, True])
async def test_past_the_open_database_budget_idle_objects_close_theirs_and_stay_live(
    make_lab: LabFactory, tmp_path: Path, persisted: bool
) -> None:
    lab = make_lab(tmp_path if persisted else None)
    residency = lab.engine.residency
    assert residency.max_open == MAX_OPEN_DATABASES
    residency.max_open = 4
    ns = lab.namespace(Counter)
    for index in range(10):
        await ns.getByName(f"n{index}").increment(index)
    assert residency.open_databases == 4
    assert len(ns.objects.live_ids()) == 10
    # The instances stayed; their storage opens the database again.
    assert [await ns.getByName(f"n{index}").count() for index in range(10)] == list(range(10))
    assert residency.open_databases == 4


async def test_an_object_in_the_middle_of_an_event_keeps_its_database(lab: Lab) -> None:
    release = asyncio.Event()

    class Holder(DurableObject):
        async def hold(self) -> Any:
            await self.ctx.storage.put("held", 1)
            await release.wait()
            return await self.ctx.storage.get("held")

    residency = lab.engine.residency
    residency.max_open = 2
    holder = lab.namespace(Holder).getByName("h")
    holding: asyncio.Task[Any] = asyncio.ensure_future(holder.hold())
    for _ in range(5):
        await asyncio.sleep(0)
    counters = lab.namespace(Counter)
    for index in range(5):
        await counters.getByName(f"c{index}").increment()
    store = lab.namespace(Holder).objects._open.get(holder.id.toString())
    assert store is not None and not store.closed
    release.set()
    assert await holding == 1


@pytest.mark.parametrize(("pending", "where"), [(closer.MAX_PENDING_CLOSES, "worker"), (0, "loop")])
async def test_databases_close_in_worker_threads_unless_many_wait(
    make_lab: LabFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pending: int, where: str
) -> None:
    threads: list[str] = []
    close = SqliteFile.close

    def recorded(file: SqliteFile) -> None:
        threads.append(threading.current_thread().name)
        close(file)

    monkeypatch.setattr(SqliteFile, "close", recorded)
    monkeypatch.setattr(closer, "MAX_PENDING_CLOSES", pending)
    lab = make_lab(tmp_path)
    lab.engine.residency.max_open = 1
    ns = lab.namespace(Counter)
    for index in range(5):
        await ns.getByName(f"c{index}").increment(index)
    await lab.engine.closer.aclose()  # what the engine's close() waits for
    assert len(threads) == 4 and lab.engine.closer.pending == 0
    on_worker = [name.startswith("workerlab-do-close") for name in threads]
    assert on_worker == [where == "worker"] * 4
    assert [await ns.getByName(f"c{index}").count() for index in range(5)] == list(range(5))


class Slow(DurableObject):
    """An alarm that waits to be released, counting the runs under way."""

    running = 0
    started: asyncio.Event
    release: asyncio.Event
    finished = 0
    all_done: asyncio.Event
    total = 0

    async def arm(self, when_ms: int) -> None:
        await self.ctx.storage.setAlarm(when_ms)

    async def alarm(self, info: Any) -> None:
        Slow.running += 1
        if Slow.running == MAX_ALARMS_IN_FLIGHT:
            Slow.started.set()
        await Slow.release.wait()
        Slow.running -= 1
        Slow.finished += 1
        if Slow.finished == Slow.total:
            Slow.all_done.set()


async def test_on_a_real_clock_at_most_so_many_alarm_runs_are_under_way(lab: Lab) -> None:
    Slow.running, Slow.finished, Slow.total = 0, 0, MAX_ALARMS_IN_FLIGHT + 36
    Slow.started, Slow.release, Slow.all_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    ns = lab.namespace(Slow)
    due_ms = lab.clock.now_ms()
    for index in range(Slow.total):
        await ns.getByName(f"s{index}").arm(due_ms + index)
    lab.clock.advance(1)
    loop = asyncio.create_task(lab.engine.alarms.run())
    try:
        async with asyncio.timeout(WAIT_S):
            await Slow.started.wait()
        for _ in range(20):
            await asyncio.sleep(0)
        assert Slow.running == MAX_ALARMS_IN_FLIGHT
        Slow.release.set()
        async with asyncio.timeout(WAIT_S):
            await Slow.all_done.wait()
        assert lab.engine.alarms.next_due_s() is None
    finally:
        await lab.engine.alarms.close()
        await loop
    assert [run.outcome for run in lab.alarm_runs] == ["ok"] * Slow.total
