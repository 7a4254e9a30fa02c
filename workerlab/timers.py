"""The time seam: everything that falls due on the workerlab clock, behind one small protocol.

Queue deliveries, cron firings, Durable Object alarms and workflow sleeps are each a
:class:`TimeSource`. ``workerlab dev`` starts every source's :meth:`~TimeSource.run` loop on the
real clock; the test harness never runs those loops and steps the sources on a fake clock
instead, with :meth:`Timers.next_due_s` and :meth:`Timers.run_due`. No source moves the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from .clock import Clock

logger = logging.getLogger("workerlab")

#: How often a source's real-time loop looks again without being woken (work written by another
#: process sharing the persist directory is seen within this).
POLL_INTERVAL_S = 0.05


class TimeSource(Protocol):
    """Work that falls due at clock times."""

    #: What the source runs ("queues", "crons", "alarms", "workflows"): the harness's drain() picks by it.
    kind: str

    def next_due_s(self) -> float | None:
        """The earliest clock time (epoch s) at which work is due; None when nothing waits."""
        ...

    async def run_due(self) -> None:
        """Run everything due at the clock's now (and what comes due meanwhile at that same now),
        and return when it has finished. Handler failures are outcomes, never raised."""
        ...

    async def run(self) -> None:
        """Run the work as it falls due on a real clock, until :meth:`close`."""
        ...

    async def close(self) -> None:
        """Stop :meth:`run` and wait (within the source's grace) for the work in flight."""
        ...


class Timers:
    """The time sources of a session, in the order they were added (at one instant, earlier first)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sources: list[TimeSource] = []
        self._loops: list[asyncio.Task[None]] = []

    def add(self, source: TimeSource) -> None:
        self._sources.append(source)

    def of_kind(self, kind: str) -> list[TimeSource]:
        return [source for source in self._sources if source.kind == kind]

    # --- stepping (the harness) ------------------------------------------------------------

    def next_due_s(self, kinds: frozenset[str] | None = None) -> float | None:
        """The earliest due time over the sources (of ``kinds`` when given)."""
        due = [
            when
            for source in self._sources
            if (kinds is None or source.kind in kinds) and (when := source.next_due_s()) is not None
        ]
        return min(due, default=None)

    async def run_due(self, kinds: frozenset[str] | None = None) -> None:
        """Run, source after source, what is due at the clock's now."""
        now_s = self.clock.now_s()
        for source in list(self._sources):
            if kinds is not None and source.kind not in kinds:
                continue
            due_s = source.next_due_s()
            if due_s is not None and due_s <= now_s:
                await source.run_due()

    # --- real time (workerlab dev) ---------------------------------------------------------

    def start(self) -> None:
        """Start every source's real-time loop."""
        for source in self._sources:
            self._loops.append(asyncio.create_task(source.run(), name=f"workerlab-{source.kind}"))

    async def close(self) -> None:
        """Stop the loops and wait for the work in flight; close every source even when one fails."""
        errors: list[BaseException] = []
        for source in reversed(self._sources):
            try:
                await source.close()
            except Exception as error:
                errors.append(error)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        for failure in errors:
            logger.error("Stopping a time source failed", exc_info=failure)


class Wakeup:
    """A real-time loop's sleep: until a clock time, or until :meth:`wake` says something changed."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._event: asyncio.Event | None = None

    def wake(self) -> None:
        """Something new is due (a send, a new alarm): the sleeping loop looks again now."""
        if self._event is not None:
            self._event.set()

    async def sleep_until(self, due_s: float | None, *, poll_s: float = POLL_INTERVAL_S) -> None:
        """Sleep until ``due_s`` (clock time), ``poll_s`` at most, or until woken."""
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        timeout_s = poll_s
        if due_s is not None:
            timeout_s = min(timeout_s, max(0.0, due_s - self._clock.now_s()))
        if not event.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await event.wait()
        event.clear()


async def run_on_clock(
    clock: Clock,
    next_due_s: Callable[[], float | None],
    start_due: Callable[[float], Awaitable[None] | None],
    wakeup: Wakeup,
    closed: Callable[[], bool],
) -> None:
    """The plain real-time loop a source can use for :meth:`TimeSource.run`: start what is due,
    sleep until the next due time (or a wake-up, or the poll interval), again until ``closed()``."""
    while not closed():
        due_s = next_due_s()
        if due_s is not None and due_s <= clock.now_s():
            started = start_due(clock.now_s())
            if started is not None:
                await started
            due_s = next_due_s()
            if due_s is not None and due_s <= clock.now_s():
                due_s = None  # due but not startable yet (busy): look again when woken, or after a poll
        await wakeup.sleep_until(due_s)
