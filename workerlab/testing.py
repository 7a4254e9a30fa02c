"""Drive a worker in-process from tests: the harness behind the ``worker`` fixture.

Everything runs the same code as ``workerlab dev`` (same runtime, broker, rules and
scheduler) with in-memory state and a :class:`~workerlab.clock.FakeClock`. The free
functions at the end mirror ``cloudflare:test`` for tests that call a handler directly.
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .clock import FAKE_CLOCK_START_S, FakeClock, SystemClock, to_epoch_ms, to_epoch_s
from .context import BackgroundWork, ExecutionContext
from .cron import CronScheduler, ScheduledController, ScheduledResult
from .limits import WAIT_UNTIL_GRACE_S
from .queues.message import MessageBatch, QueueResult, RetryBatch, RetryMessage
from .runtime import Runtime
from .tracebacks import user_traceback

if TYPE_CHECKING:
    from .compat.headers import HeadersInit
    from .compat.workers import Response
    from .queues.broker import QueueView

__all__ = [
    "QueueResult",
    "RetryBatch",
    "RetryMessage",
    "ScheduledResult",
    "Worker",
    "create_execution_context",
    "create_message_batch",
    "create_scheduled_controller",
    "get_queue_result",
    "wait_on_execution_context",
]

logger = logging.getLogger("workerlab")

#: Origin a path passed to ``worker.fetch`` is resolved against.
DEFAULT_ORIGIN = "http://localhost"
#: Rounds of "fire what is due" at one instant before ``advance`` gives up (a handler re-arming forever).
MAX_ROUNDS_AT_ONE_INSTANT = 10_000


class Worker:
    """A worker loaded in-process with in-memory state and a fake clock (the ``worker`` fixture).

    ``env`` is the env its handlers see, ``clock`` the :class:`FakeClock` everything reads,
    ``runtime`` the :class:`~workerlab.runtime.Runtime` that ``workerlab dev`` would run.
    """

    def __init__(self, runtime: Runtime, clock: FakeClock) -> None:
        self.runtime = runtime
        self.clock = clock
        self.env = runtime.env
        self._scheduler: CronScheduler | None = runtime.scheduler

    @classmethod
    async def start(
        cls,
        config_path: str | Path,
        *,
        env: str | None = None,
        vars: Mapping[str, Any] | None = None,
        now: datetime | float | None = None,
    ) -> Worker:
        """Load the worker of ``config_path`` as ``workerlab dev`` does, but in memory with a fake clock.

        The clock starts at 2026-01-01T00:00:00Z, or at ``now`` (a datetime, naive meaning UTC,
        or epoch seconds). ``vars`` override ``[vars]`` and ``.dev.vars``. Each D1 database
        starts with its ``migrations_dir``'s migrations applied.
        """
        from .config import load_config

        config = load_config(Path(config_path), env=env)
        clock = FakeClock(_start_s(now))
        runtime = Runtime.load(config, clock=clock, persist_dir=None, extra_vars=vars, record_history=True)
        try:
            runtime.apply_d1_migrations()
        except BaseException:
            await runtime.close(grace_s=0)
            raise
        return cls(runtime, clock)

    async def close(self) -> list[BaseException]:
        """Wait for pending waitUntil work, close the stores; return the failures not yet reported.

        Work still running after ``WAIT_UNTIL_GRACE_S`` is reported as a failure too.
        """
        failures = await self.runtime.work.settle(timeout_s=WAIT_UNTIL_GRACE_S)
        if self.runtime.work.pending:
            failures.append(
                TimeoutError(
                    f"{self.runtime.work.pending} waitUntil task(s) still running {WAIT_UNTIL_GRACE_S:g} s "
                    "after the test ended"
                )
            )
        await self.runtime.close(grace_s=0)
        from .compat.fetch import aclose_fetch_client

        await aclose_fetch_client()
        return failures

    # --- events -----------------------------------------------------------------------------

    async def fetch(
        self,
        url_or_path: str,
        *,
        method: str = "GET",
        headers: HeadersInit = None,
        body: str | bytes | None = None,
        json: Any = None,
    ) -> Response:
        """Call the fetch handler and return its ``Response``; waitUntil work may still be running.

        A path is resolved against ``http://localhost``. ``json`` is sent as a JSON body with
        ``content-type: application/json``. An exception in the handler is raised here, with
        the handler's own traceback.
        """
        __tracebackhide__ = True
        from .compat.workers import Headers, Request

        url = url_or_path if "://" in url_or_path else DEFAULT_ORIGIN + "/" + url_or_path.lstrip("/")
        if json is not None:
            if body is not None:
                raise TypeError("worker.fetch() takes body= or json=, not both")
            body = jsonlib.dumps(json)
            headers = Headers(headers)
            if not headers.has("content-type"):
                headers.append("content-type", "application/json")
        request = Request(url, method=method, headers=headers, body=body)
        try:
            result = await self.runtime.fetch(request)
        except Exception as error:
            error.with_traceback(user_traceback(error.__traceback__))
            raise
        return await self._response(result)

    async def queue(self, queue_name: str, messages: Iterable[Any]) -> QueueResult:
        """Hand one batch straight to the queue handler, wait for its waitUntil work, and return
        what it decided. A handler's exception is the result's ``error``, not raised.

        Each item of ``messages`` is a body, except a dict whose keys are exactly ``id``,
        ``timestamp`` (datetime or epoch ms), ``attempts`` and ``body``: a whole message.
        """
        if isinstance(messages, str | bytes | Mapping) or not isinstance(messages, Iterable):
            raise TypeError(
                f"worker.queue() takes a list of messages, got {type(messages).__name__}; "
                "wrap a single body in a list"
            )
        self.runtime.worker.invoker("queue")  # no queue handler: a clear error, not an outcome
        consumers = [consumer.queue for consumer in self.runtime.config.consumers]
        if queue_name not in consumers:
            logger.warning(
                'worker.queue(): no consumer of queue "%s" in %s (consumed queues: %s)',
                queue_name,
                self.runtime.config.path,
                ", ".join(consumers) or "none",
            )
        batch = MessageBatch.from_items(queue_name, messages, now_ms=self.clock.now_ms())
        outcome, error = await self.runtime.run_queue_batch(batch)
        return batch._result(outcome, error)

    async def scheduled(
        self, cron: str = "", scheduled_time: int | datetime | None = None
    ) -> ScheduledResult:
        """Run the scheduled handler once and wait for its waitUntil work.

        ``scheduled_time`` (epoch ms or a datetime) defaults to the fake clock's now. A
        handler's exception is the result's ``error``, not raised.
        """
        self.runtime.worker.invoker("scheduled")
        time_ms = (
            self.clock.now_ms() if scheduled_time is None else to_epoch_ms(scheduled_time, "scheduled_time")
        )
        return await self.runtime.scheduled(cron, time_ms)

    # --- time and queues ---------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait for every pending waitUntil task; raise the first failure (the others are logged)."""
        failures = await self.runtime.work.settle()
        if failures:
            raise failures[0]

    async def drain(self) -> None:
        """Deliver until no message is pending in a queue that has a consumer, with the real
        batching, ack and retry rules, jumping the clock to each next due batch.

        Pending waitUntil work of fetch handlers finishes first (its failures are kept for
        :meth:`settle` and teardown). Crons do not fire; handler exceptions are outcomes.
        """
        broker = self.runtime.broker
        while True:
            await self._finish_background_work()
            if broker is not None:
                await broker.drain()
            if not self.runtime.work.pending:
                return

    async def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``: every cron due in (now, now + seconds] fires once
        per due time and every batch due by then is delivered, in time order (at one instant,
        crons first). Returns when all of that, and its waitUntil work, has finished.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"worker.advance() takes a number of seconds >= 0, got {seconds!r}")
        await self._finish_background_work()
        scheduler = self._current_scheduler()
        broker = self.runtime.broker
        target_s = self.clock.now_s() + seconds
        rounds, last_s = 0, self.clock.now_s()
        while True:
            cron_due_s = scheduler.next_due_s() if scheduler is not None else None
            queue_due_s = broker.next_due_s() if broker is not None else None
            due = [t for t in (cron_due_s, queue_due_s) if t is not None and t <= target_s]
            if not due:
                break
            when_s = max(min(due), self.clock.now_s())
            rounds = rounds + 1 if when_s == last_s else 0
            if rounds > MAX_ROUNDS_AT_ONE_INSTANT:
                raise RuntimeError(
                    f"worker.advance() found work due at {when_s} s {MAX_ROUNDS_AT_ONE_INSTANT} times over: "
                    "a handler keeps sending or retrying without delay"
                )
            last_s = when_s
            self.clock.set(when_s)
            if scheduler is not None and cron_due_s is not None and cron_due_s <= when_s:
                await scheduler.run_due()
            if broker is not None and queue_due_s is not None and queue_due_s <= when_s:
                await broker.run_due()
            await self._finish_background_work()
        self.clock.set(target_s)

    @property
    def module(self) -> ModuleType:
        """The worker's main module as loaded for this test (fresh each time), e.g. to monkeypatch it."""
        return self.runtime.worker.module

    @property
    def queues(self) -> Mapping[str, QueueView]:
        """Per queue of the config: ``pending``, ``acked``, ``dead_lettered``, ``dropped`` and
        ``deliveries``, lists of records with ``id``, ``body``, ``attempts`` and ``timestamp``."""
        return _QueueViews(self.runtime)

    # --- helpers -----------------------------------------------------------------------------

    async def _finish_background_work(self) -> None:
        """Wait for pending waitUntil work, keeping its failures for :meth:`settle` and teardown."""
        work = self.runtime.work
        if work.pending:
            for failure in await work.settle():
                work.report(failure)

    def _current_scheduler(self) -> CronScheduler | None:
        """The scheduler, past any cron time the clock was moved over without :meth:`advance`
        (by :meth:`drain`, or by the test itself): those runs were missed, not late."""
        scheduler = self._scheduler
        if (
            scheduler is not None
            and (due_s := scheduler.next_due_s()) is not None
            and due_s <= self.clock.now_s()
        ):
            scheduler = self._scheduler = CronScheduler(scheduler.crons, self.clock, self.runtime.scheduled)
        return scheduler

    async def _response(self, result: Any) -> Response:
        from .compat.workers import Response

        if isinstance(result, Response):
            return result
        from starlette.responses import Response as StarletteResponse

        if isinstance(result, StarletteResponse):
            return await _from_starlette(result)
        raise TypeError(
            f"The fetch handler of {self.runtime.worker.path} returned {type(result).__name__}; "
            "expected a workers.Response (or a Starlette Response)"
        )


