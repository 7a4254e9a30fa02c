"""The engine on the real clock, as ``workerlab dev`` runs it: ``run()`` starts what falls due,
short sleeps and retries included, and ``close()`` stops it."""

from __future__ import annotations

import asyncio
from typing import Any

from test_workflows_support import Lab, workflow

from workerlab.clock import SystemClock
from workerlab.events import WorkflowStep


async def test_run_moves_instances_on_the_real_clock() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("flaky", config={"retries": {"limit": 1, "delay": 30}})
        async def flaky(ctx: Any) -> int:
            if ctx.attempt == 1:
                raise RuntimeError("once")
            return ctx.attempt

        attempts = await flaky()
        await step.sleep("short", 20)
        await step.do("last")(lambda: None)()
        return attempts

    wf = Lab(clock=SystemClock())  # type: ignore[arg-type]
    last = asyncio.Event()
    wf.bus.subscribe(lambda e: e.step == "last" and last.set(), WorkflowStep)
    loop = asyncio.create_task(wf.engine.run())
    try:
        instance = await wf.register(workflow(run)).create()
        await asyncio.wait_for(last.wait(), timeout=10)
        await asyncio.gather(*(active.task for active in wf.engine._active.values()))
        assert await instance.status() == {"status": "complete", "output": 2}
    finally:
        await wf.engine.close()
        await asyncio.wait_for(loop, timeout=10)
