"""step.do in both of Cloudflare's Python forms: names, dependencies, the step context, results,
retries with each backoff, timeouts and NonRetryableError — all on a fake clock."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from test_workflows_support import lab, workflow

from workerlab.bindings.results import JsObject
from workerlab.workflows import NonRetryableError
from workerlab.workflows.config import DEFAULT_RETRY_DELAY_MS, DEFAULT_RETRY_LIMIT, DEFAULT_STEP_TIMEOUT_MS
from workerlab.workflows.engine import DEFAULT_STEP_LIMIT


async def test_current_form_names_dependencies_and_context() -> None:
    seen: list[Any] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do()
        async def order() -> dict[str, Any]:
            seen.append("order")
            return {"id": event.payload.order, "lines": (1, 2)}

        @step.do("price", config={"retries": {"limit": 1, "delay": 5}})
        async def price(order: Any, ctx: Any) -> int:
            seen.append(("price", ctx.attempt, ctx.step.name, ctx.step.count, ctx.config.retries.limit))
            return len(order.lines) * 10

        @step.do()
        async def receipt(order: Any, price: Any) -> str:
            return f"{order['id']}:{price}"

        return await receipt()

    async with lab() as wf:
        binding = wf.register(workflow(run))
        instance = await binding.create(params={"order": "o-1"})
        await wf.advance()
        assert await instance.status() == {"status": "complete", "output": "o-1:20"}
        # `order` ran once although two steps depend on it; the context came in as `ctx`.
        assert seen == ["order", ("price", 1, "price", 1, 1)]
        assert [s.name for s in wf.records()[0].steps] == ["order", "price", "receipt"]


async def test_legacy_form_with_depends_in_order_and_concurrent() -> None:
    started: list[str] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("dependency 1")
        async def dep_1() -> str:
            started.append("1")
            await asyncio.sleep(0)
            return "a"

        @step.do("dependency 2")
        async def dep_2() -> str:
            started.append("2")
            return "b"

        @step.do("final", depends=[dep_2, dep_1], concurrent=True)
        async def final(second: str, ctx: Any, first: str) -> str:
            return second + first + str(ctx.attempt)

        return await final()

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        assert (await instance.status()).output == "ba1"
        assert sorted(started) == ["1", "2"]


async def test_a_plain_def_step_and_a_plain_result() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("sync")
        def sync() -> list[Any]:
            return [("t", 1), {"k": {"deep": True}}]

        value = await sync()
        assert value[1].k.deep is True and value[0] == ["t", 1]  # tuples come back as lists
        return value

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        assert (await instance.status()).output == [["t", 1], {"k": {"deep": True}}]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("unexpected", "Received unexpected parameter missing"),
        ("count", "declares 2 non-ctx parameter(s) but 'depends' has 1 item(s)"),
        ("bare", "step.do() is a decorator factory"),
        ("callback", "depends= takes a list of steps"),
        ("config", "unknown key 'retry'"),
        ("name", "exceeds max length (256 chars)"),
    ],
)
async def test_misused_step_do_errors_the_instance_with_a_clear_message(build: str, message: str) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do()
        async def one() -> int:
            return 1

        if build == "unexpected":

            @step.do()
            async def two(one: int, missing: int) -> int:
                return one

            return await two()
        if build == "count":

            @step.do("two", depends=[one])
            async def two_of(a: int, b: int) -> int:
                return a

            return await two_of()
        if build == "bare":
            step.do(one)
        if build == "callback":
            step.do("x", lambda: 1)
        if build == "config":
            return await step.do("x", config={"retry": {}})(lambda: 1)()
        return await step.do("x" * 257)(lambda: 1)()

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        status = await instance.status()
        assert status.status == "errored"
        assert message in status.error.message


async def test_repeated_step_names_are_separate_steps() -> None:
    runs: list[int] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        def adder(i: int) -> Any:
            @step.do("add")
            async def add() -> int:
                runs.append(i)
                return i

            return add

        total = 0
        for index in range(3):
            total += await adder(index)()
        await step.sleep("pause", "1 minute")
        return total

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(60)
        assert (await instance.status()).output == 3
        assert runs == [0, 1, 2]  # replay after the sleep ran none of them again
        assert [s.name for s in wf.records()[0].steps] == ["add", "add", "add", "pause"]


def failing(times: int, config: dict[str, Any] | None, log: list[float], clock: Any) -> type:
    """A workflow whose one step fails ``times`` times (noting the clock at each attempt)."""

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("flaky", config=config)
        async def flaky(ctx: Any) -> str:
            log.append(clock.now_s())
            if ctx.attempt <= times:
                raise ConnectionError(f"attempt {ctx.attempt} failed")
            return "done"

        return await flaky()

    return workflow(run)


@pytest.mark.parametrize(
    ("backoff", "gaps_s"),
    [("constant", [10, 10, 10]), ("linear", [10, 20, 30]), ("exponential", [10, 20, 40])],
)
async def test_retries_wait_the_exact_backoff_delays(backoff: str, gaps_s: list[int]) -> None:
    log: list[float] = []
    config = {"retries": {"limit": 3, "delay": "10 seconds", "backoff": backoff}}
    async with lab() as wf:
        instance = await wf.register(failing(99, config, log, wf.clock)).create()
        start = wf.clock.now_s()
        await wf.advance(sum(gaps_s) - 1)
        assert len(log) == 3 and (await instance.status()).status == "running"
        await wf.advance(1)
        assert [b - a for a, b in itertools.pairwise(log)] == gaps_s
        assert log[0] == start
        status = await instance.status()
        assert status.status == "errored"
        assert status.error == {"name": "ConnectionError", "message": "attempt 4 failed"}
        assert wf.outcomes() == [
            ("flaky", 1, "retry"),
            ("flaky", 2, "retry"),
            ("flaky", 3, "retry"),
            ("flaky", 4, "error"),
        ]
        assert wf.records()[0].steps[0].attempts == 4


async def test_default_retries_are_five_exponential_from_ten_seconds() -> None:
    log: list[float] = []
    async with lab() as wf:
        instance = await wf.register(failing(99, None, log, wf.clock)).create()
        await wf.advance(10_000)
        gaps = [round(b - a) for a, b in itertools.pairwise(log)]
        assert len(log) == DEFAULT_RETRY_LIMIT + 1
        assert gaps == [DEFAULT_RETRY_DELAY_MS // 1000 * 2**n for n in range(DEFAULT_RETRY_LIMIT)]
        assert (await instance.status()).status == "errored"


async def test_a_step_that_recovers_on_a_retry_succeeds() -> None:
    log: list[float] = []
    config = {"retries": {"limit": 2, "delay": 0}}
    async with lab() as wf:
        instance = await wf.register(failing(2, config, log, wf.clock)).create()
        await wf.advance()
        assert (await instance.status()).output == "done"
        assert len(log) == 3 and wf.outcomes("flaky")[-1] == ("flaky", 3, "ok")


async def test_step_timeout_fails_the_attempt_on_the_workerlab_clock() -> None:
    attempts: list[int] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("stuck", config={"timeout": "1 minute", "retries": {"limit": 1, "delay": "5 seconds"}})
        async def stuck(ctx: Any) -> None:
            attempts.append(ctx.attempt)
            await asyncio.Event().wait()

        return await stuck()

    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(59)
        assert attempts == [1] and (await instance.status()).status == "running"
        await wf.advance(1)
        assert wf.outcomes() == [("stuck", 1, "retry")]
        await wf.advance(65)
        status = await instance.status()
        assert attempts == [1, 2]
        assert status.status == "errored"
        assert status.error == {
            "name": "WorkflowTimeoutError",
            "message": "Execution timed out after 60000ms",
        }


async def test_default_step_timeout_is_ten_minutes() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("slow", config={"retries": {"limit": 0, "delay": 0}})
        async def slow() -> None:
            await asyncio.Event().wait()

        return await slow()

    async with lab(settle_s=0.01) as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(DEFAULT_STEP_TIMEOUT_MS / 1000 - 1)
        assert (await instance.status()).status == "running"
        await wf.advance(1)
        assert (await instance.status()).status == "errored"


async def test_non_retryable_error_fails_the_step_and_the_instance_at_once() -> None:
    calls: list[int] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("charge")
        async def charge() -> None:
            calls.append(1)
            raise NonRetryableError("card declined", "PaymentDeclined")

        return await charge()

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(3600)
        assert calls == [1]
        assert wf.outcomes() == [("charge", 1, "error")]
        assert await instance.status() == {
            "status": "errored",
            "error": {"name": "PaymentDeclined", "message": "card declined"},
        }


async def test_a_caught_step_error_replays_the_same_way() -> None:
    caught: list[tuple[str, str]] = []

    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("bad", config={"retries": {"limit": 0, "delay": 0}})
        async def bad() -> None:
            raise ValueError("no")

        @step.do("fatal")
        async def fatal() -> None:
            raise NonRetryableError("stop")

        @step.do("odd", config={"retries": {"limit": 0, "delay": 0}})
        async def odd() -> None:
            raise KeyError("k")

        for fn in (bad, fatal, odd):
            try:
                await fn()
            except Exception as error:
                caught.append((type(error).__name__, str(error)))
        await step.sleep("then", "1 second")
        return "survived"

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(1)
        assert (await instance.status()).output == "survived"
        first_run, replay = caught[:3], caught[3:]
        assert first_run == replay
        assert first_run == [
            ("ValueError", "ValueError: no"),
            ("NonRetryableError", "stop"),
            ("KeyError", "'k'"),
        ]


async def test_a_result_that_cannot_be_stored_fails_without_retries() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("object")
        async def make() -> object:
            return object()

        return await make()

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        status = await instance.status()
        assert status.status == "errored" and status.error.name == "TypeError"
        assert (
            'the value returned by step "object" cannot carry a value of type object' in status.error.message
        )
        assert wf.outcomes() == [("object", 1, "error")]


async def test_the_step_limit() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        for _ in range(4):
            await step.do("s")(lambda: None)()

    async with lab() as wf:
        instance = await wf.register(workflow(run), step_limit=3).create()
        await wf.advance()
        status = await instance.status()
        assert status.error.message.startswith("The limit of 3 steps has been reached")
    assert DEFAULT_STEP_LIMIT == 10_000


async def test_step_context_and_event() -> None:
    seen: dict[str, Any] = {}

    async def run(self: Any, event: Any, step: Any) -> Any:
        seen["event"] = event
        seen["env"] = self.env

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create(id="abc", params={"x": [1]})
        created = wf.clock.now_s()
        await wf.advance(5)
        event = seen["event"]
        assert isinstance(event, JsObject) and isinstance(event.payload, JsObject)
        assert event.payload.x == [1] and event["payload"] == {"x": [1]}
        assert event.instanceId == instance.id == "abc" and event.workflowName == "flow"
        assert event.timestamp.tzinfo is not None and event.timestamp.timestamp() == created
        assert seen["env"] is wf.env


@pytest.mark.parametrize(
    ("form", "style", "expected"),
    [
        ("implicit", "names", "ok"),
        ("implicit", "depends", "takes no depends= for this worker"),
        ("legacy", "depends", "ok"),
        ("legacy", "names", "has non-ctx parameter(s) but no 'depends' list provided"),
        ("legacy", "unnamed", "needs the step name for this worker"),
        ("both", "names", "ok"),
        ("both", "depends", "ok"),
    ],
)
async def test_the_step_form_a_compatibility_date_gives(form: str, style: str, expected: str) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("first")
        async def first() -> int:
            return 1

        if style == "names":

            @step.do("second")
            async def second(first: int) -> int:
                return first + 1

        elif style == "depends":

            @step.do("second", depends=[first])
            async def second(value: int) -> int:
                return value + 1

        else:

            @step.do()
            async def second() -> int:
                return 2

        return await second()

    async with lab() as wf:
        instance = await wf.register(workflow(run), step_form=form).create()
        await wf.advance()
        status = await instance.status()
        if expected == "ok":
            assert status == {"status": "complete", "output": 2}
        else:
            assert status.status == "errored" and expected in status.error.message
