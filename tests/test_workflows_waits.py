"""step.sleep, step.sleep_until and step.wait_for_event on the workerlab clock, events sent early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_workflows_support import lab, workflow

from workerlab.clock import utc_from_ms
from workerlab.workflows.run import MAX_SLEEP_MS


@pytest.mark.parametrize("duration", ["1 hour", 3_600_000])
async def test_sleep_waits_on_the_clock(duration: Any) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await step.sleep("nap", duration)
        return "awake"

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance(3599)
        assert (await instance.status()).status == "waiting"
        assert not wf.engine._active  # a sleeping instance holds no task
        await wf.advance(1)
        assert (await instance.status()).output == "awake"
        assert [(s.name, s.type, s.outcome) for s in wf.records()[0].steps] == [("nap", "sleep", "ok")]


async def test_sleep_until_a_datetime_or_epoch_ms_and_a_time_already_past() -> None:
    woke: dict[str, float] = {}  # when each sleep was first seen over (replays pass it again later)

    async def run(self: Any, event: Any, step: Any) -> Any:
        start = event.timestamp
        await step.sleep_until("aware", start + timedelta(minutes=5))
        woke.setdefault("aware", wf.clock.now_s())
        await step.sleep_until("naive", (start + timedelta(minutes=10)).replace(tzinfo=None))
        woke.setdefault("naive", wf.clock.now_s())
        await step.sleep_until("ms", round(start.timestamp() * 1000) + 15 * 60_000)
        woke.setdefault("ms", wf.clock.now_s())
        await step.sleep_until("past", datetime(2000, 1, 1, tzinfo=UTC))
        woke.setdefault("past", wf.clock.now_s())

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        start = wf.clock.now_s()
        await wf.advance(3600)
        assert {name: round(at - start) for name, at in woke.items()} == {
            "aware": 300,
            "naive": 600,
            "ms": 900,
            "past": 900,
        }
        assert (await instance.status()).status == "complete"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda step: step.sleep("nap", "forever"), "cannot read 'forever' as a duration"),
        (lambda step: step.sleep("nap", MAX_SLEEP_MS + 1), "longer than the longest sleep"),
        (lambda step: step.sleep_until("nap", "tomorrow"), "expected a datetime or epoch milliseconds"),
        (lambda step: step.wait_for_event("e", ""), "expected the event type as a non-empty str"),
        (lambda step: step.wait_for_event("e", "go", timeout="a while"), "timeout: cannot read"),
    ],
)
async def test_bad_waits_error_the_instance(call: Any, message: str) -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await call(step)

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        status = await instance.status()
        assert status.status == "errored" and message in status.error.message


def approval(timeout: Any = None, catch: bool = False) -> type:
    async def run(self: Any, event: Any, step: Any) -> Any:
        try:
            if timeout is None:
                got = await step.wait_for_event("approval", "approved")
            else:
                got = await step.wait_for_event("approval", "approved", timeout=timeout)
        except Exception as error:
            if not catch:
                raise
            return f"gave up: {type(error).__name__}"
        return {"payload": got.payload, "type": got.type, "at": got.timestamp}

    return workflow(run)


async def test_wait_for_event_receives_the_event() -> None:
    async with lab() as wf:
        instance = await wf.register(approval("1 hour")).create()
        await wf.advance(60)
        assert (await instance.status()).status == "waiting"
        await instance.send_event(type="approved", payload={"by": "ann"})
        sent_ms = wf.clock.now_ms()
        await wf.advance()
        output = (await instance.status()).output
        assert output == {"payload": {"by": "ann"}, "type": "approved", "at": utc_from_ms(sent_ms)}
        assert output.payload.by == "ann" and output.at.tzinfo is not None


async def test_wait_for_event_times_out() -> None:
    async with lab() as wf:
        instance = await wf.register(approval("1 hour")).create()
        await wf.advance(3599)
        assert (await instance.status()).status == "waiting"
        await wf.advance(1)
        assert await instance.status() == {
            "status": "errored",
            "error": {"name": "WorkflowTimeoutError", "message": "Execution timed out after 3600000ms"},
        }


async def test_wait_for_event_default_timeout_is_24_hours_and_can_be_caught() -> None:
    async with lab() as wf:
        instance = await wf.register(approval(catch=True)).create()
        await wf.advance(24 * 3600 - 1)
        assert (await instance.status()).status == "waiting"
        await wf.advance(1)
        assert (await instance.status()).output == "gave up: WorkflowTimeoutError"


async def test_events_sent_before_the_wait_are_kept_in_order_by_type() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        await step.sleep("first", "1 minute")
        one = await step.wait_for_event("one", "go")
        two = await step.wait_for_event("two", "go")
        other = await step.wait_for_event("three", "other", timeout="1 second")
        return [one.payload, two.payload, other.payload]

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await instance.send_event(type="go", payload=1)
        await instance.sendEvent({"type": "other", "payload": "x"})
        await instance.send_event({"type": "go"}, payload=2)
        await wf.advance(1)
        assert (await instance.status()).status == "waiting"
        await wf.advance(60)
        assert (await instance.status()).output == [1, 2, "x"]


async def test_an_event_while_the_run_is_in_a_step_is_not_lost() -> None:
    async def run(self: Any, event: Any, step: Any) -> Any:
        @step.do("send to self")
        async def send() -> None:
            handle = await self.env["FLOW"].get(event.instanceId)
            await handle.send_event(type="ping", payload="pong")

        await send()
        return (await step.wait_for_event("ping", "ping")).payload

    async with lab() as wf:
        instance = await wf.register(workflow(run)).create()
        await wf.advance()
        assert (await instance.status()).output == "pong"


@pytest.mark.parametrize(
    ("options", "message"),
    [({"type": ""}, "expected type= as a non-empty str"), ({"type": "go", "payload": object()}, "payload")],
)
async def test_bad_events_are_refused(options: dict[str, Any], message: str) -> None:
    async with lab() as wf:
        instance = await wf.register(approval()).create()
        with pytest.raises(Exception, match=message):
            await instance.send_event(**options)
