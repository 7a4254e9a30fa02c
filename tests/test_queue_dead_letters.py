"""Attempts, dead-letter queues and dropping (SPEC §3.3), with their exact log lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from test_queue_support import Brokers, warnings_of

from workerlab import limits
from workerlab.config import QueueConsumer
from workerlab.errors import ConfigError
from workerlab.queues import Broker, QueueStore


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


def always_fail(batch, ctx):
    raise RuntimeError("nope")


async def test_attempts_count_every_delivery(brokers):
    broker, scripted, _ = brokers(
        QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=3), behaviour=always_fail
    )
    await broker.producer("jobs").send("x")
    await broker.drain()
    assert scripted.attempts() == [[1], [2], [3], [4]]


async def test_a_message_moves_to_the_dead_letter_queue_after_max_retries_plus_one_failures(brokers, caplog):
    jobs = QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=2, dead_letter_queue="jobs-dlq")
    broker, scripted, clock = brokers(jobs, behaviour=always_fail)
    await broker.producer("jobs").send({"task": 1})
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        await broker.drain()
    [message] = scripted.batches[0].messages
    assert scripted.attempts() == [[1], [2], [3]]
    moved = f'Moving message "{message.id}" on queue "jobs" to dead letter queue "jobs-dlq"'
    moved += " after 3 failed attempts"
    assert warnings_of(caplog.records) == [moved]
    view = broker.inspect("jobs")
    assert view.pending == []
    assert [(r.id, r.body, r.attempts) for r in view.dead_lettered] == [(message.id, {"task": 1}, 3)]
    # Kept in the dead-letter queue, which has no consumer here: same id and timestamp, attempts reset.
    [row] = broker.store.pending("jobs-dlq")
    assert (row.id, row.timestamp_ms, row.attempts, row.ready_ms) == (
        message.id,
        message.timestamp_ms,
        0,
        clock.now_ms(),
    )


async def test_the_dead_letter_consumer_sees_the_same_message_from_attempt_one(brokers):
    jobs = QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=1, dead_letter_queue="jobs-dlq")
    dlq = QueueConsumer("jobs-dlq", max_batch_timeout_s=0)

    def behaviour(batch, ctx):
        if batch.queue == "jobs":
            raise RuntimeError("fail on the main queue")

    broker, scripted, _ = brokers(jobs, dlq, behaviour=behaviour)
    await broker.producer("jobs").send("payload")
    await broker.drain()
    assert [(b.queue, [m.attempts for m in b.messages]) for b in scripted.batches] == [
        ("jobs", [1]),
        ("jobs", [2]),
        ("jobs-dlq", [1]),
    ]
    first, dead = scripted.batches[0].messages[0], scripted.batches[2].messages[0]
    assert (dead.id, dead.timestamp, dead.body) == (first.id, first.timestamp, first.body)
    assert broker.inspect("jobs-dlq").pending == []


async def test_explicit_retries_count_as_failed_attempts(brokers):
    jobs = QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=0, dead_letter_queue="dlq")
    broker, _, _ = brokers(jobs, behaviour=lambda batch, ctx: batch.retryAll())
    await broker.producer("jobs").send("x")
    await broker.drain()
    assert [r.attempts for r in broker.inspect("jobs").dead_lettered] == [1]


async def test_without_a_dead_letter_queue_the_message_is_dropped(brokers, caplog):
    broker, scripted, _ = brokers(
        QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=1), behaviour=always_fail
    )
    await broker.producer("jobs").send("doomed")
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        await broker.drain()
    msg_id = scripted.batches[0].messages[0].id
    assert warnings_of(caplog.records) == [
        f'Dropped message "{msg_id}" on queue "jobs" after 2 failed attempts'
    ]
    view = broker.inspect("jobs")
    assert view.pending == []
    assert [(r.id, r.body, r.attempts) for r in view.dropped] == [(msg_id, "doomed", 2)]


async def test_the_dropped_list_keeps_only_the_last_ones(brokers):
    consumer = QueueConsumer("jobs", max_batch_size=100, max_batch_timeout_s=0, max_retries=0)
    broker, _, _ = brokers(consumer, behaviour=always_fail)
    total = limits.MAX_DROPPED_KEPT + 50
    jobs = broker.producer("jobs")
    for start in range(0, total, 100):
        await jobs.sendBatch([{"body": i} for i in range(start, min(start + 100, total))])
    await broker.drain()
    dropped = broker.inspect("jobs").dropped
    assert [r.body for r in dropped] == list(range(50, total))


async def test_the_history_of_acks_and_deliveries_is_bounded(brokers, monkeypatch):
    from workerlab.queues import history

    monkeypatch.setattr(history, "MAX_HISTORY_RECORDS", 3)
    broker, _, _ = brokers(QueueConsumer("jobs", max_batch_timeout_s=0, max_batch_size=1))
    for body in "vwxyz":
        await broker.producer("jobs").send(body)
    await broker.drain()
    view = broker.inspect("jobs")
    assert [r.body for r in view.acked] == ["x", "y", "z"]
    assert [(r.body, r.attempts) for r in view.deliveries] == [("x", 1), ("y", 1), ("z", 1)]


async def test_a_consumer_cannot_dead_letter_into_its_own_queue():
    store = QueueStore.open(None)
    try:
        with pytest.raises(ConfigError, match='dead_letter_queue must name another queue, got "jobs"'):
            Broker(store, None, {"jobs": QueueConsumer("jobs", dead_letter_queue="jobs")}, None)  # type: ignore[arg-type]
    finally:
        store.close()
