"""The time source of kind ``"alarms"``: Durable Object alarms fired on the workerlab clock.

``workerlab dev`` runs :meth:`AlarmSource.run`, which starts each due alarm as its own task (a
slow ``alarm()`` never delays another object's). The harness steps it with
:meth:`~AlarmSource.next_due_s` and :meth:`~AlarmSource.run_due`, which runs the due alarms one
after the other in time order. Alarms whose time passed while no process ran are due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..clock import Clock
from ..limits import WAIT_UNTIL_GRACE_S
from ..timers import Wakeup, run_on_clock
from .alarms import Alarm, AlarmBook

logger = logging.getLogger("workerlab")

#: How long close() waits for alarm runs in flight; an interrupted run stays due for the next start.
CLOSE_GRACE_S = WAIT_UNTIL_GRACE_S
#: Most alarm runs under way at once on a real clock; the others due start as those finish
#: (workerlab's own bound: each run keeps its object live, and its database open, until it ends).
MAX_ALARMS_IN_FLIGHT = 64


class AlarmSource:
    """Fires the alarms of every namespace added to it."""

    kind = "alarms"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._books: list[AlarmBook] = []
        self.wakeup = Wakeup(clock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def add(self, book: AlarmBook) -> None:
        self._books.append(book)
        self.wakeup.wake()

    def next_due_s(self) -> float | None:
        due = [when for book in self._books if (when := book.next_due_ms()) is not None]
        return min(due) / 1000 if due else None

    def _due(self, limit: int | None = None) -> list[tuple[AlarmBook, Alarm]]:
        """The alarms due now, earliest first (``limit``: the earliest of each book only)."""
        now_ms = self.clock.now_ms()
        due = [(book, alarm) for book in self._books for alarm in book.due(now_ms, limit)]
        due.sort(key=lambda pair: pair[1].scheduled_ms)  # stable: books in the order added
        return due

    async def run_due(self) -> None:
        """Run, one after the other in time order, every alarm due now, and those that fall due
        meanwhile at this same now (a handler may set its alarm to now)."""
        while due := self._due():
            for book, alarm in due:
                if not book.is_running(alarm.object_id):
                    await book.run(alarm)

    async def run(self) -> None:
        """Fire alarms as they fall due on a real clock, until :meth:`close`."""
        await run_on_clock(self.clock, self.next_due_s, self._start_due, self.wakeup, lambda: self._closed)

    def _start_due(self, now_s: float) -> None:
        room = MAX_ALARMS_IN_FLIGHT - len(self._tasks)
        if room <= 0:
            return  # a run that ends wakes the loop
        for book, alarm in self._due(room)[:room]:
            book.claim(alarm.object_id)
            task = asyncio.create_task(
                self._run_one(book, alarm), name=f"workerlab-alarm-{alarm.object_id[:8]}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.wakeup.wake()

    async def _run_one(self, book: AlarmBook, alarm: Alarm) -> None:
        try:
            await book.run(alarm)
        except Exception as error:  # the handler's errors are outcomes; this is the runtime's
            logger.error(
                "Running the alarm of %s %s failed", book.class_name, alarm.object_id[:8], exc_info=error
            )

    async def close(self) -> None:
        """Stop firing; wait (up to :data:`CLOSE_GRACE_S`) for the runs in flight, then cancel them
        (an interrupted alarm runs again at the next start)."""
        self._closed = True
        self.wakeup.wake()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
