"""Durable Objects through the pytest harness: fresh per test, alarms on the fake clock in time order
with crons and queue deliveries, drain() leaving them alone, and the cloudflare:test helpers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from workerlab.clock import FAKE_CLOCK_START_S
from workerlab.durable.alarms import retry_delay_s
from workerlab.durable.limits import MAX_ALARM_RETRIES
from workerlab.testing import (
    Worker,
    list_durable_object_ids,
    run_durable_object_alarm,
    run_in_durable_object,
)

CONFIG = Path(__file__).parent / "projects" / "timeline" / "wrangler.toml"
pytestmark = pytest.mark.workerlab(config=str(CONFIG))

S = 1000  # ms per second
#: The fake clock's start (2026-01-01T00:00:00Z), in ms.
START_MS = round(FAKE_CLOCK_START_S * S)


@pytest.fixture(autouse=True)
def fake_now(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stamps its events with its own now_ms(): follow the fake clock."""
    monkeypatch.setattr(worker.module, "now_ms", worker.clock.now_ms)


def events(worker: Worker) -> list[tuple[int, str, str]]:
    """The worker's events as (seconds after the start, kind, label)."""
    return [((at - START_MS) // S, kind, label) for at, kind, label in worker.module.EVENTS]


def alarms_due(worker: Worker) -> float | None:
    return next(iter(worker.session.timers.of_kind("alarms"))).next_due_s()


async def arm(worker: Worker, name: str, after_s: float, **options: Any) -> Any:
    stub = worker.env.TIMERS.getByName(name)
    await stub.arm(name, START_MS + round(after_s * S), **options)
    return stub


# --- every test starts fresh ------------------------------------------------------------------


#: Set by the first test, checked by the second: what a test leaves behind.
LEFT_BEHIND: dict[str, Any] = {}


async def test_objects_and_alarms_made_by_one_test(worker: Worker) -> None:
    stub = await arm(worker, "left", 3600)
    LEFT_BEHIND["id"] = stub.id.toString()
    assert [found.toString() for found in list_durable_object_ids(worker.env.TIMERS)] == [LEFT_BEHIND["id"]]
    assert alarms_due(worker) == (START_MS + 3600 * S) / S


async def test_are_gone_in_the_next(worker: Worker) -> None:
    assert list_durable_object_ids(worker.env.TIMERS) == []
    assert alarms_due(worker) is None
    stub = worker.env.TIMERS.getByName("left")
    if LEFT_BEHIND:
        assert stub.id.toString() == LEFT_BEHIND["id"]  # the same id, but nothing stored under it
    assert await stub.label() is None
    await worker.advance(7200)
    assert [event for event in events(worker) if event[1] != "cron"] == []


async def test_a_worker_started_again_starts_empty() -> None:
    first = await Worker.start(CONFIG)
    try:
        await first.env.TIMERS.getByName("a").arm("a", START_MS + 10 * S)
    finally:
        assert await first.close() == []
    second = await Worker.start(CONFIG)
    try:
        assert list_durable_object_ids(second.env.TIMERS) == []
        assert alarms_due(second) is None
    finally:
        assert await second.close() == []


# --- advance() and drain() --------------------------------------------------------------------


async def test_advance_fires_alarms_in_time_order_with_crons_and_deliveries(worker: Worker) -> None:
    await arm(worker, "early", 30)
    await arm(worker, "noon", 150)
    await arm(worker, "flaky", 10, failures=2)  # runs at 10, then retries at 12 and 16
    await worker.env.TICKS.send("m1", delaySeconds=60)
    await worker.env.TICKS.send("m2", delaySeconds=135)

    await worker.advance(200)

    assert events(worker) == [
        (10, "alarm", "flaky#0"),
        (12, "alarm", "flaky#1"),
        (16, "alarm", "flaky#2"),
        (30, "alarm", "early#0"),
        (60, "message", "m1"),
        (120, "cron", "*/2 * * * *"),
        (135, "message", "m2"),
        (150, "alarm", "noon#0"),
    ]
    assert alarms_due(worker) is None


async def test_at_one_instant_crons_run_before_alarms(worker: Worker) -> None:
    await arm(worker, "on-the-minute", 120)
    await worker.advance(120)
    assert events(worker) == [(120, "cron", "*/2 * * * *"), (120, "alarm", "on-the-minute#0")]


async def test_an_alarm_set_by_alarm_keeps_firing_within_advance(worker: Worker) -> None:
    await arm(worker, "tick", 5, every_ms=20 * S)
    await worker.advance(70)
    assert [at for at, kind, _ in events(worker) if kind == "alarm"] == [5, 25, 45, 65]
    assert alarms_due(worker) == (START_MS + 85 * S) / S


async def test_a_failing_alarm_is_retried_by_advance_then_dropped(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    await arm(worker, "doomed", 1, failures=100)
    with caplog.at_level(logging.INFO, logger="workerlab"):
        await worker.advance(3600)
    times = [at for at, kind, _ in events(worker) if kind == "alarm"]
    gaps = [retry_delay_s(n) for n in range(1, MAX_ALARM_RETRIES + 1)]
    assert times == [1 + sum(gaps[:n]) for n in range(MAX_ALARM_RETRIES + 1)]
    doomed = worker.env.TIMERS.idFromName("doomed").toString()[:8]
    assert caplog.text.count(f"ALARM Timer {doomed} exception") == MAX_ALARM_RETRIES + 1
    assert f"ALARM Timer {doomed} dropped" in caplog.text
    assert alarms_due(worker) is None


async def test_drain_delivers_messages_and_fires_no_alarm(worker: Worker) -> None:
    await arm(worker, "waiting", 10)
    await worker.env.TICKS.send("late", delaySeconds=60)

    await worker.drain()

    assert events(worker) == [(60, "message", "late")]
    assert worker.clock.now_ms() == START_MS + 60 * S
    assert alarms_due(worker) == (START_MS + 10 * S) / S  # still set, and overdue
    await worker.advance(0)
    assert events(worker)[-1] == (60, "alarm", "waiting#0")


# --- the cloudflare:test helpers --------------------------------------------------------------


async def test_run_in_durable_object_calls_inside_the_object(worker: Worker) -> None:
    stub = await arm(worker, "inside", 100)

    async def read(instance: Any, ctx: Any) -> Any:
        assert type(instance).__name__ == "Timer" and ctx.id.equals(stub.id)
        return [await ctx.storage.get("label"), await ctx.storage.getAlarm()]

    assert await run_in_durable_object(stub, read) == ["inside", START_MS + 100 * S]
    assert await run_in_durable_object(stub, lambda instance, ctx: ctx.id.name) == "inside"

    def fail(instance: Any, ctx: Any) -> None:
        raise LookupError("raised inside")

    with pytest.raises(LookupError, match="raised inside"):
        await run_in_durable_object(stub, fail)
    with pytest.raises(TypeError, match="expects a Durable Object stub"):
        await run_in_durable_object(worker.env.TIMERS, read)


async def test_run_durable_object_alarm_runs_a_set_alarm_now(worker: Worker) -> None:
    stub = await arm(worker, "now", 3600)
    assert await run_durable_object_alarm(stub)
    assert events(worker) == [(0, "alarm", "now#0")]
    assert not await run_durable_object_alarm(stub)  # it ran: none is set any more
    assert alarms_due(worker) is None

    flaky = await arm(worker, "flaky", 3600, failures=1)
    with pytest.raises(RuntimeError, match="flaky fails, 0 to go"):
        await run_durable_object_alarm(flaky)
    assert alarms_due(worker) is None  # a failure run by hand is not retried
    assert not await run_durable_object_alarm(worker.env.TIMERS.getByName("never-armed"))


async def test_list_durable_object_ids_in_id_order_with_names(worker: Worker) -> None:
    assert list_durable_object_ids(worker.env.TIMERS) == []
    names = ["b", "a", "c"]
    for name in names:
        await arm(worker, name, 60)
    unique = worker.env.TIMERS.newUniqueId()
    await worker.env.TIMERS.get(unique).arm("unique", START_MS + 60 * S)
    found = list_durable_object_ids(worker.env.TIMERS)
    assert [object_id.toString() for object_id in found] == sorted(
        object_id.toString() for object_id in found
    )
    assert {object_id.name for object_id in found} == {*names, None}
    assert any(object_id.equals(unique) for object_id in found)
    with pytest.raises(TypeError, match="expects a Durable Object namespace binding"):
        list_durable_object_ids(worker.env.TIMERS.getByName("a"))
