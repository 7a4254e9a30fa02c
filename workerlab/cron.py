"""Cron triggers: the controller a scheduled handler receives, its result, and the firing loop.

The grammar and the firing times of an expression live in :mod:`workerlab.cron_schedule`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Literal

from .clock import Clock
from .context import Outcome
from .cron_schedule import CronSchedule, schedule_of, validate_cron
from .limits import WAIT_UNTIL_GRACE_S

__all__ = ["CronSchedule", "CronScheduler", "ScheduledController", "ScheduledResult", "validate_cron"]

logger = logging.getLogger("workerlab")

#: Within this many seconds of a due time the loop sleeps straight to it; farther out it
#: wakes this much early and looks at the wall clock again (the loop's timer is monotonic).
FINAL_APPROACH_S = 0.5
#: Longest single sleep of the loop, so that a stepped wall clock or a suspended machine
#: is noticed within this many seconds.
MAX_NAP_S = 30.0

FireCron = Callable[[str, int], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]


# --- the controller and the result -------------------------------------------------------------


class ScheduledController:
    """The ``controller`` a scheduled handler receives (Cloudflare's ScheduledController)."""

    __slots__ = ("_retry_disabled", "cron", "scheduledTime")

    type: Literal["scheduled"] = "scheduled"

    def __init__(self, cron: str, scheduled_time_ms: int) -> None:
        self.cron = cron
        self.scheduledTime = int(scheduled_time_ms)
        self._retry_disabled = False

    @property
    def scheduled_time(self) -> int:
        """Alias of ``scheduledTime``: the scheduled minute, in ms since the epoch."""
        return self.scheduledTime

    def noRetry(self) -> None:
        """Ask Cloudflare not to retry this event if it fails."""
        self._retry_disabled = True

    def no_retry(self) -> None:
        """Alias of ``noRetry()``."""
        self.noRetry()

    @property
    def retry_disabled(self) -> bool:
        """Whether the handler called ``noRetry()``."""
        return self._retry_disabled

    def __repr__(self) -> str:
        return f"ScheduledController(cron={self.cron!r}, scheduledTime={self.scheduledTime})"


@dataclass(frozen=True)
class ScheduledResult:
    """How one scheduled event ended: ``ok``, or ``exception`` with the error."""

    outcome: Outcome
    no_retry: bool
    error: BaseException | None = None


# --- the scheduler -----------------------------------------------------------------------------


class _Entry:
    __slots__ = ("cron", "next_ms", "schedule", "times")

    def __init__(self, cron: str, schedule: CronSchedule, after_s: float) -> None:
        self.cron = cron
        self.schedule = schedule
        self.times = schedule.times_after(after_s)
        self.next_ms = next(self.times)


class CronScheduler:
    """Fires each cron at its scheduled times, read from ``clock``.

    ``fire(cron, scheduled_time_ms)`` runs the scheduled handler; it logs its own outcome
    and never raises. Times before the scheduler was created are never fired (runs missed
    while the process was down are not caught up). Tests step it with :meth:`next_due_s`
    and :meth:`run_due`; ``workerlab dev`` runs :meth:`run`. It is a time source of kind
    ``"crons"`` (:mod:`workerlab.timers`).
    """

    kind = "crons"

    def __init__(
        self,
        crons: Sequence[str],
        clock: Clock,
        fire: FireCron,
        *,
        sleep: Sleep = asyncio.sleep,
        with_seconds: bool = False,
        shutdown_grace_s: float = WAIT_UNTIL_GRACE_S,
    ) -> None:
        self._clock = clock
        self._fire = fire
        self._sleep = sleep
        self._shutdown_grace_s = shutdown_grace_s
        self._cursor_s = clock.now_s()
        self._entries: list[_Entry] = []
        for cron in crons:
            try:
                schedule = schedule_of(cron, with_seconds=with_seconds)
            except ValueError as error:
                raise ValueError(f"invalid cron {cron!r}: {error}") from None
            self._entries.append(_Entry(cron, schedule, self._cursor_s))
        self._running: set[asyncio.Task[None]] = set()
        self._run_task: asyncio.Task[None] | None = None
        self._closed = False

    def skip_missed(self) -> None:
        """Forget the times the clock was moved past without firing them (missed, not late)."""
        now_s = self._clock.now_s()
        if now_s > self._cursor_s:
            self._cursor_s = now_s
            for entry in self._entries:
                entry.times = entry.schedule.times_after(now_s)
                entry.next_ms = next(entry.times)

    @property
    def crons(self) -> tuple[str, ...]:
        """The cron expressions, in config order."""
        return tuple(entry.cron for entry in self._entries)

    def next_due_s(self) -> float | None:
        """The earliest firing time after the cursor (epoch seconds); None without crons."""
        if not self._entries:
            return None
        return min(entry.next_ms for entry in self._entries) / 1000

    async def run_due(self) -> None:
        """Fire every (cron, time) due by the clock's now, once, in time order, and wait for them.

        Crons due at the same time run concurrently, started in config order.
        """
        due = self._take_due(catch_up=True)
        for _, group in groupby(due, key=lambda item: item[0]):
            tasks = [asyncio.create_task(self._call_fire(cron, time_ms)) for time_ms, _, cron in group]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def run(self) -> None:
        """Fire every cron on schedule until cancelled or :meth:`close` is called.

        Each firing is a task of its own, so a slow handler never delays another cron.
        When the loop wakes up more than one period late (a suspended machine), each cron
        fires once, for its latest due time, and the skipped times are logged.
        """
        if self._closed:
            return
        self._run_task = asyncio.current_task()
        try:
            while not self._closed and (due_s := self.next_due_s()) is not None:
                await self._sleep_until(due_s)
                for time_ms, _, cron in self._take_due(catch_up=False):
                    task = asyncio.create_task(self._call_fire(cron, time_ms), name=f"cron {cron!r}")
                    self._running.add(task)
                    task.add_done_callback(self._finished)
        finally:
            self._run_task = None
            await self._wait_for_firings()

    async def close(self) -> None:
        """Stop :meth:`run` and wait for running firings (cancelling them after the grace period)."""
        self._closed = True
        task = self._run_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        await self._wait_for_firings()

    def _take_due(self, *, catch_up: bool) -> list[tuple[int, int, str]]:
        """Pop every (time_ms, config index, cron) due by now, sorted, and move the cursor to now."""
        now_s = max(self._clock.now_s(), self._cursor_s)
        now_ms = now_s * 1000
        due: list[tuple[int, int, str]] = []
        for index, entry in enumerate(self._entries):
            times: list[int] = []
            while entry.next_ms <= now_ms:
                times.append(entry.next_ms)
                entry.next_ms = next(entry.times)
            if not catch_up and len(times) > 1:
                logger.warning(
                    'Cron "%s" skipped %d run(s) missed while the loop was not running; firing the latest',
                    entry.cron,
                    len(times) - 1,
                )
                times = times[-1:]
            due.extend((time_ms, index, entry.cron) for time_ms in times)
        self._cursor_s = now_s
        due.sort()
        return due

    async def _sleep_until(self, due_s: float) -> None:
        while (remaining_s := due_s - self._clock.now_s()) > 0:
            if remaining_s <= FINAL_APPROACH_S:
                await self._sleep(remaining_s)
            else:
                await self._sleep(min(remaining_s - FINAL_APPROACH_S, MAX_NAP_S))

    async def _call_fire(self, cron: str, time_ms: int) -> None:
        await self._fire(cron, time_ms)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            logger.error("Firing cron %s failed inside workerlab", task.get_name(), exc_info=error)

    async def _wait_for_firings(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(set(self._running), timeout=self._shutdown_grace_s)
        for task in pending:
            logger.warning(
                "Cancelling %s: still running %.0f s after shutdown began",
                task.get_name(),
                self._shutdown_grace_s,
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending)
