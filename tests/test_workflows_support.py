"""What the workflow tests share: a lab that owns an engine on a fake clock and drives it.

``Lab.advance(seconds)`` moves the clock the way the harness does — to each next due time in
order, running what is due there — so tests never sleep. It holds no tests itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from workerlab.clock import FakeClock
from workerlab.context import BackgroundWork
from workerlab.events import EventBus, WorkflowStep
from workerlab.workflows import STORE_FILE_NAME, WorkflowBinding, WorkflowEngine


class Lab:
    """An engine, its fake clock, the step events it emitted, and the workflows registered on it."""

    def __init__(self, persist: Path | None = None, clock: FakeClock | None = None, **options: Any) -> None:
        self.clock = clock or FakeClock()
        self.bus = EventBus()
        self.steps: list[WorkflowStep] = []
        self.bus.subscribe(self.steps.append, WorkflowStep)
        self.env: dict[str, Any] = {}
        self.work = BackgroundWork()
        self.engine = WorkflowEngine(
            None if persist is None else persist / STORE_FILE_NAME, self.clock, self.bus, **options
        )

    def register(self, cls: type, name: str = "flow", **options: Any) -> WorkflowBinding:
        self.engine.register(name, "worker", cls, lambda: self.env, self.work, **options)
        binding = self.engine.binding(name)
        self.env[name.upper()] = binding
        return binding

    async def advance(self, seconds: float = 0) -> None:
        """Move the clock ``seconds`` on, running everything that falls due on the way, in order."""
        target = self.clock.now_s() + seconds
        for _ in range(10_000):
            await self.engine.run_due()
            due = self.engine.next_due_s()
            if due is None or due > target:
                break
            self.clock.set(max(due, self.clock.now_s()))
        self.clock.set(target)
        await self.engine.run_due()

    def outcomes(self, step: str | None = None) -> list[tuple[str, int, str]]:
        """``(step, attempt, outcome)`` of every attempt so far (of ``step`` only, when given)."""
        return [(e.step, e.attempt, e.outcome) for e in self.steps if step is None or e.step == step]

    def records(self, name: str = "flow") -> Any:
        return self.engine.instances(name)


@asynccontextmanager
async def lab(persist: Path | None = None, **options: Any) -> AsyncIterator[Lab]:
    made = Lab(persist, **options)
    try:
        yield made
    finally:
        await made.engine.close()


def workflow(run: Callable[..., Any]) -> type:
    """A WorkflowEntrypoint subclass whose ``run`` is ``run(self, event, step)``."""
    from workerlab.compat.entrypoint import WorkflowEntrypoint

    return type("Flow", (WorkflowEntrypoint,), {"run": run})
