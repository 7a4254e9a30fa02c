"""Workflows: step throughput in-process, and how fast interrupted instances resume after a crash.

``workflow steps``: instances of a 100-step workflow with trivial steps, run to completion on a
file store (every step's attempt and result written to SQLite), steps per second of wall time.

``resume 1000``: a child process takes 1,000 instances into their second step and is killed
with SIGKILL there; the time from opening the store again to all 1,000 being complete (the dead
owner found, each run replayed past its stored first step, the interrupted step run again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workerlab.clock import FakeClock
from workerlab.compat.entrypoint import WorkflowEntrypoint
from workerlab.events import EventBus
from workerlab.workflows import STORE_FILE_NAME, WorkflowEngine
from workerlab.workflows.step import WorkflowStep
from workerlab.workflows.store import FINISHED

STEPS = 100
INSTANCES = 20
RESUMED = 1000


class HundredSteps(WorkflowEntrypoint):
    async def run(self, event: Any, step: WorkflowStep) -> Any:
        total = 0
        for index in range(STEPS):
            total += await step.do(f"step {index}")(lambda: 1)()
        return total


class Interrupted(WorkflowEntrypoint):
    """Step one, then step two, which hangs on its first attempt (the child is killed there)."""

    async def run(self, event: Any, step: WorkflowStep) -> Any:
        @step.do()
        async def one() -> Any:
            return event.payload

        @step.do()
        async def two(one: Any, ctx: Any) -> Any:
            if ctx.attempt == 1:
                await asyncio.Event().wait()
            return one

        return await two()


async def drive(engine: WorkflowEngine, count: int) -> None:
    """Run what is due until ``count`` instances are over; all of them must be complete."""
    while True:
        await engine.run_due()
        statuses = [r.status for r in engine.store.instances("bench")]
        if len(statuses) == count and FINISHED.issuperset(statuses):
            break
        if engine.next_due_s() is None and not any(s in ("queued", "running") for s in statuses):
            raise RuntimeError(f"instances stopped short of complete: {set(statuses)}")
    if set(statuses) != {"complete"}:
        raise RuntimeError(f"instances ended {set(statuses)}, not all complete")


def open_engine(persist: Path, cls: type, settle_s: float = 0.5) -> WorkflowEngine:
    engine = WorkflowEngine(persist / STORE_FILE_NAME, FakeClock(), EventBus(), settle_s=settle_s)
    engine.register("bench", "bench", cls, dict)
    return engine


async def steps_per_second(persist: Path) -> float:
    engine = open_engine(persist, HundredSteps)
    binding = engine.binding("bench")
    started = time.perf_counter()
    await binding.create_batch([{"params": n} for n in range(INSTANCES)])
    await drive(engine, INSTANCES)
    elapsed = time.perf_counter() - started
    await engine.close()
    return INSTANCES * STEPS / elapsed


async def child(persist: Path) -> None:
    engine = open_engine(persist, Interrupted, settle_s=0.05)
    binding = engine.binding("bench")
    for start in range(0, RESUMED, 100):
        await binding.create_batch([{"params": n} for n in range(start, start + 100)])
    while sum(1 for r in engine.instances("bench") if len(r.steps) == 2) < RESUMED:
        await engine.run_due()
    print("stuck", flush=True)
    await asyncio.sleep(120)  # killed long before


def interrupt(persist: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(persist)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "stuck":
            raise RuntimeError(f"the child ended before its instances were mid-step ({line!r})")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def resume_seconds(persist: Path) -> float:
    interrupt(persist)
    started = time.perf_counter()
    engine = open_engine(persist, Interrupted)
    await drive(engine, RESUMED)
    elapsed = time.perf_counter() - started
    await engine.close()
    return elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory() as steps_dir, tempfile.TemporaryDirectory() as resume_dir:
        rate = await steps_per_second(Path(steps_dir))
        print(f"workflow steps: {rate:.0f} /s", flush=True)
        print(f"resume 1000: {await resume_seconds(Path(resume_dir)):.2f} s", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        asyncio.run(child(Path(sys.argv[2])))
    else:
        asyncio.run(main())
