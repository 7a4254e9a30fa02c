"""Shared by the Durable Object tests: an engine on a fake clock, and a few object classes.

(This module holds fixtures and helpers only; the tests import them.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from workerlab.clock import FakeClock
from workerlab.compat.entrypoint import DurableObject
from workerlab.compat.response import Response
from workerlab.context import BackgroundWork
from workerlab.durable import DurableObjectNamespace, DurableObjects, StorageKind
from workerlab.events import AlarmRun, EventBus


@dataclass
class Lab:
    """One session's Durable Objects: the engine, its clock, and what it emitted."""

    engine: DurableObjects
    clock: FakeClock
    work: BackgroundWork
    env: dict[str, Any] = field(default_factory=dict)
    alarm_runs: list[AlarmRun] = field(default_factory=list)

    def namespace(
        self,
        cls: type,
        storage: StorageKind = "sqlite",
        *,
        worker: str = "app",
        class_name: str | None = None,
    ) -> DurableObjectNamespace:
        return self.engine.namespace(
            cls,
            worker=worker,
            class_name=class_name or cls.__name__,
            storage=storage,
            env=lambda: self.env,
            work=self.work,
        )

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing every alarm that falls due, in time order."""
        source = self.engine.alarms
        target_s = self.clock.now_s() + seconds
        while (due_s := source.next_due_s()) is not None and due_s <= target_s:
            self.clock.set(max(due_s, self.clock.now_s()))
            await source.run_due()
        self.clock.set(target_s)


LabFactory = Callable[..., Lab]


@pytest.fixture
async def make_lab() -> AsyncIterator[LabFactory]:
    """Builds labs (``persist_dir`` None: in memory; ``clock`` to share one); closes them after."""
    labs: list[Lab] = []

    def make(persist_dir: Path | None = None, *, clock: FakeClock | None = None) -> Lab:
        clock = clock or FakeClock()
        bus = EventBus()
        lab = Lab(DurableObjects(persist_dir, clock=clock, bus=bus), clock, BackgroundWork())
        bus.subscribe(lab.alarm_runs.append, AlarmRun)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        await lab.engine.close()
        assert await lab.work.settle() == []


@pytest.fixture
def lab(make_lab: LabFactory) -> Lab:
    return make_lab()


class Counter(DurableObject):
    """Counts through storage (a read, then a write), and remembers its alarms."""

    async def increment(self, by: int = 1) -> int:
        value = (await self.ctx.storage.get("count") or 0) + by
        await self.ctx.storage.put("count", value)
        return value

    async def count(self) -> int:
        return await self.ctx.storage.get("count") or 0

    async def fetch(self, request: Any) -> Response:
        return Response(f"{request.method} {request.url} {await self.count()}")

    async def alarm(self, alarm_info: Any) -> None:
        runs = await self.ctx.storage.get("alarms") or []
        await self.ctx.storage.put("alarms", [*runs, alarm_info.retryCount])


class Plain(DurableObject):
    """An object with no alarm() and no fetch()."""

    def hello(self, name: str) -> str:
        return f"hello {name}"
