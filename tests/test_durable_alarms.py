from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from test_durable_support import Counter, Lab, LabFactory, Plain

from workerlab.clock import FakeClock
from workerlab.compat.entrypoint import DurableObject
from workerlab.durable import run_durable_object_alarm, run_in_durable_object
from workerlab.durable.alarms import retry_delay_s
from workerlab.durable.limits import MAX_ALARM_RETRIES

pytest_plugins = ["test_durable_support"]

#: (object name, retryCount, isRetry, clock ms) of every alarm() run, across the test.
RUNS: list[tuple[str | None, int, bool, int]] = []


class Recorder(DurableObject):
    """Records its alarm runs; fails while ``failures`` (in storage) is above zero."""

    clock: FakeClock

    async def schedule(self, when_ms: int, failures: int = 0) -> None:
        await self.ctx.storage.put("failures", failures)
        await self.ctx.storage.setAlarm(when_ms)

    async def alarm_time(self) -> int | None:
        return await self.ctx.storage.getAlarm()

    async def alarm(self, alarm_info: Any) -> None:
        RUNS.append((self.ctx.id.name, alarm_info.retryCount, alarm_info.isRetry, self.clock.now_ms()))
        assert await self.ctx.storage.getAlarm() is None  # null while it runs
        failures = await self.ctx.storage.get("failures") or 0
        if failures:
            await self.ctx.storage.put("failures", failures - 1)
            raise RuntimeError(f"failing, {failures - 1} to go")


class Again(DurableObject):
    """Sets its next alarm from inside alarm(), then fails or not."""

    async def start(self, when_ms: int, fail: bool) -> None:
        await self.ctx.storage.put("fail", fail)
        await self.ctx.storage.setAlarm(when_ms)

    async def alarm(self) -> None:  # alarm() may take no argument
        runs = (await self.ctx.storage.get("runs") or 0) + 1
        await self.ctx.storage.put("runs", runs)
        if runs == 1:
            await self.ctx.storage.setAlarm(datetime.fromtimestamp(Recorder.clock.now_s() + 100, UTC))
            if await self.ctx.storage.get("fail"):
                raise ValueError("failed after setting a new alarm")

    async def runs(self) -> int:
        return await self.ctx.storage.get("runs") or 0


@pytest.fixture(autouse=True)
def recorder(lab: Lab) -> None:
    RUNS.clear()
    Recorder.clock = lab.clock


async def test_set_get_replace_delete(lab: Lab) -> None:
    storage = await run_in_durable_object(lab.namespace(Counter).getByName("a"), lambda i, ctx: ctx.storage)
    now = lab.clock.now_ms()
    assert await storage.getAlarm() is None
    await storage.setAlarm(now + 5000)
    assert await storage.getAlarm() == now + 5000
    await storage.setAlarm(datetime.fromtimestamp((now + 9000) / 1000, UTC))  # replaces
    assert await storage.getAlarm() == now + 9000
    await storage.deleteAlarm()
    assert await storage.getAlarm() is None
    await storage.deleteAlarm()  # nothing to delete is fine


async def test_set_alarm_refusals(lab: Lab) -> None:
    storage = await run_in_durable_object(lab.namespace(Counter).getByName("a"), lambda i, ctx: ctx.storage)
    with pytest.raises(TypeError, match="alarm time <= 0"):
        storage.setAlarm(0)
    with pytest.raises(TypeError, match="must be a datetime or epoch ms"):
        storage.setAlarm("soon")
    plain = await run_in_durable_object(lab.namespace(Plain).getByName("p"), lambda i, ctx: ctx.storage)
    with pytest.raises(TypeError, match="class Plain has no alarm"):
        plain.setAlarm(lab.clock.now_ms() + 1000)


async def test_alarms_fire_in_time_order_across_objects_and_classes(lab: Lab) -> None:
    recorders, counters = lab.namespace(Recorder), lab.namespace(Counter)
    now = lab.clock.now_ms()
    for name, delay_ms in [("late", 30_000), ("early", 10_000), ("middle", 20_000)]:
        await recorders.getByName(name).schedule(now + delay_ms)
    counter_storage = await run_in_durable_object(counters.getByName("c"), lambda i, ctx: ctx.storage)
    await counter_storage.setAlarm(now + 15_000)
    assert lab.engine.alarms.next_due_s() == (now + 10_000) / 1000

    await lab.advance(9.999)
    assert RUNS == []
    await lab.advance(60)
    assert [(name, at - now) for name, _, _, at in RUNS] == [
        ("early", 10_000),
        ("middle", 20_000),
        ("late", 30_000),
    ]
    assert await counter_storage.get("alarms") == [0]
    assert [run.object_id[:8] for run in lab.alarm_runs][1] == counters.idFromName("c").toString()[:8]
    assert lab.engine.alarms.next_due_s() is None


async def test_after_a_successful_run_get_alarm_is_none(lab: Lab) -> None:
    stub = lab.namespace(Recorder).getByName("once")
    await stub.schedule(lab.clock.now_ms() + 1000)
    await lab.advance(1)
    assert RUNS[0][1:3] == (0, False)
    assert await stub.alarm_time() is None
    run = lab.alarm_runs[0]
    assert (run.worker, run.class_name, run.object_id) == ("app", "Recorder", stub.id.toString())
    assert (run.retry_count, run.outcome, run.error) == (0, "ok", None) and run.duration_ms >= 0


