"""Batching (SPEC §3.3): by size or non-sliding timeout, oldest first, bounded concurrency; the log line."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import threading
import weakref
from collections.abc import AsyncIterator

import pytest
from test_queue_support import Brokers, SteppedBroker, infos_of, shut

from workerlab.clock import FakeClock
from workerlab.config import QueueConsumer
from workerlab.queues import QueueStore


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


async def send_bodies(broker, bodies, queue="jobs"):
    await broker.producer(queue).sendBatch([{"body": b} for b in bodies])


async def test_a_full_batch_goes_out_at_once(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_size=3, max_batch_timeout_s=30))
    await send_bodies(broker, [1, 2])
    await broker.run_due()
    assert scripted.batches == []
    await send_bodies(broker, [3, 4])
    await broker.run_due()
    assert scripted.bodies() == [[1, 2, 3]]
    assert broker.next_due_s() == clock.now_s() + 30  # 4 waits for the timeout of its own arrival


async def test_a_partial_batch_goes_out_when_the_timeout_after_the_first_message_ends(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=5))
    await send_bodies(broker, ["a"])
    assert broker.next_due_s() == clock.now_s() + 5
    clock.advance(4.999)
    await broker.run_due()
    assert scripted.batches == []
    clock.advance(0.001)
    await broker.run_due()
    assert scripted.bodies() == [["a"]]


async def test_the_batch_timer_does_not_slide(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=5))
    start_s = clock.now_s()
    await send_bodies(broker, ["first"])
    clock.advance(3)
    await send_bodies(broker, ["second"])
    assert broker.next_due_s() == start_s + 5
    clock.advance(2)
    await broker.run_due()
    assert scripted.bodies() == [["first", "second"]]


async def test_a_zero_timeout_delivers_at_once(brokers):
    broker, scripted, _ = brokers(QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=0))
    await send_bodies(broker, ["now"])
    await broker.run_due()
    assert scripted.bodies() == [["now"]]


async def test_a_fractional_timeout_is_honoured(brokers):
    broker, _, clock = brokers(QueueConsumer("jobs", max_batch_timeout_s=0.25))
    await send_bodies(broker, ["x"])
    assert broker.next_due_s() == pytest.approx(clock.now_s() + 0.25)


async def test_batches_are_oldest_first_and_at_most_max_batch_size(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_size=10, max_batch_timeout_s=1))
    await send_bodies(broker, range(0, 15))
    clock.advance(1)
    await send_bodies(broker, range(15, 25))
    await broker.drain()
    assert scripted.bodies() == [list(range(0, 10)), list(range(10, 20)), list(range(20, 25))]


async def test_a_delayed_message_starts_its_batch_timer_when_it_becomes_ready(brokers):
    broker, _, clock = brokers(QueueConsumer("jobs", max_batch_timeout_s=5))
    start_s = clock.now_s()
    await broker.producer("jobs").send("late", delaySeconds=60)
    assert broker.next_due_s() == start_s + 65


async def test_a_batch_fills_when_enough_delayed_messages_become_ready(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_size=2, max_batch_timeout_s=30))
    start_s = clock.now_s()
    jobs = broker.producer("jobs")
    await jobs.send("a", delaySeconds=10)
    await jobs.send("b", delaySeconds=20)
    assert broker.next_due_s() == start_s + 20
    await broker.drain()
    assert scripted.bodies() == [["a", "b"]]
    assert clock.now_s() == start_s + 20


async def test_drain_jumps_the_fake_clock_and_leaves_nothing_pending(brokers):
    broker, scripted, clock = brokers(QueueConsumer("jobs", max_batch_timeout_s=5))
    start_s = clock.now_s()
    await send_bodies(broker, ["a"])
    await broker.producer("jobs").send("b", delaySeconds=100)
    await broker.drain()
    assert scripted.bodies() == [["a"], ["b"]]
    assert clock.now_s() == start_s + 105
    assert broker.inspect("jobs").pending == []
    assert broker.next_due_s() is None


@pytest.mark.parametrize("max_concurrency", [1, 2])
async def test_at_most_max_concurrency_batches_are_in_flight(brokers, max_concurrency):
    consumer = QueueConsumer("jobs", max_batch_size=1, max_batch_timeout_s=0, max_concurrency=max_concurrency)
    broker, scripted, _ = brokers(consumer)
    gate = asyncio.Event()
    full = asyncio.Event()
    running = peak = 0

    async def behaviour(batch, ctx):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        if running == max_concurrency:
            full.set()
        await gate.wait()
        running -= 1

    scripted.behaviour = behaviour
    await send_bodies(broker, range(5))
    delivering = asyncio.create_task(broker.run_due())
    await asyncio.wait_for(full.wait(), timeout=5)
    assert len(scripted.batches) == max_concurrency
    gate.set()
    await delivering
    assert peak == max_concurrency
    assert sorted(b for [b] in scripted.bodies()) == [0, 1, 2, 3, 4]


async def test_every_batch_logs_its_acked_count_and_duration(brokers, caplog):
    broker, scripted, _ = brokers(QueueConsumer("jobs", max_batch_timeout_s=0, max_retries=0))
    scripted.behaviour = lambda batch, ctx: batch.messages[0].retry()
    with caplog.at_level(logging.INFO, logger="workerlab"):
        await send_bodies(broker, ["a", "b", "c"])
        await broker.run_due()
    queue_lines = [line for line in infos_of(caplog.records) if line.startswith("QUEUE ")]
    assert len(queue_lines) == 1
    assert re.fullmatch(r"QUEUE jobs 2/3 \(\d+ms\)", queue_lines[0])


async def test_queues_without_a_consumer_are_left_alone(brokers):
    broker, scripted, _ = brokers(QueueConsumer("jobs", max_batch_timeout_s=0))
    await send_bodies(broker, ["kept"], queue="other")
    await broker.drain()
    assert scripted.batches == []
    assert [r.body for r in broker.inspect("other").pending] == ["kept"]


async def test_a_delivered_batch_is_freed_at_once_not_by_the_garbage_collector():
    # Messages point to what the handler asked, not to their batch: no cycle keeps a batch (and
    # its bodies) alive until a collection, which a busy queue would otherwise pay for.
    batches = []

    async def dispatch(batch):
        batch.messages[0].ack()
        batches.append(weakref.ref(batch))
        return "ok", None

    store = QueueStore.open(None)
    broker = SteppedBroker(store, FakeClock(), {"jobs": QueueConsumer("jobs", max_batch_size=2)}, dispatch)
    gc.disable()
    try:
        await send_bodies(broker, [{"n": 1}, {"n": 2}])
        await broker.drain()
        assert len(batches) == 1 and batches[0]() is None
    finally:
        gc.enable()
        await shut(broker)


async def test_a_change_made_in_a_waiting_thread_wakes_the_broker_on_its_loop(brokers):
    # Work that waited for another process's lock runs in a thread; its store.changed() wakes the
    # broker through the loop (an asyncio event is not to be set from another thread).
    broker, _, _ = brokers(QueueConsumer("jobs"))
    broker._wake = asyncio.Event()
    broker._wake_loop, broker._wake_thread = asyncio.get_running_loop(), threading.get_ident()
    waker = threading.Thread(target=broker.store.changed)
    waker.start()
    waker.join()
    assert not broker._wake.is_set()  # not set from the thread itself...
    await asyncio.wait_for(broker._wake.wait(), timeout=10)  # ...but by the loop, its next turn
