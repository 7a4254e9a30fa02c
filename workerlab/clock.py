"""Time, read through one seam so that tests can move it.

Nothing in workerlab calls ``time.time()`` directly: everything time-based
(batching timeouts, message and retry delays, cron schedules, KV expiry, message
timestamps) asks a :class:`Clock`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

#: Where the harness's fake clock starts: 2026-01-01T00:00:00Z.
FAKE_CLOCK_START_S = 1_767_225_600.0


class Clock(Protocol):
    def now_s(self) -> float:
        """Seconds since the epoch (UTC), as a float."""
        ...

    def now_ms(self) -> int:
        """Milliseconds since the epoch (UTC), as an int."""
        ...


class SystemClock:
    """The wall clock."""

    #: ``time.time`` itself: read on every request served, so without a Python frame of its own.
    now_s = staticmethod(time.time)

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start_s: float | datetime = FAKE_CLOCK_START_S) -> None:
        self._now_s = to_epoch_s(start_s)

    def now_s(self) -> float:
        return self._now_s

    def now_ms(self) -> int:
        return round(self._now_s * 1000)

    def set(self, when_s: float | datetime) -> None:
        when = to_epoch_s(when_s)
        if when < self._now_s:
            raise ValueError(f"the fake clock cannot move backwards (now {self._now_s}, asked {when})")
        self._now_s = when

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the fake clock cannot move backwards (asked to advance {seconds} s)")
        self._now_s += seconds


def to_epoch_s(value: float | int | datetime) -> float:
    """A datetime (naive means UTC) or epoch seconds, as epoch seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def to_epoch_ms(value: float | int | datetime, what: str = "a time") -> int:
    """A datetime (naive means UTC) or epoch milliseconds, as int epoch milliseconds."""
    if isinstance(value, datetime):
        return round(to_epoch_s(value) * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a datetime or epoch ms, got {type(value).__name__} {value!r}")
    return int(value)


def utc_from_ms(epoch_ms: int) -> datetime:
    """A tz-aware UTC datetime from epoch milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
