"""ExecutionContext: waitUntil bookkeeping for one event."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable
from typing import Any, Literal

from .events import EventBus, WaitUntilFailed
from .tracebacks import format_user_traceback

logger = logging.getLogger("workerlab")

#: How an event ended: "exception" when its handler raised or its waitUntil work failed.
Outcome = Literal["ok", "exception"]

#: The ExecutionContext of the event being handled (for ``workers.wait_until``).
current_context: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar(
    "workerlab_current_context", default=None
)
#: The env a ``workers.patch_env`` block put in place, with the event it was opened in (a worker
#: called from inside the block, another isolate on Cloudflare, keeps its own env).
patched_env: contextvars.ContextVar[tuple[ExecutionContext | None, Any] | None] = contextvars.ContextVar(
    "workerlab_patched_env", default=None
)


def event_env() -> Any:
    """The env of the event being handled (``workers.env``): its worker's, or a ``patch_env``
    block's; None while no event is handled."""
    ctx = current_context.get()
    patched = patched_env.get()
    if patched is not None and patched[0] is ctx:
        return patched[1]
    return None if ctx is None else ctx._env


#: Failures of fetch-time waitUntil work kept for :meth:`BackgroundWork.settle` (the rest are counted).
MAX_KEPT_FAILURES = 100


class BackgroundWork:
    """Every waitUntil task of a session, so that shutdown and tests can wait for them.

    Each failure is a :class:`~workerlab.events.WaitUntilFailed` event (logged with its
    traceback); failures of work whose event does not wait for it (fetch) are also kept here,
    the first ``MAX_KEPT_FAILURES`` of them, until :meth:`settle` hands them out.
    """

    def __init__(self, bus: EventBus | None = None) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._failures: list[BaseException] = []
        self._bus = bus

    def track(self, task: asyncio.Future[Any]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def failed(self, error: BaseException) -> None:
        """waitUntil work failed: tell the subscribers (the log prints its traceback)."""
        if self._bus is None:
            logger.error("waitUntil work failed:\n%s", format_user_traceback(error))
        else:
            self._bus.emit(WaitUntilFailed("", error))

    def report(self, error: BaseException) -> None:
        """Keep ``error`` for :meth:`settle` (a failure nothing else waits for)."""
        if len(self._failures) < MAX_KEPT_FAILURES:
            self._failures.append(error)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def settle(self, timeout_s: float | None = None) -> list[BaseException]:
        """Wait until no tracked work is pending; return (and forget) the failures seen."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while self._pending:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            await asyncio.wait(set(self._pending), timeout=remaining)
        failures, self._failures = self._failures, []
        return failures


class ExecutionContext:
    """The ``ctx`` a handler receives.

    ``waits_for_work`` is True for events that wait for their waitUntil work and turn
    its failures into their outcome (queue, scheduled); for fetch it is False and a
    failure is handed to :class:`BackgroundWork`.
    """

    # One is made per event: keep it small and cheap to build.
    __slots__ = ("_env", "_loop", "_props", "_tasks", "_waits_for_work", "_work")

    def __init__(
        self, work: BackgroundWork | None = None, waits_for_work: bool = True, env: Any = None
    ) -> None:
        self._work = work
        self._env = env  # the worker's env, for workers.env (not part of Cloudflare's ctx)
        self._waits_for_work = waits_for_work
        self._tasks: list[asyncio.Future[Any]] = []
        self._props: dict[str, Any] | None = None
        # Set only when a plain `def` handler runs in a thread (asyncio.get_running_loop() costs a
        # getpid() system call, too much to pay on every event).
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def props(self) -> dict[str, Any]:
        """Cloudflare's ``ctx.props`` (empty locally)."""
        if self._props is None:
            self._props = {}
        return self._props

    def _enter_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        """The handler is about to run in a worker thread: waitUntil() will hand work to ``loop``."""
        self._loop = loop

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the handler returns."""
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"waitUntil() expects an awaitable (a coroutine, task or future), "
                f"got {type(awaitable).__name__}"
            )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # A plain `def` handler runs in a worker thread: start the work on the event loop.
            if self._loop is None:
                raise RuntimeError("waitUntil() needs a running event loop") from None
            self._loop.call_soon_threadsafe(self._start, awaitable)
            return
        self._start(awaitable)

    wait_until = waitUntil

    def _start(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        task.add_done_callback(self._on_done)
        self._tasks.append(task)
        if self._work is not None:
            self._work.track(task)

    def passThroughOnException(self) -> None:
        """Accepted for portability: there is no origin to fall through to locally."""
        logger.info("passThroughOnException() called: there is no origin locally, so it has no effect")

    pass_through_on_exception = passThroughOnException

    def _on_done(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        if self._work is None:
            logger.error("waitUntil work failed:\n%s", format_user_traceback(error))
            return
        self._work.failed(error)
        if not self._waits_for_work:
            self._work.report(error)

    async def wait(self) -> list[BaseException]:
        """Wait for every waitUntil task, including ones added while waiting; return failures."""
        seen = 0
        while seen < len(self._tasks):
            batch = self._tasks[seen:]
            seen = len(self._tasks)
            await asyncio.wait(batch)
        return [t.exception() for t in self._tasks if not t.cancelled() and t.exception() is not None]  # type: ignore[misc]
