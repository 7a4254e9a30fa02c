"""message_retention_period on the fake clock, and a producer's delivery_delay, through the harness."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from test_pull_support import api_for, write_project

from workerlab import limits
from workerlab.config import QueueConsumer
from workerlab.queues import admin
from workerlab.queues.inspector import summarize
from workerlab.testing import Worker

CONFIG = """
name = "retained"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
"""

WORKER = """
got = []

async def queue(batch, env, ctx):
    for message in batch.messages:
        got.append(message.body)
        if message.body == "retry later":
            message.retry(delaySeconds=120)
"""

MINUTE_S = limits.MIN_MESSAGE_RETENTION_PERIOD_S


def consumer(**settings: object) -> QueueConsumer:
    return QueueConsumer("jobs", max_batch_timeout_s=0, message_retention_period_s=MINUTE_S, **settings)  # type: ignore[arg-type]


def got(worker: Worker) -> list[object]:
    return list(worker.runtime.worker.module.got)


async def test_a_message_delayed_past_its_retention_is_removed_without_delivery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    async with api_for(write_project(tmp_path, CONFIG, WORKER), consumers=[consumer()]) as api:
        worker = api.worker
        await worker.env.JOBS.send("too late", delaySeconds=MINUTE_S + 1)
        await worker.env.JOBS.send("in time", delaySeconds=MINUTE_S - 1)

        await worker.drain()

        assert got(worker) == ["in time"]
        store = worker.session.queue_broker().store
        assert store.state("jobs").expired == 1
        assert summarize(store, "jobs", worker.clock, retention_s=MINUTE_S).expired == 1
        assert 'Removed 1 message(s) of queue "jobs" older than its retention period (60 s)' in caplog.text


async def test_a_paused_queue_loses_what_outlives_the_retention_period(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path, CONFIG, WORKER), consumers=[consumer()]) as api:
        worker = api.worker
        store = worker.session.queue_broker().store
        admin.pause(store, "jobs")
        await worker.env.JOBS.send("forgotten")
        await worker.advance(MINUTE_S - 10)
        await worker.env.JOBS.send("recent")
        await worker.advance(11)

        summary = summarize(store, "jobs", worker.clock, retention_s=MINUTE_S)
        assert (summary.pending, summary.expired) == (1, 1)  # counted before it is even removed

        admin.resume(store, "jobs")
        await worker.drain()
        assert got(worker) == ["recent"]
        assert store.state("jobs").expired == 1


async def test_a_retry_that_outlives_the_retention_period_expires(tmp_path: Path) -> None:
    async with api_for(write_project(tmp_path, CONFIG, WORKER), consumers=[consumer()]) as api:
        worker = api.worker
        await worker.env.JOBS.send("retry later")
        await worker.drain()
        assert got(worker) == ["retry later"]  # retried after 120 s: by then older than 60 s
        assert worker.session.queue_broker().store.state("jobs").expired == 1
        assert worker.queues["jobs"].pending == []


async def test_the_default_retention_is_four_days(tmp_path: Path) -> None:
    assert limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S == 4 * 86_400
    assert QueueConsumer("q").message_retention_period_s == limits.DEFAULT_MESSAGE_RETENTION_PERIOD_S
    worker = await Worker.start(write_project(tmp_path, CONFIG, WORKER))
    try:
        await worker.env.JOBS.send("patient", delaySeconds=limits.MAX_DELAY_S)
        await worker.drain()
        assert got(worker) == ["patient"]
    finally:
        await worker.close()


PRODUCER_DELAY_CONFIG = CONFIG.replace(
    'queue = "jobs"\n[[queues.consumers]]', 'queue = "jobs"\ndelivery_delay = 60\n[[queues.consumers]]', 1
)


async def test_a_producers_delivery_delay_delays_its_messages_unless_they_name_one(tmp_path: Path) -> None:
    worker = await Worker.start(write_project(tmp_path, PRODUCER_DELAY_CONFIG, WORKER))
    try:
        await worker.env.JOBS.send("default delay")
        await worker.env.JOBS.send("no delay", delaySeconds=0)
        await worker.env.JOBS.sendBatch([{"body": "batch default"}])
        await worker.advance(59)
        assert got(worker) == ["no delay"]
        await worker.advance(1)
        assert got(worker) == ["no delay", "default delay", "batch default"]
    finally:
        await worker.close()


async def test_the_retention_period_comes_from_the_config_file(tmp_path: Path) -> None:
    write_project(tmp_path, CONFIG + f"message_retention_period = {MINUTE_S}\n", WORKER)
    worker = await Worker.start(tmp_path / "wrangler.toml")
    try:
        await worker.env.JOBS.send("too late", delaySeconds=MINUTE_S + 1)
        await worker.env.JOBS.send("in time", delaySeconds=MINUTE_S - 1)
        await worker.drain()
        assert got(worker) == ["in time"]
        assert [m.body for m in worker.queues["jobs"].pending] == []
    finally:
        await worker.close()
