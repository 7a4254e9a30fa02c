"""Helpers for the inspector's tests: a session of the test shop worker served through the same app
`workerlab dev` serves, an HTTP client on it, and a reader of its event stream (no tests here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from workerlab.clock import FakeClock
from workerlab.config import load_config
from workerlab.inspector import INSPECTOR_PATH, InspectorApp
from workerlab.inspector.state import InspectorState
from workerlab.server import RuntimeSlot, WorkerApp
from workerlab.session import Session, SessionOptions

#: The worker every inspector test drives (also the browser suite's).
SHOP_CONFIG = Path(__file__).parent / "inspector_app" / "wrangler.toml"
ORIGIN = "http://127.0.0.1:8787"
API = f"{INSPECTOR_PATH}api/"


@dataclass
class Inspected:
    """A session, the inspector attached to it, and a client that talks to both over ASGI."""

    session: Session
    inspector: InspectorApp
    client: httpx.AsyncClient

    @property
    def clock(self) -> FakeClock:
        clock = self.session.clock
        assert isinstance(clock, FakeClock)
        return clock

    async def get(self, path: str) -> Any:
        """GET api/<path>; the JSON answer (a non-2xx answer fails the test)."""
        response = await self.client.get(API + path)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        """POST api/<path> as the page does: with the token, from the inspector's own origin."""
        sent = {"x-workerlab-token": self.inspector.token, "origin": ORIGIN, **headers}
        return await self.client.post(API + path, json=body or {}, headers=sent)

    async def visit(self, path: str) -> httpx.Response:
        """A request to the worker itself."""
        return await self.client.get(path)

    async def settle(self) -> None:
        """Run what is due now (queue batches, retries) until nothing more is."""
        await self.session.timers.run_due(frozenset({"queues"}))


@asynccontextmanager
async def inspected(
    persist_dir: Path | None, *, state: InspectorState | None = None
) -> AsyncIterator[Inspected]:
    """The shop worker in a session on a fake clock, with the inspector mounted as `workerlab dev` does."""
    options = SessionOptions(persist_dir=persist_dir, clock=FakeClock(), crons=False)
    session = await Session.open([load_config(SHOP_CONFIG)], options)
    inspector = InspectorApp(state=state)
    inspector.attach(session)
    app = WorkerApp(RuntimeSlot(session.primary), mounts=[(INSPECTOR_PATH, inspector)])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            yield Inspected(session, inspector, client)
    finally:
        inspector.state.detach()
        await session.close(grace_s=0)


def scope(
    method: str = "GET",
    path: str = API + "queues",
    *,
    client: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    server: tuple[str, int] = ("127.0.0.1", 8787),
) -> MutableMapping[str, Any]:
    """An ASGI HTTP scope as uvicorn builds one."""
    sent = {"host": f"{server[0]}:{server[1]}", **(headers or {})}
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "headers": [(name.encode(), value.encode()) for name, value in sent.items()],
        "client": (client, 50000),
        "server": server,
    }


class EventReader:
    """The server-sent events of one ``GET events`` stream, read as the app sends them."""

    def __init__(
        self, app: Any, session: Session, query: str = "", headers: dict[str, str] | None = None
    ) -> None:
        request = scope(path=API + "events", headers=headers)
        request["query_string"] = query.encode()
        request["workerlab.session"] = session
        self._disconnect = asyncio.Event()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._buffer = ""
        self.status: int | None = None
        self._task = asyncio.create_task(app(request, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message.get("body"):
            await self._chunks.put(message["body"])

    async def next(self, *, timeout_s: float = 5.0) -> tuple[str, Any]:
        """The next event as ``(name, data)``; comments are skipped."""
        async with asyncio.timeout(timeout_s):
            while "\n\n" not in self._buffer:
                self._buffer += (await self._chunks.get()).decode()
        block, self._buffer = self._buffer.split("\n\n", 1)
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if not fields:
            return await self.next(timeout_s=timeout_s)
        return fields["event"], json.loads(fields["data"])

    async def until(self, name: str, *, timeout_s: float = 5.0) -> Any:
        """The data of the next event called ``name`` (others are skipped)."""
        while True:
            event, data = await self.next(timeout_s=timeout_s)
            if event == name:
                return data

    async def close(self) -> None:
        self._disconnect.set()
        async with asyncio.timeout(5):
            await self._task

    @property
    def done(self) -> bool:
        return self._task.done()
