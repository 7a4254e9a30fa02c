"""Durability: a run stopped mid-step (close, or kill -9 of the process) resumes from its stored
steps at the next start — no succeeded step runs twice, the interrupted one runs again with its
attempt counted — and sleeping instances cost rows, not tasks."""

from __future__ import annotations

import asyncio
import gc
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path
from typing import Any

from test_workflows_support import Lab, lab, workflow

from workerlab.clock import FakeClock
from workerlab.workflows import STORE_FILE_NAME
from workerlab.workflows.owners import OWNERS_DIR_NAME


def counting_workflow(ran: list[str], gate: asyncio.Event) -> type:
    """Step "one", then step "two" that waits for ``gate`` on its first attempt, then a sleep."""

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do()
        async def one() -> dict[str, Any]:
            ran.append("one")
            return {"base": event.payload}

        @step.do()
        async def two(one: Any, ctx: Any) -> int:
            ran.append(f"two:{ctx.attempt}")
            if ctx.attempt == 1:
                await gate.wait()
            return one.base + 1

        value = await two()
        await step.sleep("rest", "1 day")
        return value

    return workflow(run)


async def test_close_mid_step_then_reopen_resumes_from_the_stored_steps(tmp_path: Path) -> None:
    ran: list[str] = []
    clock = FakeClock()
    first = Lab(tmp_path, clock=clock, settle_s=0.01)
    instance = await first.register(counting_workflow(ran, asyncio.Event())).create(id="job", params=41)
    await first.advance()
    assert ran == ["one", "two:1"]
    await first.engine.close()

    async with lab(tmp_path, clock=clock) as second:
        binding = second.register(counting_workflow(ran, asyncio.Event()))
        assert [(r.id, r.status) for r in second.records()] == [("job", "running")]
        await second.advance()
        assert ran == ["one", "two:1", "two:2"]  # "one" is not run again; "two" runs again
        assert (await (await binding.get(instance.id)).status()).status == "waiting"
        steps = second.records()[0].steps
        assert [(s.name, s.attempts, s.outcome) for s in steps] == [
            ("one", 1, "ok"),
            ("two", 2, "ok"),
            ("rest", 1, "waiting"),
        ]

    async with lab(tmp_path, clock=clock) as third:
        binding = third.register(counting_workflow(ran, asyncio.Event()))
        await third.advance(24 * 3600)
        assert await (await binding.get("job")).status() == {"status": "complete", "output": 42}
        assert ran == ["one", "two:1", "two:2"]


async def test_events_and_pauses_survive_a_reopen(tmp_path: Path) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await step.sleep("first", "1 minute")
        return (await step.wait_for_event("go", "go")).payload

    clock = FakeClock()
    async with lab(tmp_path, clock=clock) as wf:
        binding = wf.register(workflow(run))
        waiting, paused = await binding.create(id="w"), await binding.create(id="p")
        await wf.advance()
        await waiting.send_event(type="go", payload="early")
        await paused.pause()
    async with lab(tmp_path, clock=clock) as wf:
        binding = wf.register(workflow(run))
        await wf.advance(60)
        assert [(r.id, r.status, r.output) for r in wf.records()] == [
            ("w", "complete", "early"),
            ("p", "paused", None),
        ]


async def test_a_second_engine_on_the_same_store_leaves_a_live_owners_instances(tmp_path: Path) -> None:
    ran: list[str] = []
    gate = asyncio.Event()
    async with lab(tmp_path, settle_s=0.01) as one:
        await one.register(counting_workflow(ran, gate)).create(id="x", params=1)
        await one.advance()
        async with lab(tmp_path, clock=one.clock, settle_s=0.01) as other:
            other.register(counting_workflow(ran, gate))
            await other.advance()
            assert not other.engine._active and ran == ["one", "two:1"]
        gate.set()
        await one.advance()
        assert [r.status for r in one.records()] == ["waiting"]


CHILD = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_workflows_support import Lab, workflow

persist, log = Path(sys.argv[1]), Path(sys.argv[2])

async def run(self, event, step):
    @step.do()
    async def one():
        with log.open("a") as out:
            out.write("one\\n")
        return event.payload

    @step.do()
    async def two(one, ctx):
        with log.open("a") as out:
            out.write(f"two:{{ctx.attempt}}\\n")
        print("stuck", flush=True)
        await asyncio.Event().wait()

    return await two()

