"""Drive a worker in-process from tests: the harness behind the ``worker`` fixture.

Everything runs the same code as ``workerlab dev`` (same runtime, broker, rules and
scheduler) with in-memory state and a :class:`~workerlab.clock.FakeClock`. The free
functions at the end mirror ``cloudflare:test`` for tests that call a handler directly.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import FAKE_CLOCK_START_S, FakeClock, SystemClock
from .context import BackgroundWork, ExecutionContext
from .cron import ScheduledController, ScheduledResult
from .queues.message import MessageBatch, QueueResult
from .runtime import Runtime

if TYPE_CHECKING:
    from .compat.workers import Response
    from .queues.broker import QueueView

__all__ = [
    "QueueResult",
    "ScheduledResult",
    "Worker",
    "create_execution_context",
    "create_message_batch",
    "create_scheduled_controller",
    "get_queue_result",
    "wait_on_execution_context",
]

#: Host of the URL a path passed to ``worker.fetch`` is resolved against.
DEFAULT_ORIGIN = "http://localhost"
#: Rounds of "fire what is due" at one instant before ``advance`` gives up (a handler re-arming forever).
_MAX_ROUNDS_AT_ONE_INSTANT = 10_000


class Worker:
    """A worker loaded in-process with in-memory state and a fake clock."""

    def __init__(self, runtime: Runtime, clock: FakeClock) -> None:
        self.runtime = runtime
        self.clock = clock
        self.env = runtime.env

    @classmethod
    async def start(
        cls,
        config_path: str | Path,
        *,
        env: str | None = None,
        vars: Mapping[str, str] | None = None,
        now: datetime | float | None = None,
    ) -> Worker:
        """Load the worker of ``config_path`` as `workerlab dev` would, but in memory with a fake clock."""
        from .config import load_config

        config = load_config(Path(config_path), env=env)
        clock = FakeClock(FAKE_CLOCK_START_S if now is None else now)
        runtime = Runtime.load(config, clock=clock, persist_dir=None, extra_vars=vars, record_history=True)
        await runtime.start(loops=False)
        return cls(runtime, clock)

    async def close(self) -> list[BaseException]:
        """Wait for pending waitUntil work, close the stores; return the failures not yet reported."""
        failures = await self.runtime.work.settle()
        await self.runtime.close()
        return failures

    # --- events -----------------------------------------------------------------------------

    async def fetch(
        self,
        url_or_path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: str | bytes | None = None,
        json: Any = None,
    ) -> Response:
        """Call the fetch handler; its exception is raised here with its own traceback."""
        from .compat.workers import Request

        url = url_or_path if "://" in url_or_path else DEFAULT_ORIGIN + "/" + url_or_path.lstrip("/")
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if json is not None:
            if body is not None:
                raise TypeError("worker.fetch() takes body= or json=, not both")
            body = jsonlib.dumps(json)
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("content-type", "application/json"))
        request = Request(url, method=method, headers=pairs, body=body)
        return _as_workers_response(await self.runtime.fetch(request))

    async def queue(self, queue_name: str, messages: Iterable[Any]) -> QueueResult:
        """Hand one batch straight to the consumer and wait for its waitUntil work."""
        batch = MessageBatch.from_items(queue_name, messages, now_ms=self.clock.now_ms())
        outcome, error = await self.runtime.run_queue_batch(batch)
        return batch._result(outcome, error)

    async def scheduled(self, cron: str = "", scheduled_time: int | datetime | None = None) -> ScheduledResult:
        """Run the scheduled handler once; ``scheduled_time`` (ms or datetime) defaults to the clock's now."""
        if scheduled_time is None:
            time_ms = self.clock.now_ms()
        elif isinstance(scheduled_time, datetime):
            time_ms = FakeClock(scheduled_time).now_ms()
        else:
            time_ms = int(scheduled_time)
        return await self.runtime.scheduled(cron, time_ms)

    # --- time and queues ---------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait for every pending waitUntil task; raise the first failure."""
        failures = await self.runtime.work.settle()
        if failures:
            raise failures[0]

    async def drain(self) -> None:
        """Deliver until no message is pending, jumping the clock to each next delayed message."""
        if self.runtime.broker is not None:
            await self.runtime.broker.drain()

    async def advance(self, seconds: float) -> None:
        """Move the clock forward, firing every cron and delivering every message due on the way, in order."""
        if seconds < 0:
            raise ValueError(f"advance() moves time forward; got {seconds} seconds")
        target_s = self.clock.now_s() + seconds
        broker, scheduler = self.runtime.broker, self.runtime.scheduler
        rounds_here, last_s = 0, self.clock.now_s()
        while True:
            cron_due = scheduler.next_due_s() if scheduler is not None else None
            queue_due = broker.next_due_s() if broker is not None else None
            due = [t for t in (cron_due, queue_due) if t is not None and t <= target_s]
            if not due:
                break
            when_s = max(min(due), self.clock.now_s())
            rounds_here = rounds_here + 1 if when_s == last_s else 0
            if rounds_here > _MAX_ROUNDS_AT_ONE_INSTANT:
                raise RuntimeError(f"advance() kept finding work due at {when_s}: a handler never settles")
            last_s = when_s
            self.clock.set(when_s)
            if scheduler is not None and cron_due is not None and cron_due <= when_s:
                await scheduler.run_due()
            if broker is not None and queue_due is not None and queue_due <= when_s:
                await broker.run_due()
        self.clock.set(target_s)

    @property
    def queues(self) -> Mapping[str, QueueView]:
        """Per queue: ``pending``, ``acked``, ``dead_lettered``, ``dropped`` and ``deliveries`` records."""
        return _QueueViews(self.runtime)


