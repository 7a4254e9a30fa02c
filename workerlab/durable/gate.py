"""The input gate of one Durable Object: which events may start on it, and when.

Events reach an object one at a time around storage. A storage call that runs inline never
lets another event in (nothing else runs on the loop meanwhile); one that has to wait (a busy
file), a ``transaction()`` and ``blockConcurrencyWhile()`` close the gate, and events that
arrive meanwhile wait in order until it opens. While an event awaits anything else (a
``fetch``, a timer) the gate stays open and other events may start, as on Cloudflare.
"""

from __future__ import annotations

import asyncio
from collections import deque


class InputGate:
    """Holds new events back while closed; closing nests (each close needs its open)."""

    __slots__ = ("_closed", "_waiters")

    def __init__(self) -> None:
        self._closed = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def idle(self) -> bool:
        """Open, with no event waiting to start."""
        return not self._closed and not self._waiters

    def close(self) -> None:
        self._closed += 1

    def open(self) -> None:
        self._closed -= 1
        if not self._closed:
            self._wake_next()

    async def enter(self) -> None:
        """Return when an event may start: at once when the gate is open and nobody waits."""
        if not self._closed and not self._waiters:
            return
        front = False
        while True:
            future = asyncio.get_running_loop().create_future()
            if front:
                self._waiters.appendleft(future)
            else:
                self._waiters.append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._wake_next()  # it was this event's turn: pass it on
                else:
                    self._waiters.remove(future)
                raise
            if not self._closed:
                # This event starts; the next waiter gets its turn once this one yields,
                # and looks again whether the gate is still open then.
                self._wake_next()
                return
            front = True  # closed again before this event ran: keep its place

    def _wake_next(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