class _QueueViews(Mapping[str, "QueueView"]):
    """``worker.queues``: every queue the config names, looked up on the broker when read."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def _names(self) -> list[str]:
        return self._runtime.config.queue_names

    def __getitem__(self, name: str) -> QueueView:
        broker = self._runtime.broker
        if broker is None or name not in self._names():
            known = ", ".join(self._names()) or "none"
            raise KeyError(f"no queue named {name!r} in {self._runtime.config.path} (its queues: {known})")
        return broker.inspect(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _start_s(now: datetime | float | None) -> float:
    if now is None:
        return FAKE_CLOCK_START_S
    if isinstance(now, bool) or not isinstance(now, datetime | int | float):
        raise TypeError(f"now must be a datetime or epoch seconds, got {type(now).__name__} {now!r}")
    return to_epoch_s(now)


async def _from_starlette(response: Any) -> Response:
    """A Starlette response (streaming ones too) as a workers ``Response``."""
    from .compat.workers import Response

    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await response(scope, receive, send)
    headers = [(bytes(name).lower(), bytes(value)) for name, value in start.get("headers", [])]
    return Response._from_fetch(start.get("status", 200), "", headers, b"".join(chunks), "", False)


# --- cloudflare:test counterparts ---------------------------------------------------------------


def create_execution_context() -> ExecutionContext:
    """A ``ctx`` for calling a handler directly; wait on it with :func:`wait_on_execution_context`."""
    return ExecutionContext(BackgroundWork(), waits_for_work=True)


async def wait_on_execution_context(ctx: ExecutionContext) -> None:
    """Wait for all of ``ctx``'s waitUntil work; raise the first failure."""
    failures = await ctx.wait()
    if failures:
        raise failures[0]


def create_scheduled_controller(
    cron: str = "", scheduled_time: int | datetime | None = None
) -> ScheduledController:
    """A controller for calling a scheduled handler directly; ``scheduled_time`` is epoch ms or a
    datetime, and defaults to the current time."""
    time_ms = (
        SystemClock().now_ms() if scheduled_time is None else to_epoch_ms(scheduled_time, "scheduled_time")
    )
    return ScheduledController(cron, time_ms)


def create_message_batch(queue_name: str, messages: Iterable[Mapping[str, Any]]) -> MessageBatch:
    """A batch for calling a queue handler directly: messages are dicts with ``body`` and
    optionally ``id``, ``timestamp`` (datetime or epoch ms; default now) and ``attempts`` (default 1)."""
    return MessageBatch.from_messages(queue_name, messages, now_ms=SystemClock().now_ms())


async def get_queue_result(batch: MessageBatch, ctx: ExecutionContext) -> QueueResult:
    """Wait for ``ctx``'s waitUntil work, then return what the handler decided for ``batch``:
    ``outcome`` is ``"exception"`` (with ``error``) when some of that work failed."""
    failures = await ctx.wait()
    return batch._result("exception" if failures else "ok", failures[0] if failures else None)
