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

from .bindings.queue import queue_names
from .clock import FAKE_CLOCK_START_S, FakeClock, SystemClock, to_epoch_ms, to_epoch_s
from .context import BackgroundWork, ExecutionContext
from .cron import CronScheduler, ScheduledController, ScheduledResult
from .durable import list_durable_object_ids, run_durable_object_alarm, run_in_durable_object
from .harness_http import drive_app
from .limits import WAIT_UNTIL_GRACE_S
from .queues.history import QueueHistory, QueueView
from .queues.message import MessageBatch, QueueResult, RetryBatch, RetryMessage
from .runtime import Runtime
from .tracebacks import user_traceback

if TYPE_CHECKING:
    from .compat.headers import HeadersInit
    from .compat.workers import Request, Response
    from .session import Session
    from .workflows import InstanceRecord

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
    "list_durable_object_ids",
    "run_durable_object_alarm",
    "run_in_durable_object",
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
    ``runtime`` the :class:`~workerlab.runtime.Runtime` that ``workerlab dev`` would run and
    ``session`` the :class:`~workerlab.session.Session` of every worker loaded with it
    (``worker.workers[name]``): they share the clock, the queues and the timers.
    """

    def __init__(self, session: Session, runtime: Runtime, history: QueueHistory) -> None:
        from .server import RuntimeSlot, WorkerApp

        self.session = session
        self.runtime = runtime
        self.clock: FakeClock = session.clock  # type: ignore[assignment]
        self.env = runtime.env
        self._history = history
        self._app = WorkerApp(RuntimeSlot(runtime), raise_errors=True)

    @classmethod
    async def start(
        cls,
        config_path: str | Path,
        *,
        env: str | None = None,
        vars: Mapping[str, Any] | None = None,
        now: datetime | float | None = None,
        workers: Iterable[str | Path] = (),
        bindings: Mapping[str, Any] | None = None,
    ) -> Worker:
        """Load the worker of ``config_path`` as ``workerlab dev`` does, but in memory with a fake clock.

        The clock starts at 2026-01-01T00:00:00Z, or at ``now`` (a datetime, naive meaning UTC,
        or epoch seconds). ``vars`` override ``[vars]`` and ``.dev.vars``. ``workers`` are more
        configs loaded beside it (reached through service bindings, sharing queues and clock);
        ``bindings`` replace env values by name (fakes for services with no local equivalent).
        Each D1 database starts with its ``migrations_dir``'s migrations applied.
        """
        from .config import load_configs
        from .session import Session, SessionOptions

        configs = load_configs([Path(path) for path in (config_path, *workers)], env=env)
        options = SessionOptions(
            clock=FakeClock(_start_s(now)), extra_vars=dict(vars or {}), overrides=dict(bindings or {})
        )
        session = await Session.open(configs, options)
        return cls(session, session.primary, QueueHistory(session.bus))

    async def close(self) -> list[BaseException]:
        """Wait for pending waitUntil work, close the session; return the failures not yet reported.

        Work still running after ``WAIT_UNTIL_GRACE_S`` is reported as a failure too.
        """
        work = self.session.work
        failures = await work.settle(timeout_s=WAIT_UNTIL_GRACE_S)
        if work.pending:
            failures.append(
                TimeoutError(
                    f"{work.pending} waitUntil task(s) still running {WAIT_UNTIL_GRACE_S:g} s "
                    "after the test ended"
                )
            )
        self._history.close()
        await self.session.close(grace_s=0)
        from .http_clients import aclose_all

        await aclose_all()
        return failures

    @property
    def workers(self) -> Mapping[str, Worker]:
        """Every worker loaded with this one, by name (this one included), each the same kind of object."""
        return {
            name: self if runtime is self.runtime else Worker(self.session, runtime, self._history)
            for name, runtime in self.session.workers.items()
        }

    # --- events -----------------------------------------------------------------------------

    async def fetch(
        self,
        url_or_path: str | Request,
        *,
        method: str = "GET",
        headers: HeadersInit = None,
        body: str | bytes | None = None,
        json: Any = None,
        cf: Mapping[str, Any] | None = None,
    ) -> Response:
        """Send a request through the worker's HTTP app (as `workerlab dev` serves it) and return the
        ``Response``; waitUntil work may still be running.

        A path is resolved against ``http://localhost``; a ``Request`` is sent as it is. ``json`` is
        sent as a JSON body with ``content-type: application/json``. ``cf`` overrides fields of
        ``request.cf`` (``country``, ``colo``, ...). An exception in the handler is raised here,
        with the handler's own traceback.
        """
        __tracebackhide__ = True
        from .compat.workers import Headers, Request

        if isinstance(url_or_path, Request):
            request = url_or_path
        else:
            url = url_or_path if "://" in url_or_path else DEFAULT_ORIGIN + "/" + url_or_path.lstrip("/")
            if json is not None:
                if body is not None:
                    raise TypeError("worker.fetch() takes body= or json=, not both")
                body = jsonlib.dumps(json)
                headers = Headers(headers)
                if not headers.has("content-type"):
                    headers.append("content-type", "application/json")
            request = Request(url, method=method, headers=headers, body=body)
        if cf is not None:
            request = Request(request, cf=dict(cf))
        try:
            return await drive_app(self._app, request)
        except Exception as error:
            error.with_traceback(user_traceback(error.__traceback__))
            raise

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
        consumers = [c.queue for c in self.runtime.config.consumers if c.type == "worker"]
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
        failures = await self.session.work.settle()
        if failures:
            raise failures[0]

    async def drain(self) -> None:
        """Deliver until no message is pending in a queue that has a consumer, with the real
        batching, ack and retry rules, jumping the clock to each next due batch.

        Pending waitUntil work of fetch handlers finishes first (its failures are kept for
        :meth:`settle` and teardown). Crons and alarms do not fire; handler exceptions are outcomes.
        """
        timers, queues = self.session.timers, frozenset({"queues"})
        while True:
            await self._finish_background_work()
            await timers.run_due(queues)
            due_s = timers.next_due_s(queues)
            if due_s is None:
                if not self.session.work.pending:
                    return
                continue
            if due_s > self.clock.now_s():
                self.clock.set(due_s)

    async def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``: every cron due in (now, now + seconds] fires once
        per due time, and every batch, alarm and workflow step due by then runs, in time order (at
        one instant, crons first). Returns when all of that, and its waitUntil work, has finished.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"worker.advance() takes a number of seconds >= 0, got {seconds!r}")
        await self._finish_background_work()
        timers = self.session.timers
        for source in timers.of_kind("crons"):
            if isinstance(source, CronScheduler):
                source.skip_missed()  # the clock was moved past them without advance(): missed
        target_s = self.clock.now_s() + seconds
        rounds, last_s = 0, self.clock.now_s()
        while (due_s := timers.next_due_s()) is not None and due_s <= target_s:
            when_s = max(due_s, self.clock.now_s())
            rounds = rounds + 1 if when_s == last_s else 0
            if rounds > MAX_ROUNDS_AT_ONE_INSTANT:
                raise RuntimeError(
                    f"worker.advance() found work due at {when_s} s {MAX_ROUNDS_AT_ONE_INSTANT} times over: "
                    "a handler keeps sending or retrying without delay"
                )
            last_s = when_s
            self.clock.set(when_s)
            await timers.run_due()
            await self._finish_background_work()
        self.clock.set(target_s)

    @property
    def module(self) -> ModuleType:
        """The worker's main module as loaded for this test (fresh each time), e.g. to monkeypatch it."""
        return self.runtime.worker.module

    @property
    def workflows(self) -> Mapping[str, list[InstanceRecord]]:
        """Per workflow of the session: its instances (``id``, ``status``, ``steps`` with ``name``,
        ``attempts`` and ``outcome``), oldest first."""
        engine = self.session.workflows
        if engine is None:
            return {}
        return {name: engine.instances(name) for name in engine.names}

    @property
    def queues(self) -> Mapping[str, QueueView]:
        """Per queue of the config: ``pending``, ``acked``, ``dead_lettered``, ``dropped`` and
        ``deliveries``, lists of records with ``id``, ``body``, ``attempts`` and ``timestamp``."""
        return _QueueViews(self)

    # --- helpers -----------------------------------------------------------------------------

    async def _finish_background_work(self) -> None:
        """Wait for pending waitUntil work, keeping its failures for :meth:`settle` and teardown."""
        work = self.session.work
        if work.pending:
            for failure in await work.settle():
                work.report(failure)


class _QueueViews(Mapping[str, "QueueView"]):
    """``worker.queues``: every queue the config names, read from the broker and the history."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def _names(self) -> list[str]:
        return queue_names(self._worker.runtime.config)

    def __getitem__(self, name: str) -> QueueView:
        broker = self._worker.session.broker
        if broker is None or name not in self._names():
            known = ", ".join(self._names()) or "none"
            path = self._worker.runtime.config.path
            raise KeyError(f"no queue named {name!r} in {path} (its queues: {known})")
        return self._worker._history.view(name, broker.pending(name), broker.dropped(name))

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
