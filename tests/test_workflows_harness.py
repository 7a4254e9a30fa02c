"""Workflows through the pytest harness (SPEC §6, §13): ``advance()`` moves instances through
sleeps, retries and timeouts in time order with crons, alarms and queue deliveries;
``worker.workflows`` shows instances and their steps; tests send events; ``drain()`` leaves
workflows alone."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from workerlab.testing import Worker

MINUTE_S = 60
HOUR_S = 3600
#: The drip workflow's sleep between its two steps.
NAP_S = 11 * MINUTE_S

#: A worker with five workflows, a cron, a Durable Object with an alarm and a queue. Every handler
#: writes (clock seconds since the start, what happened) to TIMELINE; the test sets CLOCK.
WORKER = """
import asyncio

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint
from workers.workflows import NonRetryableError

TIMELINE = []
CLOCK = None
START_S = 0


def note(what):
    TIMELINE.append((round(CLOCK.now_s() - START_S), what))


class Drip(WorkflowEntrypoint):
    async def run(self, event, step):
        name = event.instanceId

        @step.do()
        async def first():
            note(f"{name} first")
            return event.payload

        @step.do()
        async def second(first):
            note(f"{name} second")
            await self.env.JOBS.send(f"after {name}", delaySeconds=90)
            return first["n"] + 1

        await first()
        await step.sleep("nap", "11 minutes")
        return await second()


