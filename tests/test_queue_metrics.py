"""env.Q.metrics(), batch.metadata.metrics and what send() resolves to, through the harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_pull_support import write_project

from workerlab.queues import metrics as metrics_module
from workerlab.queues.metrics import QueueMetrics, queue_metrics
from workerlab.testing import Worker

CONFIG = """
name = "measured"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.consumers]]
queue = "jobs"
max_batch_size = 2
max_batch_timeout = 0
"""

WORKER = """
seen = []

async def queue(batch, env, ctx):
    seen.append(batch.metadata.metrics)
"""

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[Worker]:
    made = await Worker.start(write_project(tmp_path, CONFIG, WORKER))
    yield made
    await made.close()


async def test_metrics_of_an_empty_queue_leave_out_the_oldest_timestamp(worker: Worker) -> None:
    metrics = await worker.env.JOBS.metrics()
    assert metrics == {"backlogCount": 0, "backlogBytes": 0}
    assert metrics.backlogCount == 0
    with pytest.raises(AttributeError):
        metrics.oldestMessageTimestamp  # noqa: B018  (undefined on Cloudflare: absent here)


async def test_metrics_count_the_backlog_its_bytes_and_its_oldest_message(worker: Worker) -> None:
    await worker.env.JOBS.send({"a": 1})
    worker.clock.advance(5)
    await worker.env.JOBS.sendBatch([{"body": "xy"}, {"body": "later", "delaySeconds": 60}])

    metrics = await worker.env.JOBS.metrics()

    assert metrics.backlogCount == 3
    assert metrics.backlogBytes == len(b'{"a":1}') + len(b'"xy"') + len(b'"later"')
    assert metrics.oldestMessageTimestamp == START


async def test_send_resolves_to_the_queues_metrics(worker: Worker) -> None:
    response = await worker.env.JOBS.send("one")
    assert response.metadata.metrics.backlogCount == 1
    assert response["metadata"]["metrics"]["backlogBytes"] == len(b'"one"')
    batch_response = await worker.env.JOBS.sendBatch([{"body": 1}, {"body": 2}])
    assert batch_response.metadata.metrics.backlogCount == 3


async def test_a_batch_carries_the_metrics_of_its_queue(worker: Worker) -> None:
    await worker.env.JOBS.sendBatch([{"body": i} for i in range(3)])
    await worker.drain()

    first, second = worker.runtime.worker.module.seen
    assert first.backlogCount == 3  # read while the batch is in flight: not acked yet
    assert first.oldestMessageTimestamp == START
    assert second.backlogCount == 1


async def test_a_hand_made_batch_reports_an_empty_queue(worker: Worker) -> None:
    await worker.queue("jobs", ["x"])
    [metrics] = worker.runtime.worker.module.seen
    assert metrics == {"backlogCount": 0, "backlogBytes": 0}


async def test_metrics_remove_messages_past_retention_first(worker: Worker) -> None:
    store = worker.session.queue_broker().store
    await worker.env.JOBS.send("old", delaySeconds=0)
    from workerlab.queues import admin

    admin.pause(store, "jobs")
    worker.clock.advance(4 * 86_400 + 1)  # past the default retention of four days

    assert await worker.env.JOBS.metrics() == {"backlogCount": 0, "backlogBytes": 0}
    assert store.state("jobs").expired == 1


def test_the_oldest_timestamp_of_a_large_backlog_is_sampled(monkeypatch: pytest.MonkeyPatch) -> None:
    from workerlab.queues.store import QueueStore

    store = QueueStore.open(None)
    monkeypatch.setattr(metrics_module, "EXACT_OLDEST_MAX_MESSAGES", 2)
    monkeypatch.setattr(metrics_module, "OLDEST_SAMPLE_MESSAGES", 1)
    store.insert("q", [("a" * 32, 5_000, "json", b"1", 100), ("b" * 32, 1_000, "json", b"2", 900_000)])
    store.insert("q", [("c" * 32, 7_000, "json", b"3", 200)])
    # Exact would say 1000 (the delayed message); the sample reads the next message only.
    assert queue_metrics(store, "q") == QueueMetrics(3, 3, 5_000)
    assert queue_metrics(store, "q").for_api() == {
        "backlog_count": 3,
        "backlog_bytes": 3,
        "oldest_message_timestamp_ms": 5_000,
    }
    store.close()
