"""Cron expressions as Cloudflare reads them: the grammar, its validation, and the firing times.

Cloudflare reads crons with its own Quartz-like grammar, which differs from Unix cron
(and from croniter) in ways that change when a worker runs: the day of the week is
numbered 1=SUN to 7=SAT (0 is refused), ``L``, ``W`` and ``#`` are upper case only,
ranges may wrap around (``FRI-MON``), and there is no ``?`` and no ``@daily``. The
grammar is therefore checked here; croniter then walks the minute, hour, month (and,
for the benchmark only, second) fields, while the day-of-month / day-of-week rules,
which croniter cannot express in Cloudflare's terms, are matched here per calendar day.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar

from croniter import croniter

from .errors import InternalError

_T = TypeVar("_T")


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


@functools.lru_cache(maxsize=256)
def schedule_of(expr: str, *, with_seconds: bool = False) -> CronSchedule:
    """The schedule of ``expr``, parsed once: the same crons come back at every start of a worker
    (a test suite starts hundreds), and parsing one takes a while. Schedules hold no state but a
    memo of their own, so one is shared by everyone who asks; a ValueError is not remembered."""
    return CronSchedule(expr, with_seconds=with_seconds)


def validate_cron(expr: str) -> None:
    """Raise ValueError, saying what is wrong and where, unless ``expr`` is a cron Cloudflare accepts.

    Five fields, UTC: minute 0-59, hour 0-23, day-of-month 1-31 (also ``L``, ``LW``, ``L-n``,
    ``L-nW``, ``nW``), month 1-12 or JAN-DEC, day-of-week 1-7 (1=SUN) or SUN-SAT (also ``L``,
    ``nL``, ``n#k``); each list field takes ``*``, ``*/n``, values, ranges (wrapping when the
    start is past the end), steps and comma-separated lists.
    """
    schedule_of(expr)
