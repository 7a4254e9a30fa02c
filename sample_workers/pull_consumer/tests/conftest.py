"""The pull consumer's tests: the script is imported from the sample's folder, and the queue API
(which `workerlab dev` serves beside the worker) is reached in-process through a small transport."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pull_consumer import WORKERLAB_API_PREFIX, PullQueue

from workerlab.mounts import dev_mounts
from workerlab.server import RuntimeSlot, WorkerApp


class LoopTransport(httpx.BaseTransport):
    """A synchronous httpx transport for the script (run in a thread) that sends each request to the
    ASGI app on the test's event loop, as `workerlab dev` would serve it."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def call() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)


@pytest.fixture
async def events_queue(worker: Any) -> Any:
    """A :class:`PullQueue` of the worker's "events" queue; use it from a thread (asyncio.to_thread)."""
    app = WorkerApp(RuntimeSlot(worker.runtime), mounts=dev_mounts(inspector=False))
    transport = LoopTransport(app, asyncio.get_running_loop())
    client = httpx.Client(transport=transport, base_url="http://127.0.0.1:8787")
    yield PullQueue(client, WORKERLAB_API_PREFIX, "local", "events")
    client.close()
