"""The binding and instance API: create, create_batch, get, status and every transition —
pause, resume, terminate, restart — and the records the harness shows."""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any

import pytest
from test_workflows_support import Lab, lab, workflow

from workerlab.workflows import WorkflowError
from workerlab.workflows.binding import MAX_BATCH_INSTANCES, MAX_INSTANCE_ID_LENGTH


async def finished(self: Any, event: Any, step: Any) -> Any:
    return await step.do("echo")(lambda: event.payload)()


async def test_create_with_keywords_or_a_dict_and_generated_ids() -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        first = await binding.create(id="order-1", params={"n": 1})
        second = await binding.create({"id": "order_2", "params": [2]})
        third = await binding.create()
        assert (first.id, second.id) == ("order-1", "order_2")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", third.id)
        assert [(await i.status()).status for i in (first, second, third)] == ["queued"] * 3
        await wf.advance()
        assert [(await i.status()).output for i in (first, second, third)] == [{"n": 1}, [2], {}]
        assert [r.id for r in wf.records()] == ["order-1", "order_2", third.id]  # oldest first


async def test_a_duplicate_id_is_an_error_and_get_finds_an_instance() -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        await binding.create(id="a")
        with pytest.raises(WorkflowError, match='workflow "flow": an instance with id "a" already exists'):
            await binding.create(id="a")
        assert (await binding.get("a")).id == "a"
        with pytest.raises(WorkflowError, match=r'no instance with id "b" \(instance.not_found\)'):
            await binding.get("b")
        assert len(wf.records()) == 1


@pytest.mark.parametrize("bad", ["", "-a", "a b", "a/b", "é", "x" * (MAX_INSTANCE_ID_LENGTH + 1), 7])
async def test_invalid_ids_are_refused(bad: Any) -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        with pytest.raises(WorkflowError, match="invalid instance id"):
            await binding.create(id=bad)
        with pytest.raises(WorkflowError, match="invalid instance id"):
            await binding.get(bad)
    assert len("x" * MAX_INSTANCE_ID_LENGTH) == 100


async def test_unknown_create_options_are_refused() -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        with pytest.raises(TypeError, match="unknown option 'payload'"):
            await binding.create(payload={})
        with pytest.raises(TypeError, match="create\\(\\): params cannot carry a value of type object"):
            await binding.create(params={"f": object()})


async def test_create_batch_is_all_or_nothing() -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        made = await binding.create_batch([{"id": "a", "params": 1}, {"params": 2}])
        assert made[0].id == "a" and len(made) == 2
        assert [i.id for i in await binding.createBatch([{"id": "c"}])] == ["c"]
        for batch in ([{"id": "d"}, {"id": "a"}], [{"id": "e"}, {"id": "e"}]):
            with pytest.raises(WorkflowError, match="already exists"):
                await binding.create_batch(batch)
        with pytest.raises(WorkflowError, match=f"expected 1 to {MAX_BATCH_INSTANCES} instances, found 0"):
            await binding.create_batch([])
        with pytest.raises(WorkflowError, match="found 101"):
            await binding.create_batch([{}] * (MAX_BATCH_INSTANCES + 1))
        with pytest.raises(WorkflowError, match="expected a list"):
            await binding.create_batch({"id": "x"})
        assert [r.id for r in wf.records()] == ["a", made[1].id, "c"]
        await wf.advance()
        assert [r.output for r in wf.records()] == [1, 2, {}]


