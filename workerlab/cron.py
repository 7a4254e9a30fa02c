"""Cron triggers: Cloudflare's cron grammar, schedules, the controller, and the firing loop.

Cloudflare reads crons with its own Quartz-like grammar, which differs from Unix cron
(and from croniter) in ways that change when a worker runs: the day of the week is
numbered 1=SUN to 7=SAT (0 is refused), ``L``, ``W`` and ``#`` are upper case only,
ranges may wrap around (``FRI-MON``), and there is no ``?`` and no ``@daily``. The
grammar is therefore checked here; croniter then walks the minute, hour, month (and,
for the benchmark only, second) fields, while the day-of-month / day-of-week rules,
which croniter cannot express in Cloudflare's terms, are matched here per calendar day.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Literal, Protocol, TypeVar

from croniter import croniter

from .clock import Clock
from .errors import InternalError
from .limits import WAIT_UNTIL_GRACE_S

logger = logging.getLogger("workerlab")

#: Within this many seconds of a due time the loop sleeps straight to it; farther out it
#: wakes this much early and looks at the wall clock again (the loop's timer is monotonic).
FINAL_APPROACH_S = 0.5
#: Longest single sleep of the loop, so that a stepped wall clock or a suspended machine
#: is noticed within this many seconds.
MAX_NAP_S = 30.0

FireCron = Callable[[str, int], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]
_T = TypeVar("_T")


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

    outcome: Literal["ok", "exception"]
    no_retry: bool
    error: BaseException | None = None


# --- grammar -----------------------------------------------------------------------------------


class _FieldError(ValueError):
    pass


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    note: str = ""  # added to out-of-range messages

    def value(self, token: str) -> int:
        if token.isdigit():
            number = int(token)
            if not self.low <= number <= self.high:
                raise _FieldError(f"value {number} is out of range {self.low}-{self.high}{self.note}")
            return number
        if self.names and token.upper() in self.names:
            return self.low + self.names.index(token.upper())
        if self.names:
            raise _FieldError(
                f"{token!r} is neither a number {self.low}-{self.high} nor a three-letter name "
                f"{self.names[0]}-{self.names[-1]}"
            )
        raise _FieldError(f"{token!r} is not a number {self.low}-{self.high}")

    def step(self, token: str) -> int:
        step, largest = int(token), self.high - self.low
        if not 1 <= step <= largest:
            raise _FieldError(f"step {step} is out of range 1-{largest}")
        return step

    def span(self, start: int, end: int) -> list[int]:
        """start..end inclusive; a range whose start is past its end wraps around (FRI-MON)."""
        if start <= end:
            return list(range(start, end + 1))
        return list(range(start, self.high + 1)) + list(range(self.low, end + 1))


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field(
    "month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)
_DAY_OF_WEEK = _Field(
    "day-of-week",
    1,
    7,
    ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
    " (Cloudflare numbers the days 1=SUN to 7=SAT)",
)
#: Occurrences a ``#`` can ask for: the 1st to the 5th weekday of a month.
_MAX_NTH = 5

_ITEM = re.compile(r"(?P<start>\*|\d+|[A-Za-z]+)(?:-(?P<end>\d+|[A-Za-z]+))?(?:/(?P<step>\d+))?", re.ASCII)
_SYNTAX = "expected *, */N, a value, a range A-B, a step A/N or A-B/N, or a comma-separated list of these"
_LAST_OFFSET = re.compile(r"L-(\d+)(W?)", re.ASCII)
_NEAREST = re.compile(r"(\d+)W", re.ASCII)
_LAST_OF_WEEKDAY = re.compile(r"(\d+|[A-Za-z]{3})L", re.ASCII)
_NTH_WEEKDAY = re.compile(r"(\d+|[A-Za-z]{3})#(\d+)", re.ASCII)
_DAY_SYMBOL = re.compile(r"#|(?<![A-Za-z])L|(?<=\d)W|LW", re.ASCII)


def _values(text: str, field: _Field) -> frozenset[int] | None:
    """The values of a list field; None for a lone ``*``."""
    if text == "*":
        return None
    values: set[int] = set()
    for index, item in enumerate(text.split(",")):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise _FieldError(f"cannot read {item!r}: {_SYNTAX}")
        # Cloudflare takes a lone * or */N first, but a * later in a list means the lowest value.
        if index == 0 and item.startswith("*") and not item.startswith("*/"):
            raise _FieldError("'*' stands alone, or starts a step '*/N'")
        start = field.low if match["start"] == "*" else field.value(match["start"])
        if match["end"] is None and match["step"] is None:
            values.add(start)
            continue
        end = field.high if match["end"] is None else field.value(match["end"])
        step = 1 if match["step"] is None else field.step(match["step"])
        values.update(field.span(start, end)[::step])
    return frozenset(values)


def _weekday(day: int, first_weekday: int) -> int:
    """Cloudflare's day of the week (1=SUN..7=SAT) of ``day`` in a month whose 1st is ``first_weekday``
    (Python's numbering, Monday 0)."""
    return (first_weekday + day) % 7 + 1


class _DayMatcher(Protocol):
    def matches(self, day: int, first_weekday: int, length: int) -> bool: ...


@dataclass(frozen=True)
class _DaysOfMonth:
    days: frozenset[int]

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        return day in self.days


@dataclass(frozen=True)
class _DaysOfWeek:
    weekdays: frozenset[int]

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        return _weekday(day, first_weekday) in self.weekdays


@dataclass(frozen=True)
class _LastDay:
    """``L`` (offset 0) and ``L-n``."""

    offset: int

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        return day == length - self.offset


@dataclass(frozen=True)
class _NearestWeekday:
    """``nW``, and ``LW`` / ``L-nW`` counted back from the last day (``from_end``)."""

    day: int
    from_end: bool

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        target = length - self.day if self.from_end else self.day
        if not 1 <= target <= length:
            return False
        weekday = _weekday(target, first_weekday)
        if weekday == 7:  # Saturday: the Friday before, or the Monday after when it is the 1st
            target = target - 1 if target > 1 else target + 2
        elif weekday == 1:  # Sunday: the Monday after, or the Friday before when it is the last day
            target = target + 1 if target < length else target - 2
        return day == target


@dataclass(frozen=True)
class _LastOfWeekday:
    """``nL``: the last such weekday of the month."""

    weekday: int

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        return _weekday(day, first_weekday) == self.weekday and day + 7 > length


@dataclass(frozen=True)
class _NthWeekday:
    """``n#k``: the k-th such weekday of the month."""

    weekday: int
    nth: int

    def matches(self, day: int, first_weekday: int, length: int) -> bool:
        return _weekday(day, first_weekday) == self.weekday and (day - 1) // 7 + 1 == self.nth


def _day_of_month(text: str) -> _DayMatcher | None:
    if text == "L":
        return _LastDay(0)
    if text == "LW":
        return _NearestWeekday(0, from_end=True)
    if match := _LAST_OFFSET.fullmatch(text):
        offset = int(match[1])
        if not 1 <= offset <= _DAY_OF_MONTH.high - 1:
            raise _FieldError(f"offset {offset} is out of range 1-{_DAY_OF_MONTH.high - 1}")
        return _NearestWeekday(offset, from_end=True) if match[2] else _LastDay(offset)
    if match := _NEAREST.fullmatch(text):
        return _NearestWeekday(_DAY_OF_MONTH.value(match[1]), from_end=False)
    days = _values(text, _DAY_OF_MONTH)
    return None if days is None else _DaysOfMonth(days)


def _day_of_week(text: str) -> _DayMatcher | None:
    if text == "L":
        return _DaysOfWeek(frozenset({_DAY_OF_WEEK.high}))  # a lone L is the last day of the week
    if match := _LAST_OF_WEEKDAY.fullmatch(text):
        return _LastOfWeekday(_DAY_OF_WEEK.value(match[1]))
    if match := _NTH_WEEKDAY.fullmatch(text):
        nth = int(match[2])
        if not 1 <= nth <= _MAX_NTH:
            raise _FieldError(f"occurrence #{nth} is out of range 1-{_MAX_NTH}")
        return _NthWeekday(_DAY_OF_WEEK.value(match[1]), nth)
    weekdays = _values(text, _DAY_OF_WEEK)
    return None if weekdays is None else _DaysOfWeek(weekdays)


def _field(field: _Field, text: str, parse: Callable[[str], _T]) -> _T:
    """Parse one field; a problem becomes a ValueError that names the field."""
    try:
        return parse(text)
    except _FieldError as error:
        raise ValueError(f"{field.name} field {text!r}: {_hint(field, text, parse) or error}") from None


def _hint(field: _Field, text: str, parse: Callable[[str], object]) -> str | None:
    """A better explanation than the parser's for mistakes people make often."""
    if "?" in text:
        return "Cloudflare does not accept '?'; use '*'"
    if field not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
        return "L, W and # are only accepted in the day fields" if _DAY_SYMBOL.search(text) else None
    if "," in text and _DAY_SYMBOL.search(text.upper()):
        return "an L, W or # form is the whole field; it cannot be part of a list"
    if text != text.upper():
        try:
            parse(text.upper())
        except _FieldError:
            return None
        return f"Cloudflare reads L and W in upper case only: write {text.upper()!r}"
    return None


# --- schedules ---------------------------------------------------------------------------------


def _croniter_field(values: frozenset[int] | None) -> str:
    return "*" if values is None else ",".join(str(value) for value in sorted(values))


def _month_lengths(month: int) -> tuple[int, ...]:
    return (28, 29) if month == 2 else (calendar.monthrange(2001, month)[1],)


class CronSchedule:
    """When one cron expression fires, in UTC.

    ``with_seconds`` takes a sixth field, the second (croniter's convention, last); it exists
    for the benchmark, which cannot wait for minute boundaries. Cloudflare has no such field.
    """

    def __init__(self, expr: str, *, with_seconds: bool = False) -> None:
        if not isinstance(expr, str):
            raise ValueError(f"a cron expression must be a string, found {type(expr).__name__} {expr!r}")
        fields = expr.split()
        expected = 6 if with_seconds else 5
        if expr.strip().startswith("@"):
            raise ValueError(
                f"Cloudflare does not accept shortcuts like {fields[0]!r}; write the five fields"
            )
        if len(fields) != expected:
            extra = "; Cloudflare crons have no seconds or year field" if len(fields) > expected else ""
            raise ValueError(
                f"expected {expected} fields (minute hour day-of-month month day-of-week"
                f"{' second' if with_seconds else ''}), found {len(fields)}{extra}"
            )
        minutes = _field(_MINUTE, fields[0], lambda text: _values(text, _MINUTE))
        hours = _field(_HOUR, fields[1], lambda text: _values(text, _HOUR))
        dom = _field(_DAY_OF_MONTH, fields[2], _day_of_month)
        months = _field(_MONTH, fields[3], lambda text: _values(text, _MONTH))
        dow = _field(_DAY_OF_WEEK, fields[4], _day_of_week)
        seconds = _field(_SECOND, fields[5], lambda text: _values(text, _SECOND)) if with_seconds else None

        self.expr = expr
        self._months = months if months is not None else frozenset(range(1, 13))
        self._dom = dom
        self._dow = dow
        self._days_by_shape: dict[tuple[int, int], tuple[int, ...]] = {}
        parts = [minutes, hours, None, months, None] + ([seconds] if with_seconds else [])
        self._croniter_expr = " ".join(_croniter_field(part) for part in parts)
        if not croniter.is_valid(self._croniter_expr):
            raise InternalError(f"cron {expr!r} became {self._croniter_expr!r}, which croniter refuses")
        if not self._every_day and not any(
            self._days_of_shape(first_weekday, length)
            for month in self._months
            for length in _month_lengths(month)
            for first_weekday in range(7)
        ):
            raise ValueError(
                f"it can never fire: no month it allows has a day matching day-of-month {fields[2]!r}"
            )

    @property
    def _every_day(self) -> bool:
        return self._dom is None and self._dow is None

    def times_after(self, after_s: float) -> Iterator[int]:
        """Every firing time after ``after_s`` (epoch seconds), in ms since the epoch, in order."""
        start = datetime.fromtimestamp(after_s, UTC)
        times = croniter(self._croniter_expr, start, ret_type=datetime)
        while True:
            when: datetime = times.get_next(datetime)
            if self._every_day or when.day in self._days_of(when.year, when.month):
                yield round(when.timestamp() * 1000)
                continue
            day = self._next_day(when.date())
            # A whole second before: croniter works in float seconds, too coarse for microseconds
            # centuries ahead. The day before ``day`` never matches, so no firing is lost.
            times.set_current(datetime.combine(day, time(), UTC) - timedelta(seconds=1), force=True)

    def _days_of_shape(self, first_weekday: int, length: int) -> tuple[int, ...]:
        """The matching days of a month whose 1st is ``first_weekday`` (Monday 0) and has ``length`` days.

        Both day fields restricted: a day matching either fires, as in Unix cron and on Cloudflare.
        """
        shape = (first_weekday, length)
        if shape not in self._days_by_shape:
            self._days_by_shape[shape] = tuple(
                day
                for day in range(1, length + 1)
                if (self._dom is not None and self._dom.matches(day, first_weekday, length))
                or (self._dow is not None and self._dow.matches(day, first_weekday, length))
            )
        return self._days_by_shape[shape]

    def _days_of(self, year: int, month: int) -> tuple[int, ...]:
        return self._days_of_shape(*calendar.monthrange(year, month))

    def _next_day(self, after: date) -> date:
        """The first day after ``after`` in an allowed month whose day fields match."""
        year, month, day = after.year, after.month, after.day
        # The Gregorian calendar repeats every 400 years, and the constructor has checked
        # that some month shape matches, so this search ends well within one cycle.
        for _ in range(400 * 12 + 1):
            if month in self._months:
                later = [d for d in self._days_of(year, month) if d > day]
                if later:
                    return date(year, month, later[0])
            year, month, day = (year + 1, 1, 0) if month == 12 else (year, month + 1, 0)
        raise InternalError(f"cron {self.expr!r} found no day to fire on after {after}")


def validate_cron(expr: str) -> None:
    """Raise ValueError, saying what is wrong and where, unless ``expr`` is a cron Cloudflare accepts.

    Five fields, UTC: minute 0-59, hour 0-23, day-of-month 1-31 (also ``L``, ``LW``, ``L-n``,
    ``L-nW``, ``nW``), month 1-12 or JAN-DEC, day-of-week 1-7 (1=SUN) or SUN-SAT (also ``L``,
    ``nL``, ``n#k``); each list field takes ``*``, ``*/n``, values, ranges (wrapping when the
    start is past the end), steps and comma-separated lists.
    """
    CronSchedule(expr)


# --- the scheduler -----------------------------------------------------------------------------


class _Entry:
    __slots__ = ("cron", "next_ms", "times")

    def __init__(self, cron: str, schedule: CronSchedule, after_s: float) -> None:
        self.cron = cron
        self.times = schedule.times_after(after_s)
        self.next_ms = next(self.times)


class CronScheduler:
    """Fires each cron at its scheduled times, read from ``clock``.

    ``fire(cron, scheduled_time_ms)`` runs the scheduled handler; it logs its own outcome
    and never raises. Times before the scheduler was created are never fired (runs missed
    while the process was down are not caught up). Tests step it with :meth:`next_due_s`
    and :meth:`run_due`; ``workerlab dev`` runs :meth:`run`.
    """

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
                schedule = CronSchedule(cron, with_seconds=with_seconds)
            except ValueError as error:
                raise ValueError(f"invalid cron {cron!r}: {error}") from None
            self._entries.append(_Entry(cron, schedule, self._cursor_s))
        self._running: set[asyncio.Task[None]] = set()
        self._run_task: asyncio.Task[None] | None = None
        self._closed = False

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
