"""Helpers for the queue API tests: a worker loaded in-process with the API mounted (no tests here).

The worker is loaded as the harness loads it (fake clock, memory store) and the queue API is
reached through the same ASGI app `workerlab dev` serves, with an httpx client and no socket.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from workerlab.clock import FakeClock
from workerlab.config import QueueConsumer, load_config
from workerlab.mounts import QUEUES_API_PATH, dev_mounts
from workerlab.queues.history import QueueHistory
from workerlab.server import RuntimeSlot, WorkerApp
from workerlab.session import Session, SessionOptions
from workerlab.testing import Worker

#: A producer of "jobs" (no consumer: its messages wait to be pulled).
PRODUCER_WORKER = """
async def fetch(request, env, ctx):
    from workers import Response
    body = await request.json()
    await env.JOBS.send(body["body"], contentType=body.get("contentType"))
    return Response("sent")
"""

PRODUCER_CONFIG = """
name = "pulled"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
"""


def queue_url(queue: str = "jobs", action: str = "") -> str:
    """The API path of a queue's messages (``action``: "pull", "ack", "batch" or "" to publish)."""
    path = f"{QUEUES_API_PATH}accounts/local/queues/{queue}/messages"
    return f"{path}/{action}" if action else path


class Api:
    """The worker, its clock, and a client of the queue API it serves."""

    def __init__(self, worker: Worker, client: httpx.AsyncClient) -> None:
        self.worker = worker
        self.clock: FakeClock = worker.clock
        self.client = client

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        kwargs.setdefault("headers", {"authorization": "Bearer any-token"})
        return await self.client.post(path, **kwargs)

    async def pull(self, queue: str = "jobs", **options: Any) -> list[dict[str, Any]]:
        response = await self.post(queue_url(queue, "pull"), options)
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["result"]["messages"]
        return messages

    async def ack(
        self, queue: str = "jobs", *, acks: Sequence[str] = (), retries: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        body = {"acks": [{"lease_id": lease} for lease in acks], "retries": list(retries)}
        response = await self.post(queue_url(queue, "ack"), body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result

    async def publish(self, body: Any, queue: str = "jobs", **fields: Any) -> httpx.Response:
        return await self.post(queue_url(queue), {"body": body, **fields})

    async def send(self, *bodies: Any, content_type: str | None = None) -> None:
        """Send through the worker's producer binding (``env.JOBS``)."""
        for body in bodies:
            await self.worker.env.JOBS.send(body, contentType=content_type)


def write_project(folder: Path, config: str = PRODUCER_CONFIG, worker: str = PRODUCER_WORKER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(worker))
    path = folder / "wrangler.toml"
    path.write_text(textwrap.dedent(config))
    return path


@asynccontextmanager
async def api_for(
    config_path: Path, *, consumers: Sequence[QueueConsumer] | None = None
) -> AsyncIterator[Api]:
    """The worker of ``config_path`` (``consumers`` replacing its configured ones) and an API client."""
    config = load_config(config_path)
    if consumers is not None:
        config = dataclasses.replace(config, consumers=tuple(consumers))
    session = await Session.open([config], SessionOptions(clock=FakeClock()))
    worker = Worker(session, session.primary, QueueHistory(session.bus))
    app = WorkerApp(RuntimeSlot(session.primary), mounts=dev_mounts(inspector=False))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as client:
            yield Api(worker, client)
    finally:
        await worker.close()


def pull_consumer(queue: str = "jobs", **settings: Any) -> QueueConsumer:
    """An ``http_pull`` consumer of ``queue``."""
    return QueueConsumer(queue, type="http_pull", **settings)