class Gate:
    """A step that waits until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.entered = 0

    def workflow(self) -> type:
        gate = self

        async def run(self: Any, event: Any, step: Any) -> Any:
            @step.do("gated")
            async def gated() -> str:
                gate.entered += 1
                await gate.open.wait()
                return "through"

            first = await gated()
            await step.sleep("rest", "1 hour")
            return first

        return workflow(run)


async def statuses(wf: Lab) -> list[str]:
    return [r.status for r in wf.records()]


async def test_statuses_from_queued_to_complete() -> None:
    gate = Gate()
    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(gate.workflow()).create()
        assert (await instance.status()).status == "queued"
        await wf.advance()
        assert (await instance.status()).status == "running"
        gate.open.set()
        await wf.advance()
        assert (await instance.status()).status == "waiting"
        await wf.advance(3600)
        assert await instance.status() == {"status": "complete", "output": "through"}
        steps = wf.records()[0].steps
        assert [(s.name, s.attempts, s.outcome) for s in steps] == [("gated", 1, "ok"), ("rest", 1, "ok")]


async def test_pause_a_queued_instance_and_resume_it() -> None:
    async with lab() as wf:
        instance = await wf.register(workflow(finished)).create(params="p")
        await instance.pause()
        await wf.advance(60)
        assert (await instance.status()).status == "paused"
        await instance.resume()
        await wf.advance()
        assert (await instance.status()).output == "p"


async def test_pause_while_a_step_runs_takes_effect_when_it_ends() -> None:
    gate = Gate()
    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(gate.workflow()).create()
        await wf.advance()
        await instance.pause()
        assert (await instance.status()).status == "waitingForPause"
        gate.open.set()
        await wf.advance(7200)
        assert (await instance.status()).status == "paused"
        assert wf.records()[0].steps[0].outcome == "ok" and len(wf.records()[0].steps) == 1
        await instance.resume()
        await wf.advance(3600)
        assert (await instance.status()).output == "through"
        assert gate.entered == 1


async def test_resume_before_the_pause_is_reached_calls_it_off() -> None:
    gate = Gate()
    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(gate.workflow()).create()
        await wf.advance()
        await instance.pause()
        await instance.resume()
        assert (await instance.status()).status == "running"
        gate.open.set()
        await wf.advance()
        assert (await instance.status()).status == "waiting"


async def test_a_paused_sleep_resumes_with_the_time_it_had_left() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await step.sleep("nap", "1 hour")

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(1800)
        await instance.pause()
        assert (await instance.status()).status == "paused"
        await wf.advance(7200)
        assert (await instance.status()).status == "paused"
        await instance.resume()
        await wf.advance(1799)
        assert (await instance.status()).status == "waiting"
        await wf.advance(1)
        assert (await instance.status()).status == "complete"


async def test_pause_and_resume_are_no_ops_where_they_mean_nothing() -> None:
    async with lab() as wf:
        instance = await wf.register(workflow(finished)).create()
        await instance.resume()
        assert (await instance.status()).status == "queued"
        await wf.advance()
        await instance.pause()
        await instance.resume()
        assert (await instance.status()).status == "complete"


async def test_terminate_a_running_instance_cancels_its_step() -> None:
    gate = Gate()
    cancelled: list[bool] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("long")
        async def long() -> None:
            try:
                await gate.open.wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        await long()

    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        await instance.terminate()
        assert cancelled == [True]
        assert (await instance.status()).status == "terminated"
        assert not wf.engine._active
        with pytest.raises(WorkflowError, match="is terminated, so it cannot be terminated"):
            await instance.terminate()


async def test_terminate_a_waiting_instance_and_a_finished_one() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await step.sleep("nap", "1 minute")

    async with lab() as wf:
        binding = wf.register(workflow(run))
        waiting, done = await binding.create(id="w"), await binding.create(id="d")
        await wf.advance()
        await waiting.terminate()
        await wf.advance(60)
        assert [r.status for r in wf.records()] == ["terminated", "complete"]
        with pytest.raises(WorkflowError, match=r'instance "d" is complete.*instance\.cannot_terminate'):
            await done.terminate()


async def test_restart_runs_again_from_the_start_with_the_same_params() -> None:
    runs: list[Any] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("note")
        async def note() -> Any:
            runs.append(event.payload)
            return len(runs)

        count = await note()
        await step.sleep("nap", "1 minute")
        return count

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create(params="p")
        await wf.advance(60)
        assert (await instance.status()).output == 1
        await instance.restart()
        assert (await instance.status()).status == "queued"
        await wf.advance(30)
        await instance.restart()  # while it sleeps
        await wf.advance(60)
        assert await instance.status() == {"status": "complete", "output": 3}
        assert runs == ["p", "p", "p"]
        assert [(s.name, s.attempts) for s in wf.records()[0].steps] == [("note", 1), ("nap", 1)]


async def test_an_error_in_run_outside_steps_errors_the_instance() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        raise LookupError("nothing here")

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        assert await instance.status() == {
            "status": "errored",
            "error": {"name": "LookupError", "message": "nothing here"},
        }
        assert wf.records()[0].error == {"name": "LookupError", "message": "nothing here"}


async def test_registration_errors() -> None:
    async with lab() as wf:
        wf.register(workflow(finished))
        with pytest.raises(WorkflowError, match='workflow "flow" is declared twice'):
            wf.register(workflow(finished))
        with pytest.raises(WorkflowError, match="has no run"):
            wf.engine.register("other", "worker", object, dict)


async def test_restart_from_a_step_keeps_the_steps_before_it() -> None:
    runs: list[str] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        for name in ("a", "b", "c"):
            await step.do(name)(functools.partial(runs.append, name))()
        got = await step.wait_for_event("go", "go", timeout="1 minute")
        return got.payload

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await instance.send_event(type="go", payload=1)
        await wf.advance()
        assert (await instance.status()).output == 1
        await instance.restart({"from": {"name": "b"}})
        await wf.advance()
        assert runs == ["a", "b", "c", "b", "c"]
        assert (await instance.status()).output == 1  # the event it had received is received again
        await instance.restart({"from": {"name": "go", "type": "waitForEvent"}})
        await wf.advance(60)
        assert (await instance.status()).output == 1
        for bad, message in [
            ({"name": "zzz"}, 'has no do step "zzz" \\(occurrence 1\\)'),
            ({"name": "a", "count": 0}, "from.count a whole number >= 1"),
            ({"name": "a", "type": "run"}, "from.type is one of do, sleep, waitForEvent"),
            ("a", "expected from as"),
        ]:
            with pytest.raises(WorkflowError, match=message):
                await instance.restart({"from": bad})


async def test_delete_forgets_the_instance_and_terminate_takes_rollback() -> None:
    gate = Gate()
    async with lab(settle_s=0.01) as wf:
        binding = wf.register(gate.workflow())
        running, other = await binding.create(id="r"), await binding.create(id="o")
        await wf.advance()
        await running.delete()
        with pytest.raises(WorkflowError, match=r"instance\.not_found"):
            await running.status()
        await other.terminate({"rollback": True})
        assert [r.id for r in wf.records()] == ["o"] and not wf.engine._active
        with pytest.raises(TypeError, match="unknown option 'force'"):
            await other.terminate(force=True)


async def test_concurrent_dependencies_one_retrying_one_slow() -> None:
    ran: list[str] = []
    slow = asyncio.Event()

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do(config={"retries": {"limit": 1, "delay": "1 minute"}})
        async def flaky(ctx: Any) -> str:
            ran.append(f"flaky:{ctx.attempt}")
            if ctx.attempt == 1:
                slow.set()
                raise RuntimeError("later")
            return "f"

        @step.do()
        async def patient() -> str:
            ran.append("patient")
            await slow.wait()
            await asyncio.sleep(0)
            return "p"

        @step.do(concurrent=True)
        async def both(flaky: str, patient: str) -> str:
            return flaky + patient

        return await both()

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        # the retry suspends the run, but the slow sibling's success is still recorded
        assert [(s.name, s.outcome) for s in wf.records()[0].steps] == [("flaky", "retry"), ("patient", "ok")]
        await wf.advance(60)
        assert (await instance.status()).output == "fp"
        assert ran == ["flaky:1", "patient", "flaky:2"]


async def test_delete_batch_reports_each_id() -> None:
    async with lab() as wf:
        binding = wf.register(workflow(finished))
        await binding.create_batch([{"id": "a"}, {"id": "b"}])
        result = await binding.deleteBatch(["a", "zz", "-bad"])
        assert result.deleted == [{"id": "a"}]
        assert [(e.id, e.code) for e in result.errors] == [
            ("zz", "instance.not_found"),
            ("-bad", "instance.invalid_id"),
        ]
        assert [r.id for r in wf.records()] == ["b"]
        with pytest.raises(WorkflowError, match="expected a list of instance ids"):
            await binding.deleteBatch("b")
