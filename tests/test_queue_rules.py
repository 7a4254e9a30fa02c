"""Consumer rules of SPEC §3.3: what the handler's ack/retry calls and its outcome do to each message."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC

import pytest
from test_queue_support import Brokers, warnings_of

from workerlab import limits
from workerlab.config import QueueConsumer
from workerlab.errors import QueueError
from workerlab.queues import MessageBatch, QueueResult, RetryBatch, RetryMessage
from workerlab.queues.message import resolve

# A one-second batch timeout lets a test look at the queue after exactly one delivery.
JOBS = QueueConsumer("jobs", max_batch_timeout_s=1, max_retries=5)


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


async def deliver_once(brokers: Brokers, behaviour, bodies=("a", "b", "c"), consumer=JOBS):
    """Send ``bodies``, deliver them as one batch to ``behaviour``; return broker, consumer, clock."""
    broker, scripted, clock = brokers(consumer, behaviour=behaviour)
    await broker.producer("jobs").sendBatch([{"body": b} for b in bodies])
    clock.advance(consumer.max_batch_timeout_s)
    await broker.run_due()
    assert len(scripted.batches) == 1
    return broker, scripted, clock


def pending(broker, queue="jobs") -> dict[object, tuple[int, int]]:
    """body -> (attempts so far, ready_ms) for every message still in ``queue``."""
    from workerlab.queues.codec import decode_body

    return {
        decode_body(r.body, r.content_type): (r.attempts, r.ready_ms) for r in broker.store.pending(queue)
    }


def fail(message="boom"):
    raise RuntimeError(message)


# --- resolution --------------------------------------------------------------------------


async def test_a_handler_that_returns_acks_every_message(brokers):
    broker, _, _ = await deliver_once(brokers, lambda batch, ctx: None)
    assert pending(broker) == {}
    assert [r.body for r in broker.inspect("jobs").acked] == ["a", "b", "c"]


async def test_a_handler_that_raises_retries_every_message(brokers):
    broker, _, clock = await deliver_once(brokers, lambda batch, ctx: fail())
    now_ms = clock.now_ms()
    assert pending(broker) == {"a": (1, now_ms), "b": (1, now_ms), "c": (1, now_ms)}


async def test_explicit_ack_holds_when_the_handler_raises(brokers):
    def behaviour(batch, ctx):
        batch.messages[0].ack()
        fail()

    broker, _, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"b", "c"}
    assert [r.body for r in broker.inspect("jobs").acked] == ["a"]


async def test_explicit_retry_holds_when_the_handler_returns(brokers):
    broker, _, _ = await deliver_once(brokers, lambda batch, ctx: batch.messages[1].retry())
    assert set(pending(broker)) == {"b"}


async def test_retry_all_beats_a_handler_that_returns(brokers):
    broker, _, _ = await deliver_once(brokers, lambda batch, ctx: batch.retryAll())
    assert set(pending(broker)) == {"a", "b", "c"}


async def test_ack_all_beats_a_handler_that_raises(brokers):
    def behaviour(batch, ctx):
        batch.ackAll()
        fail()

    broker, _, _ = await deliver_once(brokers, behaviour)
    assert pending(broker) == {}


async def test_a_failed_wait_until_makes_the_outcome_exception(brokers):
    async def failing():
        fail("background")

    broker, _, _ = await deliver_once(brokers, lambda batch, ctx: ctx.waitUntil(failing()))
    assert set(pending(broker)) == {"a", "b", "c"}


async def test_explicit_ack_survives_a_failed_wait_until(brokers):
    async def failing():
        fail("background")

    def behaviour(batch, ctx):
        batch.messages[2].ack()
        ctx.waitUntil(failing())

    broker, _, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"a", "b"}


# --- precedence of calls ----------------------------------------------------------------


async def test_retry_after_ack_is_ignored_with_a_warning(brokers, caplog):
    def behaviour(batch, ctx):
        batch.messages[0].ack()
        batch.messages[0].retry()

    with caplog.at_level(logging.WARNING, logger="workerlab"):
        broker, scripted, _ = await deliver_once(brokers, behaviour)
    assert "a" not in pending(broker)
    msg_id = scripted.batches[0].messages[0].id
    assert warnings_of(caplog.records) == [
        f"Received a call to retry() on message {msg_id} after ack() was already called. "
        "Calling retry() on a message after calling ack() has no effect."
    ]


async def test_ack_after_retry_is_ignored_with_a_warning(brokers, caplog):
    def behaviour(batch, ctx):
        batch.messages[0].retry()
        batch.messages[0].ack()

    with caplog.at_level(logging.WARNING, logger="workerlab"):
        broker, scripted, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"a"}
    msg_id = scripted.batches[0].messages[0].id
    assert warnings_of(caplog.records) == [
        f"Received a call to ack() on message {msg_id} after retry() was already called. "
        "Calling ack() on a message after calling retry() has no effect."
    ]


async def test_ack_after_retry_all_is_ignored_with_a_warning(brokers, caplog):
    def behaviour(batch, ctx):
        batch.retryAll()
        batch.messages[0].ack()

    with caplog.at_level(logging.WARNING, logger="workerlab"):
        broker, scripted, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"a", "b", "c"}
    msg_id = scripted.batches[0].messages[0].id
    assert warnings_of(caplog.records) == [
        f"Received a call to ack() on message {msg_id} after retryAll() was already called. "
        "Calling ack() on a message after calling retryAll() has no effect."
    ]


async def test_ack_before_retry_all_holds(brokers):
    def behaviour(batch, ctx):
        batch.messages[0].ack()
        batch.retryAll()

    broker, _, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"b", "c"}


async def test_a_message_retry_beats_ack_all(brokers):
    def behaviour(batch, ctx):
        batch.ackAll()
        batch.messages[1].retry()

    broker, _, _ = await deliver_once(brokers, behaviour)
    assert set(pending(broker)) == {"b"}


async def test_first_of_ack_all_and_retry_all_wins_ack_all_first(brokers, caplog):
    def behaviour(batch, ctx):
        batch.ackAll()
        batch.retryAll()

    with caplog.at_level(logging.WARNING, logger="workerlab"):
        broker, scripted, _ = await deliver_once(brokers, behaviour)
    assert pending(broker) == {}
    assert warnings_of(caplog.records) == [
        "Received a call to retryAll() after ackAll() was already called. "
        "Calling retryAll() after calling ackAll() has no effect."
    ]
    result = scripted.batches[0]._result("ok")
    assert result.ack_all is True
    assert result.retry_batch == RetryBatch(retry=False, delay_seconds=None)


async def test_first_of_ack_all_and_retry_all_wins_retry_all_first(brokers, caplog):
    def behaviour(batch, ctx):
        batch.retryAll(delaySeconds=7)
        batch.ackAll()

    with caplog.at_level(logging.WARNING, logger="workerlab"):
        broker, scripted, clock = await deliver_once(brokers, behaviour)
    later_ms = clock.now_ms() + 7000
    assert pending(broker) == {"a": (1, later_ms), "b": (1, later_ms), "c": (1, later_ms)}
    assert warnings_of(caplog.records) == [
        "Received a call to ackAll() after retryAll() was already called. "
        "Calling ackAll() after calling retryAll() has no effect."
    ]
    result = scripted.batches[0]._result("ok")
    assert result.ack_all is False
    assert result.retry_batch == RetryBatch(retry=True, delay_seconds=7)


async def test_repeated_retry_updates_the_delay(brokers):
    def behaviour(batch, ctx):
        batch.messages[0].retry(delaySeconds=10)
        batch.messages[0].retry(delaySeconds=30)
        batch.messages[0].retry()  # no delay given: keeps the last one

    broker, scripted, clock = await deliver_once(brokers, behaviour)
    assert pending(broker) == {"a": (1, clock.now_ms() + 30_000)}
    msg_id = scripted.batches[0].messages[0].id
    assert scripted.batches[0]._result("ok").retry_messages == [RetryMessage(msg_id, 30)]


# --- retry delay precedence ---------------------------------------------------------------

DELAYED = QueueConsumer("jobs", max_batch_timeout_s=1, max_retries=5, retry_delay_s=60)


async def test_retry_delay_is_the_message_own_delay_first(brokers):
    def behaviour(batch, ctx):
        batch.retryAll(delaySeconds=20)
        batch.messages[0].retry(delaySeconds=5)

    broker, _, clock = await deliver_once(brokers, behaviour, bodies=("a", "b"), consumer=DELAYED)
    now_ms = clock.now_ms()
    assert pending(broker) == {"a": (1, now_ms + 5000), "b": (1, now_ms + 20_000)}


async def test_retry_delay_falls_back_to_the_retry_all_delay(brokers):
    def behaviour(batch, ctx):
        batch.retryAll(delay_seconds=20)
        batch.messages[0].retry()

    broker, _, clock = await deliver_once(brokers, behaviour, bodies=("a",), consumer=DELAYED)
    assert pending(broker) == {"a": (1, clock.now_ms() + 20_000)}


async def test_retry_delay_falls_back_to_the_consumer_retry_delay(brokers):
    broker, _, clock = await deliver_once(brokers, lambda b, c: fail(), bodies=("a",), consumer=DELAYED)
    assert pending(broker) == {"a": (1, clock.now_ms() + 60_000)}


async def test_retry_delay_is_zero_without_any(brokers):
    broker, _, clock = await deliver_once(brokers, lambda b, c: fail(), bodies=("a",))
    assert pending(broker) == {"a": (1, clock.now_ms())}


async def test_a_retried_message_comes_back_after_its_delay_with_more_attempts(brokers):
    def behaviour(batch, ctx):
        if batch.messages[0].attempts == 1:
            batch.messages[0].retry(delaySeconds=30)

    broker, scripted, clock = await deliver_once(brokers, behaviour, bodies=("a",))
    clock.advance(30)
    await broker.run_due()
    assert scripted.attempts() == [[1]]  # ready again, then the batch timeout runs
    clock.advance(JOBS.max_batch_timeout_s)
    await broker.run_due()
    assert scripted.attempts() == [[1], [2]]
    assert pending(broker) == {}


@pytest.mark.parametrize("bad", [-1, limits.MAX_DELAY_S + 1, 1.5])
async def test_retry_rejects_a_delay_out_of_range(bad):
    batch = MessageBatch.from_items("jobs", ["a"], now_ms=0)
    with pytest.raises(QueueError, match=re.escape(repr(bad))) as caught:
        batch.messages[0].retry(delaySeconds=bad)
    assert "retry()" in str(caught.value)
    with pytest.raises(QueueError):
        batch.retryAll(delaySeconds=bad)


@pytest.mark.parametrize("bad", ["5", True, [1]])
async def test_retry_rejects_a_delay_that_is_not_a_number(bad):
    batch = MessageBatch.from_items("jobs", ["a"], now_ms=0)
    with pytest.raises(TypeError, match="integer number of seconds"):
        batch.messages[0].retry(delaySeconds=bad)


def test_retry_accepts_an_options_dict_as_python_workers_pass_it():
    batch = MessageBatch.from_items("jobs", ["a"], now_ms=0)
    batch.messages[0].retry({"delaySeconds": 12})
    batch.retry_all({"delaySeconds": 3})
    result = batch._result("ok")
    assert result.retry_messages == [RetryMessage(batch.messages[0].id, 12)]
    assert result.retry_batch == RetryBatch(True, 3)


# --- the batch and its messages --------------------------------------------------------------


async def test_messages_carry_id_timestamp_body_and_attempts(brokers):
    broker, scripted, clock = brokers(JOBS)
    sent_ms = clock.now_ms()
    await broker.producer("jobs").send({"n": 1})
    clock.advance(3)
    await broker.run_due()
    [batch] = scripted.batches
    assert batch.queue == "jobs"
    [message] = batch.messages
    assert re.fullmatch(r"[0-9a-f]{32}", message.id)
    assert message.timestamp.tzinfo is UTC
    assert message.timestamp.timestamp() * 1000 == sent_ms
    assert message.body == {"n": 1}
    assert message.attempts == 1


def test_batch_methods_have_snake_case_aliases():
    batch = MessageBatch.from_items("jobs", ["a", "b"], now_ms=0)
    batch.messages[0].retry(delay_seconds=4)
    batch.ack_all()
    result = batch._result("ok")
    assert result.ack_all is True
    assert result.retry_messages == [RetryMessage(batch.messages[0].id, 4)]
    assert MessageBatch.retry_all is MessageBatch.retryAll


def test_queue_result_records_the_calls_that_won():
    batch = MessageBatch.from_items("jobs", ["a", "b", "c"], now_ms=0)
    a, b, c = batch.messages
    a.ack()
    b.retry()
    batch.retryAll(delaySeconds=9)
    c.ack()  # ignored: after retryAll
    error = RuntimeError("x")
    result = batch._result("exception", error)
    assert result == QueueResult(
        outcome="exception",
        ack_all=False,
        retry_batch=RetryBatch(True, 9),
        explicit_acks=[a.id],
        retry_messages=[RetryMessage(b.id, None)],
        error=error,
    )
    resolution = resolve(result, [a.id, b.id, c.id])
    assert resolution.acked == [0]
    assert resolution.retried == [(1, 9), (2, 9)]


def test_a_batch_from_whole_message_dicts_keeps_their_fields():
    from datetime import datetime

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    batch = MessageBatch.from_messages(
        "jobs", [{"id": "m1", "timestamp": when, "attempts": 3, "body": {"x": 1}}, {"body": "b"}], now_ms=1000
    )
    first, second = batch.messages
    assert (first.id, first.timestamp, first.attempts, first.body) == ("m1", when, 3, {"x": 1})
    assert re.fullmatch(r"[0-9a-f]{32}", second.id)
    assert (second.attempts, second.timestamp_ms) == (1, 1000)


def test_harness_items_are_bodies_unless_they_are_whole_messages():
    whole = {"id": "m1", "timestamp": 5, "attempts": 2, "body": "x"}
    batch = MessageBatch.from_items("jobs", [whole, {"body": "just a dict"}], now_ms=0)
    assert batch.messages[0].id == "m1"
    assert batch.messages[0].timestamp_ms == 5
    assert batch.messages[1].body == {"body": "just a dict"}
