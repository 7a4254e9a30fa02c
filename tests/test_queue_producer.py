"""The producer binding: send / sendBatch, content types, delays and their precedence, and limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from test_queue_support import Brokers

from workerlab import limits
from workerlab.clock import FakeClock
from workerlab.config import QueueConsumer
from workerlab.errors import QueueError
from workerlab.queues import QueueStore
from workerlab.queues.broker import Broker

JOBS = QueueConsumer("jobs", max_batch_timeout_s=0)


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


@pytest.fixture
async def setup(brokers):
    return brokers(JOBS)


def stored(broker: Broker, queue: str = "jobs"):
    return broker.store.pending(queue)


async def test_send_delivers_each_content_type_as_sent(setup):
    broker, scripted, _ = setup
    jobs = broker.producer("jobs")
    when = datetime(2026, 5, 6, 7, 8, 9)
    await jobs.send({"a": [1, 2]})
    await jobs.send("plain", contentType="text")
    await jobs.send(b"\x00raw", content_type="bytes")
    await jobs.send({"when": when, "tags": {"x"}, "pair": (1, 2), "blob": b"\x01"}, contentType="v8")
    await jobs.send([1, "two"], contentType="json")
    await broker.drain()
    assert scripted.bodies() == [
        [
            {"a": [1, 2]},
            "plain",
            b"\x00raw",
            {"when": when, "tags": {"x"}, "pair": (1, 2), "blob": b"\x01"},
            [1, "two"],
        ]
    ]
    assert [row.content_type for row in stored(broker)] == []  # all acked


async def test_send_commits_before_it_returns_with_the_clock_time(setup):
    broker, _, clock = setup
    await broker.producer("jobs").send("x", contentType="text", delaySeconds=5)
    [row] = stored(broker)
    assert (row.content_type, row.body, row.attempts) == ("text", b"x", 0)
    assert row.timestamp_ms == clock.now_ms()
    assert row.ready_ms == clock.now_ms() + 5000


async def test_send_batch_accepts_per_message_options_in_both_spellings(setup):
    broker, _, _ = setup
    await broker.producer("jobs").send_batch(
        [
            {"body": "a", "contentType": "text", "delaySeconds": 1},
            {"body": b"b", "content_type": "bytes", "delay_seconds": 2},
            {"body": {"c": 3}},
        ]
    )
    rows = {row.content_type: row for row in stored(broker)}
    assert set(rows) == {"text", "bytes", "json"}
    assert rows["bytes"].ready_ms - rows["text"].ready_ms == 1000


async def test_send_batch_accepts_any_iterable_of_messages(setup):
    broker, _, _ = setup
    await broker.producer("jobs").sendBatch({"body": n} for n in range(3))
    assert len(stored(broker)) == 3


async def test_send_accepts_an_options_dict(setup):
    broker, _, clock = setup
    await broker.producer("jobs").send("x", {"contentType": "text", "delaySeconds": 3})
    [row] = stored(broker)
    assert (row.content_type, row.ready_ms) == ("text", clock.now_ms() + 3000)


# --- delays ---------------------------------------------------------------------------------


async def test_delay_precedence_message_then_batch_then_producer_default(brokers):
    broker, _, clock = brokers(JOBS)
    jobs = broker.producer("jobs", delivery_delay_s=100)
    await jobs.sendBatch([{"body": "own", "delaySeconds": 10}, {"body": "batch"}], delaySeconds=20)
    await jobs.sendBatch([{"body": "default"}])
    await jobs.send("send-own", delaySeconds=0)
    now_ms = clock.now_ms()
    ready = {row.body: row.ready_ms - now_ms for row in stored(broker)}
    assert ready == {b'"own"': 10_000, b'"batch"': 20_000, b'"default"': 100_000, b'"send-own"': 0}


async def test_delay_defaults_to_zero(setup):
    broker, _, clock = setup
    await broker.producer("jobs").sendBatch([{"body": 1}])
    assert [row.ready_ms for row in stored(broker)] == [clock.now_ms()]


async def test_a_delayed_message_is_not_delivered_before_its_delay(setup):
    broker, scripted, clock = setup
    await broker.producer("jobs").send("later", delaySeconds=60)
    assert broker.next_due_s() == clock.now_s() + 60
    clock.advance(59)
    await broker.run_due()
    assert scripted.batches == []
    clock.advance(1)
    await broker.run_due()
    assert scripted.bodies() == [["later"]]


@pytest.mark.parametrize(
    ("bad", "says"), [(-1, "between 0 and"), (limits.MAX_DELAY_S + 1, "between 0 and"), (2.5, "whole")]
)
async def test_a_bad_delay_raises_naming_the_value(setup, bad, says):
    broker, _, _ = setup
    jobs = broker.producer("jobs")
    calls = (
        lambda: jobs.send("x", delaySeconds=bad),
        lambda: jobs.sendBatch([{"body": "x"}], delaySeconds=bad),
        lambda: jobs.sendBatch([{"body": "x", "delaySeconds": bad}]),
    )
    for call in calls:
        with pytest.raises(QueueError, match=re.escape(repr(bad))) as caught:
            await call()
        assert says in str(caught.value)
    assert stored(broker) == []


async def test_a_delay_error_names_the_limit(setup):
    broker, _, _ = setup
    with pytest.raises(QueueError, match=f"between 0 and {limits.MAX_DELAY_S} seconds"):
        await broker.producer("jobs").send("x", delaySeconds=limits.MAX_DELAY_S + 1)


async def test_the_largest_delay_is_accepted(setup):
    broker, _, clock = setup
    await broker.producer("jobs").send("x", delaySeconds=limits.MAX_DELAY_S)
    assert stored(broker)[0].ready_ms == clock.now_ms() + limits.MAX_DELAY_S * 1000


@pytest.mark.parametrize("bad", ["10", True, None.__class__])
async def test_a_delay_that_is_not_a_number_is_a_type_error(setup, bad):
    broker, _, _ = setup
    with pytest.raises(TypeError, match="integer number of seconds"):
        await broker.producer("jobs").send("x", delaySeconds=bad)


# --- limits ------------------------------------------------------------------------------------


async def test_a_message_at_the_size_limit_is_accepted_and_one_byte_more_is_not(setup):
    broker, _, _ = setup
    jobs = broker.producer("jobs")
    await jobs.send(b"x" * limits.MAX_MESSAGE_BYTES, contentType="bytes")
    too_big = limits.MAX_MESSAGE_BYTES + 1
    with pytest.raises(QueueError) as caught:
        await jobs.send(b"x" * too_big, contentType="bytes")
    assert f"{too_big} bytes" in str(caught.value)
    assert f"{limits.MAX_MESSAGE_BYTES} bytes per message" in str(caught.value)
    assert len(stored(broker)) == 1


async def test_json_size_is_the_utf8_json_text(setup):
    broker, _, _ = setup
    body = "é" * (limits.MAX_MESSAGE_BYTES // 2)  # 2 bytes each in UTF-8, plus the quotes
    with pytest.raises(QueueError, match=f"{limits.MAX_MESSAGE_BYTES + 2} bytes encoded as json"):
        await broker.producer("jobs").send(body)


async def test_send_batch_limits_the_number_of_messages(setup):
    broker, _, _ = setup
    jobs = broker.producer("jobs")
    await jobs.sendBatch([{"body": i} for i in range(limits.MAX_SEND_BATCH_MESSAGES)])
    count = limits.MAX_SEND_BATCH_MESSAGES + 1
    with pytest.raises(QueueError, match=f"at most {limits.MAX_SEND_BATCH_MESSAGES} messages.*got {count}"):
        await jobs.sendBatch([{"body": i} for i in range(count)])
    assert len(stored(broker)) == limits.MAX_SEND_BATCH_MESSAGES


async def test_send_batch_limits_the_total_size_and_stores_nothing_when_over(setup):
    broker, _, _ = setup
    chunk = limits.MAX_SEND_BATCH_BYTES // 3 + 1
    with pytest.raises(
        QueueError, match=f"at most {limits.MAX_SEND_BATCH_BYTES} bytes in all.*got {chunk * 3}"
    ):
        await broker.producer("jobs").sendBatch([{"body": b"x" * chunk, "contentType": "bytes"}] * 3)
    assert stored(broker) == []


async def test_send_batch_is_all_or_nothing_when_one_message_is_bad(setup):
    broker, _, _ = setup
    with pytest.raises(TypeError, match="sendBatch\\(\\) message 1 has no 'body' key"):
        await broker.producer("jobs").sendBatch([{"body": 1}, {"contentType": "text"}, {"body": 3}])
    with pytest.raises(TypeError, match="set"):
        await broker.producer("jobs").sendBatch([{"body": 1}, {"body": {1}}])
    assert stored(broker) == []


async def test_send_batch_of_nothing_is_a_type_error(setup):
    broker, _, _ = setup
    with pytest.raises(TypeError, match="at least one message"):
        await broker.producer("jobs").sendBatch([])


async def test_send_batch_rejects_unknown_keys_and_non_dicts(setup):
    broker, _, _ = setup
    jobs = broker.producer("jobs")
    with pytest.raises(TypeError, match=r"unknown key.*'delay'"):
        await jobs.sendBatch([{"body": 1, "delay": 5}])
    with pytest.raises(TypeError, match="message 0 must be a dict"):
        await jobs.sendBatch(["just a body"])
    with pytest.raises(TypeError, match="expects a list"):
        await jobs.sendBatch({"body": 1})


async def test_none_body_and_unknown_content_type_are_type_errors(setup):
    broker, _, _ = setup
    jobs = broker.producer("jobs")
    with pytest.raises(TypeError, match=r"^Message body cannot be None$"):
        await jobs.send(None)
    with pytest.raises(TypeError, match=r"^Message body cannot be None$"):
        await jobs.sendBatch([{"body": None}])
    with pytest.raises(TypeError, match="Unknown queue message content type 'xml'"):
        await jobs.send("x", contentType="xml")
    assert stored(broker) == []


async def test_a_producer_only_store_keeps_messages_for_a_queue_without_consumer(tmp_path):
    store = QueueStore.open(tmp_path)
    broker = Broker(store, FakeClock(), {}, _never)
    await broker.producer("orphan").send("kept")
    assert broker.next_due_s() is None
    await broker.run_due()
    assert [r.body for r in broker.pending("orphan")] == ["kept"]
    await broker.close()
    store.close()
    assert (tmp_path / "queues.sqlite3").exists()


async def _never(batch):
    raise AssertionError("no consumer should run")
