"""Pause, resume, purge and redrive on the store, with a broker delivering; counters kept in step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from test_queue_support import Brokers

from workerlab.config import QueueConsumer
from workerlab.errors import QueueError
from workerlab.queues import admin
from workerlab.queues.inspector import summarize

JOBS = QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=0, dead_letter_queue="jobs-dlq")


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


async def test_a_paused_queue_keeps_its_messages_and_delivers_them_once_resumed(brokers: Brokers) -> None:
    broker, consumer, _ = brokers(JOBS)
    assert admin.pause(broker.store, "jobs") is True
    assert admin.pause(broker.store, "jobs") is False  # already paused

    await broker.producer("jobs").sendBatch([{"body": 1}, {"body": 2}])
    await broker.drain()

    assert consumer.batches == []
    assert broker.next_due_s() is None
    summary = summarize(broker.store, "jobs", broker.clock)
    assert (summary.paused, summary.pending, summary.ready) == (True, 2, 2)

    assert admin.resume(broker.store, "jobs") is True
    assert admin.resume(broker.store, "jobs") is False
    await broker.drain()
    assert consumer.bodies() == [[1, 2]]


async def test_pausing_one_queue_leaves_the_others_running(brokers: Brokers) -> None:
    other = QueueConsumer("other", max_batch_timeout_s=0)
    broker, consumer, _ = brokers(JOBS, other)
    admin.pause(broker.store, "jobs")
    await broker.producer("jobs").send("held")
    await broker.producer("other").send("goes")
    await broker.drain()
    assert consumer.bodies() == [["goes"]]


async def test_purge_deletes_ready_delayed_and_pulled_messages_and_counts_them(brokers: Brokers) -> None:
    broker, consumer, _ = brokers(JOBS)
    admin.pause(broker.store, "jobs")
    jobs = broker.producer("jobs")
    await jobs.sendBatch([{"body": i} for i in range(5)])
    await jobs.send("later", delaySeconds=600)
    await broker.producer("kept").send("other queue")

    assert admin.purge(broker.store, "jobs") == 6

    admin.resume(broker.store, "jobs")
    await broker.drain()
    assert consumer.batches == []
    assert broker.store.state("jobs").backlog_count == 0
    assert broker.store.state("kept").backlog_count == 1


async def test_purge_in_chunks_removes_everything(brokers: Brokers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "CHUNK_MESSAGES", 7)
    broker, _, _ = brokers()
    await broker.producer("big").sendBatch([{"body": i} for i in range(50)])
    assert admin.purge(broker.store, "big") == 50
    assert broker.store.count("big") == 0


async def test_a_message_in_flight_when_purged_is_not_delivered_again(brokers: Brokers) -> None:
    async def purge_midway(batch, ctx) -> None:  # type: ignore[no-untyped-def]
        admin.purge(broker.store, "jobs")
        batch.retryAll()

    broker, consumer, _ = brokers(JOBS, behaviour=purge_midway)
    await broker.producer("jobs").send("in flight")
    await broker.drain()

    assert consumer.bodies() == [["in flight"]]
    assert broker.store.count() == 0
    assert broker.store.state("jobs").backlog_count == 0


async def test_redrive_moves_dead_letters_back_with_the_same_ids_and_fresh_attempts(brokers: Brokers) -> None:
    def fail(batch, ctx) -> None:  # type: ignore[no-untyped-def]
        if batch.queue == "jobs" and any(m.body == "bad" for m in batch.messages):
            raise RuntimeError("fails")

    broker, consumer, clock = brokers(JOBS, behaviour=fail)
    await broker.producer("jobs").sendBatch([{"body": "bad"}, {"body": "bad"}])
    await broker.drain()
    dead = broker.pending("jobs-dlq")
    assert [m.body for m in dead] == ["bad", "bad"]
    assert broker.store.state("jobs").dead_lettered == 2

    assert admin.redrive(broker.store, "jobs-dlq", "jobs", clock.now_ms(), limit=1) == 1
    [back] = broker.pending("jobs")
    assert (back.id, back.attempts, back.timestamp) == (dead[0].id, 0, dead[0].timestamp)

    consumer.behaviour = None
    await broker.drain()
    assert consumer.bodies()[-1] == ["bad"]
    assert consumer.attempts()[-1] == [1]  # attempts start again at 1
    assert admin.redrive(broker.store, "jobs-dlq", "jobs", clock.now_ms()) == 1
    assert broker.store.state("jobs-dlq").backlog_count == 0


async def test_redrive_in_chunks_and_of_nothing(brokers: Brokers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "CHUNK_MESSAGES", 3)
    broker, _, clock = brokers()
    await broker.producer("dlq").sendBatch([{"body": i} for i in range(10)])
    assert admin.redrive(broker.store, "dlq", "work", clock.now_ms()) == 10
    assert [m.body for m in broker.pending("work")] == list(range(10))
    assert admin.redrive(broker.store, "dlq", "work", clock.now_ms()) == 0


async def test_redrive_refuses_its_own_queue_and_a_negative_limit(brokers: Brokers) -> None:
    broker, _, clock = brokers()
    with pytest.raises(QueueError, match='the target queue must differ from "dlq" itself'):
        admin.redrive(broker.store, "dlq", "dlq", clock.now_ms())
    with pytest.raises(QueueError, match="--limit must be 0 or more, got -1"):
        admin.redrive(broker.store, "dlq", "q", clock.now_ms(), limit=-1)


async def test_counters_follow_sends_acks_retries_and_dead_letters(brokers: Brokers) -> None:
    def behaviour(batch, ctx) -> None:  # type: ignore[no-untyped-def]
        for message in batch.messages:
            if message.body == "no":
                message.retry()

    broker, _, _ = brokers(JOBS, behaviour=behaviour)
    await broker.producer("jobs").sendBatch([{"body": "ok"}, {"body": "no"}, {"body": "ok"}])
    state = broker.store.state("jobs")
    assert (state.backlog_count, state.backlog_bytes) == (3, len(b'"ok""no""ok"'))

    await broker.drain()

    assert broker.store.state("jobs").backlog_count == 0
    assert broker.store.state("jobs").backlog_bytes == 0
    assert broker.store.state("jobs-dlq").backlog_count == 1
    assert broker.store.state("jobs-dlq").backlog_bytes == len(b'"no"')


async def test_counters_stay_right_when_settling_rows_that_were_purged_or_taken_back(
    brokers: Brokers,
) -> None:
    broker, _, clock = brokers()
    store = broker.store
    await broker.producer("q").sendBatch([{"body": i} for i in range(6)])
    now = clock.now_ms()

    first = store.claim("q", "a", now, 2)
    store.claim("q", "b", now, 3)
    store.settle(
        "a", queue="q", acked=[first[0].seq], acked_bytes=len(first[0].body), retried=[(now, first[1].seq)]
    )
    assert summarize(store, "q", clock).in_flight == 3
    assert store.remove_owners(["b"]) == 3
    assert (summarize(store, "q", clock).in_flight, store.state("q").backlog_count) == (0, 5)

    third = store.claim("q", "c", now, 5)
    assert summarize(store, "q", clock).in_flight == 5
    assert admin.purge(store, "q") == 5
    store.settle("c", queue="q", acked=[r.seq for r in third], acked_bytes=sum(len(r.body) for r in third))
    state = store.state("q")
    assert (state.backlog_count, state.backlog_bytes) == (0, 0)


async def test_a_resume_in_this_process_wakes_the_running_delivery_loop(brokers: Brokers) -> None:
    delivered = asyncio.Event()
    broker, consumer, _ = brokers(JOBS, behaviour=lambda batch, ctx: delivered.set())
    admin.pause(broker.store, "jobs")
    loop = asyncio.create_task(broker.run())
    try:
        await broker.producer("jobs").send("held")
        for _ in range(5):  # yield until the loop has looked (due, but paused) and waits again
            await asyncio.sleep(0)
        assert consumer.batches == []
        admin.resume(broker.store, "jobs")  # the same connection: no data_version change to see
        await asyncio.wait_for(delivered.wait(), timeout=2)
        assert consumer.bodies() == [["held"]]
    finally:
        await broker.close()
        await loop