async def test_retries_follow_the_backoff_then_the_alarm_is_dropped(lab: Lab, caplog) -> None:
    stub = lab.namespace(Recorder).getByName("doomed")
    start = lab.clock.now_ms() + 1000
    await stub.schedule(start, failures=100)
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        await lab.advance(3600)
    expected_gaps_s = [retry_delay_s(n) for n in range(1, MAX_ALARM_RETRIES + 1)]
    assert expected_gaps_s == [2, 4, 8, 16, 32, 64]
    times = [at for _, _, _, at in RUNS]
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [
        gap * 1000 for gap in expected_gaps_s
    ]
    assert [(count, retry) for _, count, retry, _ in RUNS] == [(0, False)] + [(n, True) for n in range(1, 7)]
    assert [run.outcome for run in lab.alarm_runs] == ["exception"] * 7
    assert [run.retry_count for run in lab.alarm_runs] == list(range(7))
    assert await stub.alarm_time() is None
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.WARNING
    assert f"ALARM Recorder {stub.id.toString()[:8]} dropped" in dropped[0].getMessage()
    assert "RuntimeError: failing" in dropped[0].getMessage()


async def test_a_retry_that_succeeds_ends_the_retries(lab: Lab) -> None:
    stub = lab.namespace(Recorder).getByName("flaky")
    await stub.schedule(lab.clock.now_ms() + 1000, failures=2)
    await lab.advance(1)
    assert await stub.alarm_time() == lab.clock.now_ms() + 2000  # the retry is the alarm now
    await lab.advance(600)
    assert [(count, retry) for _, count, retry, _ in RUNS] == [(0, False), (1, True), (2, True)]
    assert await stub.alarm_time() is None


@pytest.mark.parametrize("fail", [False, True])
async def test_an_alarm_set_inside_alarm_is_kept(lab: Lab, fail: bool) -> None:
    stub = lab.namespace(Again).getByName("again")
    first = lab.clock.now_ms() + 1000
    await stub.start(first, fail)
    await lab.advance(1)
    storage = await run_in_durable_object(stub, lambda i, ctx: ctx.storage)
    assert await storage.getAlarm() == first + 100_000  # even after a failure: no retry instead
    await lab.advance(50)
    assert await stub.runs() == 1
    await lab.advance(50)
    assert await stub.runs() == 2


async def test_alarms_and_storage_survive_a_restart(make_lab: LabFactory, tmp_path) -> None:
    clock = FakeClock()
    first = make_lab(tmp_path, clock=clock)
    Recorder.clock = clock
    stub = first.namespace(Recorder).getByName("durable")
    await stub.schedule(clock.now_ms() + 60_000)
    await first.engine.close()

    second = make_lab(tmp_path, clock=clock)
    restarted = second.namespace(Recorder).getByName("durable")
    assert await restarted.alarm_time() == clock.now_ms() + 60_000
    await second.advance(59)
    assert RUNS == []
    await second.advance(1)
    assert [(name, count) for name, count, _, _ in RUNS] == [("durable", 0)]


async def test_an_alarm_that_fell_due_while_nothing_ran_fires_at_start(
    make_lab: LabFactory, tmp_path
) -> None:
    clock = FakeClock()
    first = make_lab(tmp_path, clock=clock)
    Recorder.clock = clock
    await first.namespace(Recorder).getByName("missed").schedule(clock.now_ms() + 10_000)
    await first.engine.close()

    clock.advance(3600)  # an hour passes with no process running
    second = make_lab(tmp_path, clock=clock)
    second.namespace(Recorder)
    source = second.engine.alarms
    assert source.next_due_s() is not None and source.next_due_s() <= clock.now_s()
    await source.run_due()
    assert [name for name, _, _, _ in RUNS] == ["missed"]
    assert source.next_due_s() is None


async def test_an_interrupted_run_runs_again(make_lab: LabFactory, tmp_path) -> None:
    clock = FakeClock()
    lab = make_lab(tmp_path, clock=clock)
    Recorder.clock = clock
    stub = lab.namespace(Recorder).getByName("interrupted")
    await stub.schedule(clock.now_ms())
    book = lab.namespace(Recorder).objects.book
    (alarm,) = book.due(clock.now_ms())
    run = asyncio.create_task(book.run(alarm))
    run.cancel()  # the process stops mid-run
    with pytest.raises(asyncio.CancelledError):
        await run
    assert book.find(stub.id.toString()) == alarm  # still there, retry count unchanged
    await lab.engine.alarms.run_due()
    assert [(name, count) for name, count, _, _ in RUNS][-1] == ("interrupted", 0)


async def test_run_durable_object_alarm(lab: Lab) -> None:
    stub = lab.namespace(Recorder).getByName("now")
    assert await run_durable_object_alarm(stub) is False
    await stub.schedule(lab.clock.now_ms() + 3_600_000)
    assert await run_durable_object_alarm(stub) is True
    assert RUNS[0][0] == "now" and await stub.alarm_time() is None
    await stub.schedule(lab.clock.now_ms() + 3_600_000, failures=1)
    with pytest.raises(RuntimeError, match="failing"):
        await run_durable_object_alarm(stub)
    assert await stub.alarm_time() is None  # removed, not retried
    with pytest.raises(TypeError, match="expects a Durable Object stub"):
        await run_durable_object_alarm("stub")


async def test_the_real_time_loop_fires_due_alarms(lab: Lab) -> None:
    fired = asyncio.Event()

    class Signal(DurableObject):
        async def arm(self) -> None:
            await self.ctx.storage.setAlarm(1)  # long past: due at once

        async def alarm(self, info: Any) -> None:
            fired.set()

    await lab.namespace(Signal).getByName("s").arm()
    loop = asyncio.create_task(lab.engine.alarms.run())
    await fired.wait()
    await lab.engine.alarms.close()
    await loop
    assert [run.outcome for run in lab.alarm_runs] == ["ok"]