class _QueueViews(Mapping[str, "QueueView"]):
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def _names(self) -> list[str]:
        config = self._runtime.config
        names = [p.queue for p in config.producers] + [c.queue for c in config.consumers]
        names += [c.dead_letter_queue for c in config.consumers if c.dead_letter_queue]
        return list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> QueueView:
        if self._runtime.broker is None or name not in self._names():
            known = ", ".join(self._names()) or "none"
            raise KeyError(f"no queue named {name!r} in the config (queues: {known})")
        return self._runtime.broker.inspect(name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _as_workers_response(result: Any) -> Response:
    from .compat.workers import Response

    if isinstance(result, Response):
        return result
    from starlette.responses import Response as StarletteResponse

    if isinstance(result, StarletteResponse) and hasattr(result, "body"):
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in result.raw_headers]
        return Response(bytes(result.body), status=result.status_code, headers=headers)
    raise TypeError(f"the fetch handler returned {type(result).__name__}; expected a workers.Response")


# --- cloudflare:test counterparts ---------------------------------------------------------------


def create_execution_context() -> ExecutionContext:
    """A ``ctx`` for calling a handler directly; wait on it with :func:`wait_on_execution_context`."""
    return ExecutionContext(BackgroundWork(), waits_for_work=True)


async def wait_on_execution_context(ctx: ExecutionContext) -> None:
    """Wait for all of ``ctx``'s waitUntil work; raise the first failure."""
    failures = await ctx.wait()
    if failures:
        raise failures[0]


def create_scheduled_controller(cron: str = "", scheduled_time: int | datetime | None = None) -> ScheduledController:
    """A controller for calling a scheduled handler directly (``scheduled_time`` in ms; default: now)."""
    if scheduled_time is None:
        time_ms = SystemClock().now_ms()
    elif isinstance(scheduled_time, datetime):
        time_ms = FakeClock(scheduled_time).now_ms()
    else:
        time_ms = int(scheduled_time)
    return ScheduledController(cron, time_ms)


def create_message_batch(queue_name: str, messages: Iterable[Mapping[str, Any]]) -> MessageBatch:
    """A batch for calling a queue handler directly; messages are dicts with id, timestamp, attempts, body."""
    return MessageBatch.from_messages(queue_name, messages, now_ms=SystemClock().now_ms())


async def get_queue_result(batch: MessageBatch, ctx: ExecutionContext) -> QueueResult:
    """Wait for ``ctx``'s work, then what the handler decided for ``batch``."""
    failures = await ctx.wait()
    return batch._result("exception" if failures else "ok", failures[0] if failures else None)
