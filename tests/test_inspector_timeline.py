"""The event timeline: entries for every event, a message's fate after its batch, bounds in count and
in bytes, live readers that fall behind, and one history across reloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from workerlab.clock import FakeClock
from workerlab.events import (
    AlarmRun,
    BatchDelivered,
    CronRun,
    EventBus,
    MessageDeadLettered,
    MessageDropped,
    MessageRetried,
    RequestServed,
    RpcCall,
    WaitUntilFailed,
    WorkflowStep,
)
from workerlab.inspector.entries import MAX_TEXT_CHARS, MAX_TRACEBACK_CHARS
from workerlab.inspector.timeline import Changed, Entry, FellBehind, Timeline
from workerlab.queues.broker import MessageRecord

SENT = datetime(2026, 1, 1, tzinfo=UTC)


def record(message_id: str, attempts: int = 1) -> MessageRecord:
    return MessageRecord(message_id, {"big": "x" * 1000}, attempts, SENT)


def attached(**bounds: Any) -> tuple[Timeline, EventBus]:
    timeline, bus = Timeline(**bounds), EventBus()
    timeline.attach(bus, FakeClock())
    return timeline, bus


def documents(timeline: Timeline, **filters: Any) -> list[dict[str, Any]]:
    return [json.loads(entry.json) for entry in timeline.entries(**filters)]


def failed() -> ValueError:
    try:
        raise ValueError("the job failed")
    except ValueError as error:
        return error


def test_each_kind_of_event_becomes_an_entry() -> None:
    timeline, bus = attached()
    error = failed()
    bus.emit(RequestServed("shop", "GET", "/orders?page=2", 500, 3.5))
    bus.emit(CronRun("shop", "*/5 * * * *", 1_767_225_600_000, "exception", error, 2.0))
    bus.emit(RpcCall("shop", "auth", "verify", "ok", None, 1.0))
    bus.emit(AlarmRun("shop", "Counter", "ab" * 32, 0, "ok", None, 1.0))
    bus.emit(WorkflowStep("export", "export-1", "collect orders", 2, "retry", error, 4.0))
    bus.emit(WaitUntilFailed("shop", error))
    kinds = [(d["kind"], d["title"], d["level"]) for d in documents(timeline)]
    assert kinds == [
        ("request", "GET /orders?page=2 500", "error"),
        ("cron", 'SCHEDULED "*/5 * * * *" exception', "error"),
        ("rpc", "RPC auth.verify ok", "info"),
        ("alarm", "ALARM Counter abababab ok", "info"),
        ("workflow_step", "WORKFLOW export export-1 collect orders retry", "warning"),
        ("wait_until", "waitUntil work failed: ValueError", "error"),
    ]
    cron = documents(timeline)[1]
    assert cron["error"]["type"] == "ValueError"
    assert cron["error"]["message"] == "the job failed"
    assert "raise ValueError" in cron["error"]["traceback"]
    assert [d["seq"] for d in documents(timeline)] == [1, 2, 3, 4, 5, 6]


def test_a_batch_tells_what_became_of_each_message_and_its_follow_ups_come_after_it() -> None:
    timeline, bus = attached()
    # The broker tells the fates of the messages it did not ack first, then the batch.
    bus.emit(MessageDeadLettered("jobs", "jobs-dlq", record("m2", 2), 2))
    bus.emit(MessageRetried("jobs", "m3", 1, 30))
    bus.emit(
        BatchDelivered(
            "shop", "jobs", [record("m1"), record("m2", 2), record("m3")], [0], "exception", failed(), 5.0
        )
    )
    batch, moved = documents(timeline)
    assert batch["kind"] == "batch" and batch["title"] == "QUEUE jobs 1/3"
    assert batch["messages"] == [
        {"id": "m1", "attempts": 1, "fate": "acked"},
        {"id": "m2", "attempts": 2, "fate": "dead-lettered", "to": "jobs-dlq"},
        {"id": "m3", "attempts": 1, "fate": "retried", "delay_s": 30},
    ]
    assert moved["kind"] == "dead_letter" and moved["message_id"] == "m2" and moved["to"] == "jobs-dlq"
    assert "big" not in timeline.entries()[0].json  # bodies are never kept


def test_following_a_message_across_retries_and_its_dead_letter_queue() -> None:
    timeline, bus = attached()
    bus.emit(MessageRetried("jobs", "m1", 1, 0))
    bus.emit(
        BatchDelivered("shop", "jobs", [record("m1", 1), record("other")], [1], "exception", failed(), 1.0)
    )
    bus.emit(RequestServed("shop", "GET", "/", 200, 1.0))
    bus.emit(MessageDeadLettered("jobs", "jobs-dlq", record("m1", 2), 2))
    bus.emit(BatchDelivered("shop", "jobs", [record("m1", 2)], [], "exception", failed(), 1.0))
    bus.emit(BatchDelivered("shop", "jobs-dlq", [record("m1", 1)], [0], "ok", None, 1.0))
    followed = documents(timeline, message="m1")
    assert [(d["kind"], d.get("queue"), d.get("messages", [{}])[0].get("fate")) for d in followed] == [
        ("batch", "jobs", "retried"),
        ("batch", "jobs", "dead-lettered"),
        ("dead_letter", "jobs", None),
        ("batch", "jobs-dlq", "acked"),
    ]
    assert [d["seq"] for d in documents(timeline, message="other")] == [1]


def test_a_dropped_message_is_its_own_entry_after_its_batch() -> None:
    timeline, bus = attached()
    bus.emit(MessageDropped("jobs", record("m1", 2), 2))
    bus.emit(BatchDelivered("shop", "jobs", [record("m1", 2)], [], "exception", failed(), 1.0))
    batch, dropped = documents(timeline)
    assert batch["messages"][0]["fate"] == "dropped"
    assert dropped["kind"] == "drop" and dropped["level"] == "warning"


def test_the_history_keeps_the_last_entries_only() -> None:
    timeline, bus = attached(max_events=100)
    for index in range(250):
        bus.emit(RequestServed("shop", "GET", f"/{index}", 200, 1.0))
    kept = documents(timeline)
    assert len(kept) == 100 and timeline.dropped == 150
    assert kept[0]["target"] == "/150" and kept[-1]["target"] == "/249"
    assert timeline.latest_seq == 250


def test_requests_and_other_entries_keep_one_order_across_the_ring_wrapping() -> None:
    clock = FakeClock()
    timeline, bus = Timeline(max_events=5), EventBus()
    timeline.attach(bus, clock)
    for index in range(12):
        clock.advance(0.001)
        if index % 4 == 3:
            bus.emit(CronRun("shop", "* * * * *", 0, "ok", None, 1.0))
        else:
            bus.emit(RequestServed("shop", "GET", f"/{index}", 200, 1.0))
    kept = documents(timeline)
    assert [d["seq"] for d in kept] == [8, 9, 10, 11, 12]
    assert [d.get("target", d["kind"]) for d in kept] == ["cron", "/8", "/9", "/10", "cron"]
    assert kept[1]["at_ms"] == clock.now_ms() - 3
    assert len(timeline) == 5 and timeline.dropped == 7
    assert [e.seq for e in timeline.entries(after=9)] == [10, 11, 12]


def test_a_very_long_path_is_kept_only_as_far_as_entries_show_it() -> None:
    timeline, bus = attached()
    bus.emit(RequestServed("shop", "GET", "/" + "a" * 10_000, 200, 1.0))
    (kept,) = documents(timeline)
    assert kept["target"] == "/" + "a" * (MAX_TEXT_CHARS - 2) + "…"
    assert timeline.bytes_used < 2 * MAX_TEXT_CHARS


def test_the_history_is_bounded_in_bytes_too() -> None:
    max_bytes = 200_000
    timeline, bus = attached(max_bytes=max_bytes)
    error = ValueError("x" * 100_000)
    for _ in range(200):
        bus.emit(WaitUntilFailed("shop", error))
    assert timeline.bytes_used <= max_bytes
    assert 0 < len(timeline) < 200
    entry = json.loads(timeline.entries()[-1].json)
    assert len(entry["error"]["message"]) <= 500
    assert len(entry["error"]["traceback"]) <= MAX_TRACEBACK_CHARS


def test_entries_after_a_sequence_number_and_the_last_few() -> None:
    timeline, bus = attached()
    for index in range(10):
        bus.emit(RequestServed("shop", "GET", f"/{index}", 200, 1.0))
    assert [e.seq for e in timeline.entries(after=7)] == [8, 9, 10]
    assert [e.seq for e in timeline.entries(limit=2)] == [9, 10]
    assert timeline.entries(limit=0) == []


async def test_a_live_reader_gets_entries_and_change_notices_in_order() -> None:
    timeline, bus = attached()
    with timeline.listen() as listener:
        bus.emit(RequestServed("shop", "GET", "/", 200, 1.0))
        timeline.changed("queues")
        items = await listener.next_items()
    assert isinstance(items[0], Entry) and items[0].kind == "request"
    assert items[1] == Changed(frozenset({"queues"}))
    assert timeline.listeners == 0


async def test_a_reader_that_falls_behind_is_told_so_instead_of_holding_memory() -> None:
    timeline, bus = attached(max_listener_backlog=5)
    with timeline.listen() as listener:
        for index in range(12):
            bus.emit(RequestServed("shop", "GET", f"/{index}", 200, 1.0))
        items = await listener.next_items()
    assert isinstance(items[0], FellBehind)
    assert len(items) <= 5


def test_one_history_across_reloads() -> None:
    timeline, first = attached()
    first.emit(RequestServed("shop", "GET", "/before", 200, 1.0))
    second = EventBus()
    timeline.attach(second, FakeClock())  # the reloaded session's bus
    first.emit(RequestServed("shop", "GET", "/old-session", 200, 1.0))
    second.emit(RequestServed("shop", "GET", "/after", 200, 1.0))
    assert [d["target"] for d in documents(timeline)] == ["/before", "/after"]
    assert not first.wants(RequestServed)


def test_an_entry_without_error_is_written_when_first_read_with_the_time_it_happened() -> None:
    clock = FakeClock()
    timeline, bus = Timeline(), EventBus()
    timeline.attach(bus, clock)
    bus.emit(CronRun("shop", "*/5 * * * *", 1_767_225_600_000, "ok", None, 2.0))
    happened_ms = clock.now_ms()
    clock.advance(60)  # read a minute later
    (entry,) = timeline.entries()
    first = entry.json
    assert entry.json is first  # written once
    document = json.loads(first)
    assert document["at_ms"] == happened_ms
    assert document["seq"] == entry.seq == 1
    assert document["title"] == 'SCHEDULED "*/5 * * * *" ok'


def test_an_entry_not_yet_written_counts_the_characters_of_its_strings() -> None:
    max_bytes = 200_000
    timeline, bus = attached(max_bytes=max_bytes)
    bus.emit(RpcCall("shop", "auth", "verify", "ok", None, 1.0))
    small = timeline.bytes_used
    long_name = "w" * 20_000
    bus.emit(RpcCall("shop", long_name, "verify", "ok", None, 1.0))
    assert timeline.bytes_used - small > 2 * len(long_name)  # in the worker and in the title
    for _ in range(50):
        bus.emit(RpcCall("shop", long_name, "verify", "ok", None, 1.0))
    assert timeline.bytes_used <= max_bytes
    assert 0 < len(timeline) < 50