class Flaky(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("flaky", config={"retries": {"limit": 2, "delay": "1 minute", "backoff": "exponential"}})
        async def flaky(ctx):
            note(f"flaky attempt {ctx.attempt}")
            if ctx.attempt < event.payload["succeed_on"]:
                raise ConnectionError(f"refused on attempt {ctx.attempt}")
            return ctx.attempt

        return await flaky()


class Slow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do(config={"retries": {"limit": 1, "delay": "10 seconds"}, "timeout": "5 seconds"})
        async def slow(ctx):
            note(f"slow attempt {ctx.attempt}")
            if ctx.attempt == 1:
                await asyncio.Event().wait()  # never set: only the step timeout ends it
            return "done"

        return await slow()


class Approval(WorkflowEntrypoint):
    async def run(self, event, step):
        approval = await step.wait_for_event("approval", "approved", timeout="1 hour")
        note(f"approved by {approval['payload']['by']}")
        return approval["payload"]


class Fatal(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do(config={"retries": {"limit": 5, "delay": 1000}})
        async def check():
            raise NonRetryableError("the input is not valid", "InputError")

        return await check()


class Ticker(DurableObject):
    async def arm(self, delay_ms):
        await self.ctx.storage.setAlarm(CLOCK.now_ms() + delay_ms)

    async def alarm(self, info=None):
        note("alarm")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await self.env.TICKER.getByName("t").arm(int(request.url.rsplit("/", 1)[1]))
        return Response("armed")

    async def scheduled(self, controller, env, ctx):
        note("cron")

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            note(f"message {message.body}")
            if message.body.startswith("start "):
                await env.DRIP.create(id=message.body.split()[1], params={"n": 0})
            message.ack()
"""

CONFIG = """
name = "lab"
main = "worker.py"
compatibility_date = "2026-03-01"
compatibility_flags = ["python_workers"]

[triggers]
crons = ["*/5 * * * *"]

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0

[[durable_objects.bindings]]
name = "TICKER"
class_name = "Ticker"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Ticker"]
"""

WORKFLOWS = ("drip", "flaky", "slow", "approval", "fatal")

Start = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Write the worker above (or ``code``, ``config``) to tmp_path and start it in the harness."""
    started: list[Worker] = []

    async def start(code: str = WORKER, config: str = CONFIG, workflows: Sequence[str] = WORKFLOWS) -> Worker:
        (tmp_path / "worker.py").write_text(textwrap.dedent(code))
        sections = "".join(
            f'\n[[workflows]]\nname = "{name}"\nbinding = "{name.upper()}"\nclass_name = "{name.title()}"\n'
            for name in workflows
        )
        (tmp_path / "wrangler.toml").write_text(textwrap.dedent(config) + sections)
        worker = await Worker.start(tmp_path / "wrangler.toml")
        if hasattr(worker.module, "CLOCK"):
            vars(worker.module).update(CLOCK=worker.clock, START_S=worker.clock.now_s())
        started.append(worker)
        return worker

    yield start
    for worker in started:
        assert await worker.close() == []


@pytest.fixture
async def worker(start: Start) -> Worker:
    return await start()


def timeline(worker: Worker, *, crons: bool = False) -> list[tuple[int, str]]:
    """What the worker's handlers did, when (the cron's firings only with ``crons``)."""
    return [(when, what) for when, what in worker.module.TIMELINE if crons or what != "cron"]


def steps(worker: Worker, workflow: str, instance_id: str) -> list[tuple[str, int, str]]:
    (record,) = [r for r in worker.workflows[workflow] if r.id == instance_id]
    return [(step.name, step.attempts, step.outcome) for step in record.steps]


def status(worker: Worker, workflow: str, instance_id: str) -> str:
    (record,) = [r for r in worker.workflows[workflow] if r.id == instance_id]
    return record.status


# --- advance(): sleeps, retries, timeouts ------------------------------------------------------------


async def test_advance_moves_an_instance_through_its_sleep(worker: Worker) -> None:
    instance = await worker.env.DRIP.create(id="d", params={"n": 41})
    assert status(worker, "drip", "d") == "queued"

    await worker.advance(0)
    assert timeline(worker) == [(0, "d first")]
    assert (await instance.status()).status == "waiting"
    assert steps(worker, "drip", "d") == [("first", 1, "ok"), ("nap", 1, "waiting")]

    await worker.advance(NAP_S - 1)
    assert timeline(worker) == [(0, "d first")]
    await worker.advance(1)
    assert timeline(worker)[1:] == [(NAP_S, "d second")]
    assert await instance.status() == {"status": "complete", "output": 42}
    assert steps(worker, "drip", "d") == [("first", 1, "ok"), ("nap", 1, "ok"), ("second", 1, "ok")]


async def test_advance_runs_retries_after_their_backoff(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    instance = await worker.env.FLAKY.create(id="f", params={"succeed_on": 3})

    await worker.advance(0)
    assert steps(worker, "flaky", "f") == [("flaky", 1, "retry")]
    await worker.advance(MINUTE_S - 1)
    assert len(timeline(worker)) == 1
    await worker.advance(1 + 2 * MINUTE_S)  # exponential: 1 minute, then 2

    assert timeline(worker) == [
        (0, "flaky attempt 1"),
        (MINUTE_S, "flaky attempt 2"),
        (3 * MINUTE_S, "flaky attempt 3"),
    ]
    assert await instance.status() == {"status": "complete", "output": 3}
    assert steps(worker, "flaky", "f") == [("flaky", 3, "ok")]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("WORKFLOW ")]
    outcomes = [line.rsplit(" ", 1)[0] for line in lines]
    assert outcomes == ["WORKFLOW flaky f flaky retry"] * 2 + ["WORKFLOW flaky f flaky ok"]
    assert all(line.endswith("ms)") for line in lines)


async def test_a_step_failing_past_its_retries_errors_the_instance(worker: Worker) -> None:
    instance = await worker.env.FLAKY.create(id="f", params={"succeed_on": 99})

    await worker.advance(HOUR_S)

    assert [when for when, _ in timeline(worker)] == [0, MINUTE_S, 3 * MINUTE_S]
    assert await instance.status() == {
        "status": "errored",
        "error": {"name": "ConnectionError", "message": "refused on attempt 3"},
    }
    (record,) = worker.workflows["flaky"]
    assert record.error == {"name": "ConnectionError", "message": "refused on attempt 3"}
    assert [(s.name, s.attempts, s.outcome, s.error) for s in record.steps] == [
        ("flaky", 3, "error", {"name": "ConnectionError", "message": "refused on attempt 3"})
    ]


async def test_a_non_retryable_error_ends_the_instance_at_once(worker: Worker) -> None:
    instance = await worker.env.FATAL.create(id="x")
    await worker.advance(0)
    assert await instance.status() == {
        "status": "errored",
        "error": {"name": "InputError", "message": "the input is not valid"},
    }
    assert steps(worker, "fatal", "x") == [("check", 1, "error")]


async def test_advance_times_out_a_step_attempt_on_the_fake_clock(worker: Worker) -> None:
    instance = await worker.env.SLOW.create(id="s")

    await worker.advance(4)
    assert steps(worker, "slow", "s") == [("slow", 1, "running")]
    await worker.advance(1)
    (record,) = worker.workflows["slow"]
    assert [(s.attempts, s.outcome) for s in record.steps] == [(1, "retry")]

    await worker.advance(10)
    assert timeline(worker) == [(0, "slow attempt 1"), (15, "slow attempt 2")]
    assert await instance.status() == {"status": "complete", "output": "done"}


async def test_a_wait_for_event_times_out(worker: Worker) -> None:
    instance = await worker.env.APPROVAL.create(id="a")
    await worker.advance(HOUR_S - 1)
    assert (await instance.status()).status == "waiting"

    await worker.advance(1)

    assert await instance.status() == {
        "status": "errored",
        "error": {"name": "WorkflowTimeoutError", "message": "Execution timed out after 3600000ms"},
    }
    assert steps(worker, "approval", "a") == [("approval", 1, "error")]


# --- events from a test -----------------------------------------------------------------------------


async def test_a_test_sends_the_event_an_instance_waits_for(worker: Worker) -> None:
    await worker.env.APPROVAL.create(id="a")
    await worker.advance(10 * MINUTE_S)

    instance = await worker.env.APPROVAL.get("a")
    await instance.send_event(type="approved", payload={"by": "test"})
    assert status(worker, "approval", "a") == "waiting"  # it runs on when the clock is driven
    await worker.advance(0)

    assert timeline(worker) == [(10 * MINUTE_S, "approved by test")]
    assert await instance.status() == {"status": "complete", "output": {"by": "test"}}
    assert steps(worker, "approval", "a") == [("approval", 1, "ok")]


async def test_an_event_sent_before_the_wait_is_kept_for_it(worker: Worker) -> None:
    instance = await worker.env.APPROVAL.create(id="a")
    await instance.sendEvent({"type": "other", "payload": None})
    await instance.send_event(type="approved", payload={"by": "early"})

    await worker.advance(0)

    assert await instance.status() == {"status": "complete", "output": {"by": "early"}}


async def test_pause_and_resume_from_a_test_move_the_sleep_on(worker: Worker) -> None:
    instance = await worker.env.DRIP.create(id="d", params={"n": 1})
    await worker.advance(MINUTE_S)
    await instance.pause()
    assert (await instance.status()).status == "paused"

    await worker.advance(HOUR_S)
    assert [what for _, what in timeline(worker)] == ["d first"]
    await instance.resume()
    # All but the minute slept before the pause was left of the nap.
    await worker.advance(NAP_S - MINUTE_S - 1)
    assert [what for _, what in timeline(worker)] == ["d first"]
    await worker.advance(1)
    assert timeline(worker)[1] == (HOUR_S + NAP_S, "d second")


async def test_terminate_and_restart_from_a_test(worker: Worker) -> None:
    instance = await worker.env.DRIP.create(id="d", params={"n": 1})
    await worker.advance(0)
    await instance.terminate()
    await worker.advance(HOUR_S)
    assert (await instance.status()).status == "terminated"

    await instance.restart()
    await worker.advance(NAP_S)
    assert [what for _, what in timeline(worker)] == ["d first", "d first", "d second"]
    assert await instance.status() == {"status": "complete", "output": 2}


# --- time order with crons, alarms and deliveries ----------------------------------------------------


async def test_advance_interleaves_workflows_with_crons_alarms_and_deliveries(worker: Worker) -> None:
    await worker.env.DRIP.create(id="d1", params={"n": 0})
    await worker.fetch(f"/arm/{7 * MINUTE_S * 1000}")
    await worker.env.JOBS.send("start d2", delaySeconds=3 * MINUTE_S)

    await worker.advance(16 * MINUTE_S)

    assert timeline(worker, crons=True) == [
        (0, "d1 first"),
        (3 * MINUTE_S, "message start d2"),
        (3 * MINUTE_S, "d2 first"),  # the consumer created it: it starts at that same instant
        (5 * MINUTE_S, "cron"),
        (7 * MINUTE_S, "alarm"),
        (10 * MINUTE_S, "cron"),
        (NAP_S, "d1 second"),
        (NAP_S + 90, "message after d1"),  # sent by d1's step with delaySeconds=90
        (3 * MINUTE_S + NAP_S, "d2 second"),
        (15 * MINUTE_S, "cron"),
        (3 * MINUTE_S + NAP_S + 90, "message after d2"),
    ]
    assert [(r.id, r.status) for r in worker.workflows["drip"]] == [("d1", "complete"), ("d2", "complete")]
    assert worker.clock.now_s() - worker.module.START_S == 16 * MINUTE_S


async def test_at_one_instant_crons_fire_first(worker: Worker) -> None:
    await worker.advance(4 * MINUTE_S)
    await worker.env.DRIP.create(id="d", params={"n": 0})

    await worker.advance(NAP_S)  # the nap ends at 15 minutes, as the cron fires

    assert timeline(worker, crons=True)[-2:] == [(15 * MINUTE_S, "cron"), (15 * MINUTE_S, "d second")]


async def test_workflows_lists_every_workflow_with_its_instances_oldest_first(worker: Worker) -> None:
    for id in ("b", "a", "c"):
        await worker.env.FLAKY.create(id=id, params={"succeed_on": 1})
    await worker.advance(0)

    assert list(worker.workflows) == list(WORKFLOWS)
    assert [(r.id, r.status, r.params, r.output) for r in worker.workflows["flaky"]] == [
        ("b", "complete", {"succeed_on": 1}, 1),
        ("a", "complete", {"succeed_on": 1}, 1),
        ("c", "complete", {"succeed_on": 1}, 1),
    ]
    assert worker.workflows["drip"] == []


async def test_a_worker_without_workflows_has_none(start: Start) -> None:
    plain = await start(
        "from workers import Response\nasync def fetch(request):\n    return Response('hi')\n",
        'name = "plain"\nmain = "worker.py"\n',
        workflows=(),
    )
    assert plain.workflows == {}


# --- drain() ----------------------------------------------------------------------------------------


async def test_drain_delivers_messages_and_leaves_workflows_alone(worker: Worker) -> None:
    await worker.env.DRIP.create(id="d1", params={"n": 0})
    await worker.advance(0)
    await worker.env.JOBS.send("start d2", delaySeconds=HOUR_S)

    await worker.drain()

    # The clock jumped an hour to the message; the sleeping d1 and the new d2 did not run.
    assert timeline(worker) == [(0, "d1 first"), (HOUR_S, "message start d2")]
    assert [(r.id, r.status) for r in worker.workflows["drip"]] == [("d1", "waiting"), ("d2", "queued")]

    await worker.advance(0)
    assert sorted(timeline(worker)[2:]) == [(HOUR_S, "d1 second"), (HOUR_S, "d2 first")]


# --- the step.do form follows the compatibility date ---------------------------------------------------

FORMS = """
from workers import WorkerEntrypoint, WorkflowEntrypoint


class Legacy(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("base")
        async def base():
            return 20

        @step.do("double", depends=[base])
        async def double(value, ctx):
            return value * 2 + ctx.attempt

        return await double()


class Implicit(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("base")
        async def base():
            return 20

        @step.do("double")
        async def double(base, ctx):
            return base * 2 + ctx.attempt

        return await double()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        pass
"""


def dated(date: str) -> str:
    return (
        f'name = "forms"\nmain = "worker.py"\ncompatibility_date = "{date}"\n'
        'compatibility_flags = ["python_workers"]\n'
    )


@pytest.mark.parametrize(
    ("date", "workflow"),
    [("2026-01-01", "legacy"), ("2026-03-01", "implicit")],
)
async def test_each_date_runs_its_step_do_form(start: Start, date: str, workflow: str) -> None:
    worker = await start(FORMS, dated(date), workflows=("legacy", "implicit"))
    instance = await worker.env[workflow.upper()].create()
    await worker.advance(0)
    assert await instance.status() == {"status": "complete", "output": 41}


@pytest.mark.parametrize(
    ("date", "workflow", "refusal"),
    [
        ("2026-01-01", "implicit", "no 'depends' list provided"),
        ("2026-03-01", "legacy", "takes no depends="),
    ],
)
async def test_each_date_refuses_the_other_step_do_form(
    start: Start, date: str, workflow: str, refusal: str
) -> None:
    worker = await start(FORMS, dated(date), workflows=("legacy", "implicit"))
    instance = await worker.env[workflow.upper()].create()
    await worker.advance(0)
    status = await instance.status()
    assert status.status == "errored"
    assert status.error.name == "TypeError" and refusal in status.error.message
