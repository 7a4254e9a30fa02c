"""Runtime checks made when a worker loads."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from workerlab.testing import Worker

CONSUMER = """
name = "no-queue-handler"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
[[queues.consumers]]
queue = "jobs"
max_retries = 0
"""


async def test_a_consumer_without_a_queue_handler_keeps_its_messages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "wrangler.toml").write_text(CONSUMER)
    (tmp_path / "worker.py").write_text(
        textwrap.dedent(
            """
            from workers import Response
            async def fetch(request, env):
                await env.JOBS.send({"n": 1})
                return Response("sent")
            """
        )
    )
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        worker = await Worker.start(tmp_path / "wrangler.toml")
    try:
        assert 'has no queue handler, so the consumers of "jobs" are not started' in caplog.text
        await worker.fetch("/")
        await worker.drain()
        await worker.advance(60)
        queue = worker.queues["jobs"]
        assert [m.body for m in queue.pending] == [{"n": 1}]
        assert queue.deliveries == [] and queue.dropped == []
    finally:
        await worker.close()


async def test_a_module_without_any_handler_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "wrangler.toml").write_text('name = "empty"\nmain = "worker.py"\n')
    (tmp_path / "worker.py").write_text("VALUE = 1\n")
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        worker = await Worker.start(tmp_path / "wrangler.toml")
    await worker.close()
    assert "worker.py defines no handler" in caplog.text


async def test_an_http_pull_consumer_needs_no_queue_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "wrangler.toml").write_text(CONSUMER + 'type = "http_pull"\n')
    (tmp_path / "worker.py").write_text(
        "from workers import Response\nasync def fetch(request, env):\n    await env.JOBS.send(1)\n"
        "    return Response('sent')\n"
    )
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        worker = await Worker.start(tmp_path / "wrangler.toml")
    try:
        assert "has no queue handler" not in caplog.text  # clients pull its messages over HTTP
        await worker.fetch("/")
        await worker.drain()
        await worker.advance(60)
        assert [m.body for m in worker.queues["jobs"].pending] == [1]  # kept for a pull, never pushed
    finally:
        await worker.close()