async def main():
    wf = Lab(persist, settle_s=0.01)
    await wf.register(workflow(run)).create(id="crash", params=7)
    await wf.advance()
    # Stay stuck in step two until the parent kills this process (or closes its stdin).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    sys.exit(3)

asyncio.run(main())
"""


def wait_for_line(process: subprocess.Popen[str], text: str, timeout_s: float = 30.0) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the child never printed {text!r}"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            line = process.stdout.readline()
            assert line, f"the child ended (exit {process.wait()}) before printing {text!r}"
            if line.strip() == text:
                return


async def test_kill_9_mid_step_then_restart_resumes(tmp_path: Path) -> None:
    script, log = tmp_path / "child.py", tmp_path / "steps.log"
    script.write_text(textwrap.dedent(CHILD.format(tests=str(Path(__file__).parent))))
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_line(child, "stuck")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
    assert log.read_text().split() == ["one", "two:1"]

    async def resumed(self: Any, event: Any, step: Any) -> Any:
        @step.do()
        async def one() -> Any:
            raise AssertionError("step one succeeded before the crash: it must not run again")

        @step.do()
        async def two(one: Any, ctx: Any) -> Any:
            return [one, ctx.attempt]

        return await two()

    async with lab(tmp_path) as wf:
        wf.register(workflow(resumed))
        await wf.advance()
        record = wf.records()[0]
        assert (record.id, record.status, record.output) == ("crash", "complete", [7, 2])
        assert [(s.name, s.attempts) for s in record.steps] == [("one", 1), ("two", 2)]
    assert not any((tmp_path / OWNERS_DIR_NAME).iterdir())  # the dead owner's lock file is gone


async def test_a_thousand_sleeping_instances_cost_rows_not_tasks(tmp_path: Path) -> None:
    ran: list[int] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do()
        async def prepare() -> int:
            ran.append(event.payload)
            return event.payload

        value = await prepare()
        await step.sleep("overnight", "1 day")
        return value * 2

    clock = FakeClock()
    async with lab(tmp_path, clock=clock) as wf:
        binding = wf.register(workflow(run))
        for start in range(0, 1000, 100):
            await binding.create_batch([{"id": f"i{n}", "params": n} for n in range(start, start + 100)])
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await wf.advance(60)
        gc.collect()
        grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
        assert {r.status for r in wf.records()} == {"waiting"}
        assert not wf.engine._active
        assert grown < 2_000_000, f"1,000 sleeping instances kept {grown:,} bytes of Python objects"
    assert (tmp_path / STORE_FILE_NAME).exists()

    async with lab(tmp_path, clock=clock) as wf:
        wf.register(workflow(run))
        await wf.advance(24 * 3600)
        records = wf.records()
        assert len(records) == 1000 and {r.status for r in records} == {"complete"}
        assert [r.output for r in records[:3]] == [0, 2, 4]
        assert sorted(ran) == list(range(1000))  # each prepare step ran once, across the reopen


async def test_a_retry_delay_survives_a_reopen(tmp_path: Path) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("flaky", config={"retries": {"limit": 2, "delay": "1 minute", "backoff": "constant"}})
        async def flaky(ctx: Any) -> int:
            if ctx.attempt == 1:
                raise RuntimeError("not yet")
            return ctx.attempt

        return await flaky()

    clock = FakeClock()
    async with lab(tmp_path, clock=clock) as wf:
        await wf.register(workflow(run)).create(id="r")
        await wf.advance(30)
        assert wf.outcomes() == [("flaky", 1, "retry")]
    async with lab(tmp_path, clock=clock) as wf:
        wf.register(workflow(run))
        await wf.advance(29)
        assert wf.outcomes() == [] and wf.records()[0].status == "running"
        await wf.advance(1)
        assert (wf.records()[0].status, wf.records()[0].output) == ("complete", 2)


async def test_close_lets_attempts_in_flight_finish_within_its_grace(tmp_path: Path) -> None:
    finished: list[str] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("brief")
        async def brief() -> None:
            for _ in range(50):
                await asyncio.sleep(0)
            finished.append(event.payload)

        await brief()
        await step.sleep("later", "1 hour")

    for grace_s, expected in ((5.0, ["graced"]), (0.0, [])):
        finished.clear()
        wf = Lab(tmp_path / str(grace_s), close_grace_s=grace_s)
        await wf.register(workflow(run)).create(params="graced")
        starting = asyncio.create_task(wf.engine.run_due())
        await asyncio.sleep(0)  # the run has started its attempt
        await wf.engine.close()
        await starting
        assert finished == expected
