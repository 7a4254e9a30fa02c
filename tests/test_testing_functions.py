"""The ``cloudflare:test`` counterparts in workerlab.testing, used on handlers a test calls directly."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from workerlab.clock import SystemClock
from workerlab.compat.workers import WorkerEntrypoint
from workerlab.testing import (
    QueueResult,
    RetryBatch,
    RetryMessage,
    create_execution_context,
    create_message_batch,
    create_scheduled_controller,
    get_queue_result,
    wait_on_execution_context,
)

pytest_plugins = ["pytester"]

ENV = SimpleNamespace(PREFIX="seen:")
MESSAGES = [
    {"id": "a" * 32, "timestamp": datetime(2026, 1, 1, tzinfo=UTC), "attempts": 1, "body": "keep"},
    {"id": "b" * 32, "timestamp": 1_767_225_600_000, "attempts": 3, "body": "again"},
    {"id": "c" * 32, "timestamp": 1_767_225_600_000, "attempts": 1, "body": "other"},
]


# The same consumer and cron job in the three handler styles.
SEEN: list[Any] = []


async def record(value: Any) -> None:
    await asyncio.sleep(0)
    SEEN.append(value)


async def consume(batch: Any, env: Any, ctx: Any) -> None:
    for message in batch.messages:
        ctx.waitUntil(record(env.PREFIX + message.body))
        if message.body == "keep":
            message.ack()
        elif message.body == "again":
            message.retry(delaySeconds=60)
    batch.retryAll()


async def run_cron(controller: Any, env: Any, ctx: Any) -> None:
    ctx.waitUntil(record((controller.cron, controller.scheduledTime, controller.type)))
    controller.noRetry()


class Default(WorkerEntrypoint):
    async def queue(self, batch: Any, env: Any, ctx: Any) -> None:
        await consume(batch, self.env, self.ctx)

    async def scheduled(self, controller: Any, env: Any, ctx: Any) -> None:
        await run_cron(controller, self.env, self.ctx)


async def entrypoint_queue(batch: Any, env: Any, ctx: Any) -> None:
    await Default(ctx, env).queue(batch, env, ctx)


async def entrypoint_scheduled(controller: Any, env: Any, ctx: Any) -> None:
    await Default(ctx, env).scheduled(controller, env, ctx)


on_queue, on_scheduled = consume, run_cron
STYLES = {
    "entrypoint class": (entrypoint_queue, entrypoint_scheduled),
    "module functions": (consume, run_cron),
    "legacy on_ names": (on_queue, on_scheduled),
}


@pytest.fixture(autouse=True)
def fresh_seen() -> None:
    SEEN.clear()


@pytest.mark.parametrize("style", list(STYLES))
async def test_get_queue_result_reports_a_directly_called_queue_handler(style: str) -> None:
    handler, _ = STYLES[style]
    batch = create_message_batch("jobs", MESSAGES)
    ctx = create_execution_context()
    await handler(batch, ENV, ctx)
    result = await get_queue_result(batch, ctx)
    assert result == QueueResult(
        outcome="ok",
        ack_all=False,
        retry_batch=RetryBatch(retry=True, delay_seconds=None),
        explicit_acks=["a" * 32],
        retry_messages=[RetryMessage("b" * 32, 60)],
        error=None,
    )
    # get_queue_result waited for the waitUntil work.
    assert sorted(SEEN) == ["seen:again", "seen:keep", "seen:other"]


@pytest.mark.parametrize("style", list(STYLES))
async def test_a_scheduled_handler_called_directly(style: str) -> None:
    _, handler = STYLES[style]
    controller = create_scheduled_controller("0 * * * *", 1_767_229_200_000)
    ctx = create_execution_context()
    await handler(controller, ENV, ctx)
    await wait_on_execution_context(ctx)
    assert SEEN == [("0 * * * *", 1_767_229_200_000, "scheduled")]
    assert controller.retry_disabled is True


async def test_get_queue_result_is_an_exception_outcome_when_wait_until_work_failed() -> None:
    async def broken() -> None:
        raise OSError("disk full")

    batch = create_message_batch("jobs", [{"body": "x"}])
    ctx = create_execution_context()
    ctx.waitUntil(broken())
    batch.messages[0].ack()
    result = await get_queue_result(batch, ctx)
    assert (result.outcome, str(result.error), result.explicit_acks) == (
        "exception",
        "disk full",
        [batch.messages[0].id],
    )


async def test_wait_on_execution_context_raises_the_first_failure_after_all_work_ended() -> None:
    finished: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        finished.append("slow")

    async def broken() -> None:
        raise ValueError("first failure")

    ctx = create_execution_context()
    ctx.waitUntil(broken())
    ctx.waitUntil(slow())
    with pytest.raises(ValueError, match="first failure"):
        await wait_on_execution_context(ctx)
    assert finished == ["slow"]


async def test_wait_on_execution_context_without_work_returns_at_once() -> None:
    await wait_on_execution_context(create_execution_context())


def test_create_message_batch_fills_in_ids_timestamps_and_attempts() -> None:
    before_ms = SystemClock().now_ms()
    batch = create_message_batch("jobs", [{"body": {"n": 1}}, {"body": "two", "attempts": 4}])
    after_ms = SystemClock().now_ms()
    assert batch.queue == "jobs"
    first, second = batch.messages
    assert (first.body, first.attempts, second.body, second.attempts) == ({"n": 1}, 1, "two", 4)
    assert first.id != second.id and all(len(m.id) == 32 and int(m.id, 16) >= 0 for m in batch.messages)
    assert before_ms <= first.timestamp_ms <= after_ms
    assert first.timestamp.tzinfo is not None


def test_create_message_batch_keeps_given_ids_timestamps_and_attempts() -> None:
    batch = create_message_batch("jobs", MESSAGES)
    assert [(m.id, m.timestamp, m.attempts, m.body) for m in batch.messages] == [
        ("a" * 32, datetime(2026, 1, 1, tzinfo=UTC), 1, "keep"),
        ("b" * 32, datetime(2026, 1, 1, tzinfo=UTC), 3, "again"),
        ("c" * 32, datetime(2026, 1, 1, tzinfo=UTC), 1, "other"),
    ]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"id": "x"}, "dict with keys id, timestamp, attempts and body"),
        ({"body": 1, "priority": 2}, "dict with keys id, timestamp, attempts and body"),
        ({"body": 1, "attempts": 0}, "attempts must be an int >= 1, got 0"),
        ({"body": 1, "timestamp": "yesterday"}, "timestamp must be a datetime or epoch ms"),
        ("just a body", "must be a dict with a 'body' key, got str"),
    ],
)
def test_create_message_batch_refuses_malformed_messages(message: Any, error: str) -> None:
    with pytest.raises(TypeError, match=error):
        create_message_batch("jobs", [message])


def test_create_scheduled_controller_defaults_to_no_cron_and_the_current_time() -> None:
    before_ms = SystemClock().now_ms()
    controller = create_scheduled_controller()
    after_ms = SystemClock().now_ms()
    assert controller.cron == "" and controller.type == "scheduled"
    assert before_ms <= controller.scheduledTime <= after_ms
    assert controller.scheduled_time == controller.scheduledTime


def test_create_scheduled_controller_takes_a_datetime() -> None:
    controller = create_scheduled_controller(cron="*/5 * * * *", scheduled_time=datetime(2026, 2, 3, 4, 5))
    assert controller.scheduledTime == int(datetime(2026, 2, 3, 4, 5, tzinfo=UTC).timestamp() * 1000)


def test_a_user_test_can_import_the_worker_module_and_call_its_handler(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
        'filterwarnings = ["error"]\npythonpath = ["src"]\n'
    )
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "app.py").write_text(
        textwrap.dedent(
            """
            from workers import WorkerEntrypoint

            class Default(WorkerEntrypoint):
                async def queue(self, batch, env, ctx):
                    for message in batch.messages:
                        if message.attempts > env.MAX_ATTEMPTS:
                            message.ack()
                        else:
                            message.retry(delaySeconds=2 ** message.attempts)
            """
        )
    )
    pytester.makepyfile(
        test_app="""
        from types import SimpleNamespace

        from app import Default
        from workerlab.testing import create_execution_context, create_message_batch, get_queue_result


        async def test_backoff():
            env = SimpleNamespace(MAX_ATTEMPTS=3)
            batch = create_message_batch("jobs", [
                {"id": "1" * 32, "timestamp": 0, "attempts": 2, "body": "x"},
                {"id": "2" * 32, "timestamp": 0, "attempts": 4, "body": "y"},
            ])
            ctx = create_execution_context()
            await Default(ctx, env).queue(batch, env, ctx)
            result = await get_queue_result(batch, ctx)
            assert result.explicit_acks == ["2" * 32]
            assert [(r.msg_id, r.delay_seconds) for r in result.retry_messages] == [("1" * 32, 4)]
        """
    )
    # In a fresh process: `import workers` must work before any worker was loaded.
    result = pytester.runpytest_subprocess("-p", "no:hypothesispytest", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
