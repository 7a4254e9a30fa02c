"""Cron triggers: Cloudflare's grammar, schedules, the controller and the scheduler loop."""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from itertools import islice

import pytest

from workerlab.clock import FakeClock
from workerlab.cron import (
    CronSchedule,
    CronScheduler,
    ScheduledController,
    ScheduledResult,
    validate_cron,
)

START = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def at(ms_value: int) -> datetime:
    return datetime.fromtimestamp(ms_value / 1000, UTC)


def first_times(
    expr: str, count: int, *, after: datetime = START, with_seconds: bool = False
) -> list[datetime]:
    schedule = CronSchedule(expr, with_seconds=with_seconds)
    return [at(t) for t in islice(schedule.times_after(after.timestamp()), count)]


class Recorder:
    """A ``fire`` callback that records (cron, scheduled time, clock time when it started)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, datetime, datetime]] = []

    async def __call__(self, cron: str, scheduled_time_ms: int) -> None:
        self.calls.append((cron, at(scheduled_time_ms), at(self.clock.now_ms())))

    @property
    def fired(self) -> list[tuple[str, datetime]]:
        return [(cron, when) for cron, when, _ in self.calls]


def make(
    crons: list[str], *, start: datetime = START, **kwargs: object
) -> tuple[CronScheduler, FakeClock, Recorder]:
    clock = FakeClock(start)
    recorder = Recorder(clock)
    return CronScheduler(crons, clock, recorder, **kwargs), clock, recorder  # type: ignore[arg-type]


async def advance(scheduler: CronScheduler, clock: FakeClock, seconds: float) -> None:
    """What the harness's ``advance`` does with the scheduler alone."""
    target_s = clock.now_s() + seconds
    while (due_s := scheduler.next_due_s()) is not None and due_s <= target_s:
        clock.set(due_s)
        await scheduler.run_due()
    clock.set(target_s)
    await scheduler.run_due()


async def until(condition: Callable[[], bool], *, max_steps: int = 10_000) -> None:
    """Let other tasks run until ``condition`` holds; fail instead of hanging."""
    for _ in range(max_steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"still not true after {max_steps} event-loop steps")


def minutes(*values: int, base: datetime = START) -> list[datetime]:
    return [base + timedelta(minutes=value) for value in values]


# --- validation ----------------------------------------------------------------------------------

CLOUDFLARE_EXAMPLES = [
    "* * * * *",
    "*/30 * * * *",
    "45 * * * *",
    "0 17 * * sun",
    "0 17 * * 1",
    "10 7 * * mon-fri",
    "10 7 * * 2-6",
    "0 15 1 * *",
    "0 18 * * 6L",
    "0 18 * * friL",
    "59 23 LW * *",
    "0 0 L-3 * *",
    "0 0 L-2W * *",
    "0 0 15W * *",
    "0 10 * * MON#2",
    "0 0 * JAN-MAR *",
    "0 0 * nov-feb *",
    "0 0 * * L",
    "50-10 * * * *",
    "0 0 * * FRI-MON",
    "0,30 8-18/2 1-15 */3 *",
    "0 0 29 2 *",
]


@pytest.mark.parametrize("expr", CLOUDFLARE_EXAMPLES)
def test_accepts_what_cloudflare_accepts(expr: str) -> None:
    validate_cron(expr)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
        ("* * * * * *", "found 6; Cloudflare crons have no seconds or year field"),
        ("", "found 0"),
        ("@daily", "Cloudflare does not accept shortcuts like '@daily'"),
        ("60 * * * *", "minute field '60': value 60 is out of range 0-59"),
        ("0 24 * * *", "hour field '24': value 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0': value 0 is out of range 1-31"),
        ("0 0 * 13 *", "month field '13': value 13 is out of range 1-12"),
        (
            "0 0 * * 0",
            "day-of-week field '0': value 0 is out of range 1-7 (Cloudflare numbers the days 1=SUN",
        ),
        ("0 0 * * 1-8", "day-of-week field '1-8': value 8 is out of range 1-7"),
        ("*/0 * * * *", "minute field '*/0': step 0 is out of range 1-59"),
        ("0 */24 * * *", "hour field '*/24': step 24 is out of range 1-23"),
        ("0 0 * * MONDAY", "'MONDAY' is neither a number 1-7 nor a three-letter name SUN-SAT"),
        ("0 0 * JULY *", "'JULY' is neither a number 1-12 nor a three-letter name JAN-DEC"),
        ("0 0 ? * *", "day-of-month field '?': Cloudflare does not accept '?'; use '*'"),
        ("0 0 l * *", "Cloudflare reads L and W in upper case only: write 'L'"),
        ("0 0 * * 5l", "write '5L'"),
        ("0 0 15w * *", "write '15W'"),
        ("0 0 * * 5#6", "day-of-week field '5#6': occurrence #6 is out of range 1-5"),
        ("0 0 L-31 * *", "day-of-month field 'L-31': offset 31 is out of range 1-30"),
        ("0 0 32W * *", "day-of-month field '32W': value 32 is out of range 1-31"),
        ("0 L * * *", "hour field 'L': L, W and # are only accepted in the day fields"),
        ("5W * * * *", "minute field '5W': L, W and # are only accepted in the day fields"),
        ("0 0 1,L * *", "an L, W or # form is the whole field; it cannot be part of a list"),
        ("0 0 * * 6L,1", "an L, W or # form is the whole field"),
        ("*,5 * * * *", "minute field '*,5': '*' stands alone, or starts a step '*/N'"),
        ("1--2 * * * *", "minute field '1--2': cannot read '1--2': expected *, */N, a value"),
        ("0 0 31 2 *", "it can never fire: no month it allows has a day matching day-of-month '31'"),
        ("0 0 31 4,6,9,11 *", "it can never fire"),
    ],
)
def test_rejects_with_a_precise_reason(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate_cron(expr)
    assert message in str(raised.value)


def test_rejects_what_is_not_a_string() -> None:
    with pytest.raises(ValueError, match="a cron expression must be a string, found int 5"):
        validate_cron(5)  # type: ignore[arg-type]


def test_scheduler_names_the_invalid_cron() -> None:
    with pytest.raises(ValueError, match=r"invalid cron '0 0 \* \* 0': day-of-week field"):
        make(["* * * * *", "0 0 * * 0"])


# --- schedules -----------------------------------------------------------------------------------


def test_day_of_week_counts_from_sunday_as_one() -> None:
    sundays = [datetime(2026, 1, day, 17, tzinfo=UTC) for day in (4, 11, 18)]
    assert first_times("0 17 * * 1", 3) == sundays
    assert first_times("0 17 * * sun", 3) == sundays
    saturdays = [date(2026, 1, 3), date(2026, 1, 10)]
    assert [t.date() for t in first_times("0 0 * * 7", 2)] == saturdays


def test_weekday_ranges_and_wrapping_ranges() -> None:
    weekdays = first_times("10 7 * * 2-6", 5)
    assert [t.strftime("%a %d") for t in weekdays] == ["Thu 01", "Fri 02", "Mon 05", "Tue 06", "Wed 07"]
    assert first_times("10 7 * * mon-fri", 5) == weekdays
    wrapped = first_times("0 0 * * FRI-MON", 5)
    assert [t.strftime("%a") for t in wrapped] == ["Fri", "Sat", "Sun", "Mon", "Fri"]
    assert [t.minute for t in first_times("50-10 0 * * *", 13)] == [*range(1, 11), 50, 51, 52]


def test_month_names_and_wrapping_month_ranges() -> None:
    times = first_times("0 0 1 nov-feb *", 4)
    assert [t.date() for t in times] == [
        date(2026, 2, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]


def test_both_day_fields_restricted_fire_on_either() -> None:
    # The 13th, or any Friday.
    times = first_times("0 0 13 * 6", 4)
    assert [t.date() for t in times] == [date(2026, 1, d) for d in (2, 9, 13, 16)]


def test_steps_and_lists() -> None:
    assert first_times("*/20 * * * *", 3) == minutes(20, 40, 60)
    assert first_times("5-20/5,59 0 * * *", 5) == minutes(5, 10, 15, 20, 59)
    # A * later in a list stands for the field's lowest value.
    assert [t.day for t in first_times("0 0 1,*/10 1 *", 3)] == [11, 21, 31]


# Cloudflare's day names in its order (1=SUN), with Python's weekday numbers (Monday 0).
CLOUDFLARE_WEEKDAYS = {"SUN": 6, "MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5}
CLOUDFLARE_NUMBERS = {str(number): name for number, name in enumerate(CLOUDFLARE_WEEKDAYS, start=1)}


def reference_days(form: str, year: int, month: int) -> set[int]:
    """The days a Quartz day form selects, written from the definitions, not from workerlab's code."""
    length = calendar.monthrange(year, month)[1]
    days = [date(year, month, day) for day in range(1, length + 1)]
    weekdays = [d for d in days if d.weekday() < 5]

    def nearest_weekday(day: int) -> set[int]:
        if not 1 <= day <= length:
            return set()
        target = date(year, month, day)
        return {min(weekdays, key=lambda d: abs((d - target).days)).day}

    def of_weekday(name: str) -> list[int]:
        return [d.day for d in days if d.weekday() == CLOUDFLARE_WEEKDAYS[CLOUDFLARE_NUMBERS.get(name, name)]]

    if form == "L":
        return {length}
    if form == "LW":
        return {max(weekdays).day}
    if form.startswith("L-"):
        offset = int(form[2:].rstrip("W"))
        if form.endswith("W"):
            return nearest_weekday(length - offset)
        return {length - offset} if length - offset >= 1 else set()
    if form.endswith("W"):
        return nearest_weekday(int(form[:-1]))
    if form.endswith("L"):
        return {of_weekday(form[:-1])[-1]}
    name, nth = form.split("#")
    matching = of_weekday(name)
    return {matching[int(nth) - 1]} if int(nth) <= len(matching) else set()


DAY_FORMS = [
    ("L", "*"),
    ("LW", "*"),
    ("L-1", "*"),
    ("L-3", "*"),
    ("L-30", "*"),
    ("L-2W", "*"),
    ("L-5W", "*"),
    ("1W", "*"),
    ("15W", "*"),
    ("28W", "*"),
    ("30W", "*"),
    ("31W", "*"),
    ("*", "6L"),
    ("*", "FRIL"),
    ("*", "1L"),
    ("*", "2#1"),
    ("*", "MON#2"),
    ("*", "1#5"),
    ("*", "SAT#5"),
]


@pytest.mark.parametrize(("dom", "dow"), DAY_FORMS)
def test_last_weekday_and_nth_forms_match_their_definition(dom: str, dow: str) -> None:
    form = dom if dom != "*" else dow
    expected = {
        date(year, month, day)
        for year in range(2026, 2031)
        for month in range(1, 13)
        for day in reference_days(form, year, month)
    }
    schedule = CronSchedule(f"0 12 {dom} * {dow}")
    found: set[date] = set()
    for time_ms in schedule.times_after(START.timestamp()):
        when = at(time_ms)
        if when.year > 2030:
            break
        assert (when.hour, when.minute) == (12, 0)
        found.add(when.date())
    assert found == expected


def test_documented_examples_fire_on_the_documented_days() -> None:
    # 6PM on the last Friday of the month; 11:59PM on the last weekday of the month.
    assert first_times("0 18 * * 6L", 2) == [
        datetime(2026, 1, 30, 18, tzinfo=UTC),
        datetime(2026, 2, 27, 18, tzinfo=UTC),
    ]
    assert [t.date() for t in first_times("59 23 LW * *", 5)] == [
        date(2026, 1, 30),  # the 31st is a Saturday
        date(2026, 2, 27),  # the 28th is a Saturday
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 29),  # the 31st is a Sunday
    ]


def test_a_lone_L_in_day_of_week_is_saturday() -> None:
    assert [t.strftime("%a") for t in first_times("0 0 * * L", 3)] == ["Sat"] * 3


def test_rare_schedules_are_found_quickly() -> None:
    # A fifth Sunday in February needs a leap year whose February starts on a Sunday.
    assert first_times("0 0 * FEB 1#5", 2) == [
        datetime(2032, 2, 29, tzinfo=UTC),
        datetime(2060, 2, 29, tzinfo=UTC),
    ]
    assert first_times("0 0 29 2 *", 1) == [datetime(2028, 2, 29, tzinfo=UTC)]
    # None is skipped over the centuries either.
    expected = [
        datetime(year, 2, 29, tzinfo=UTC)
        for year in range(2026, 3000)
        if calendar.isleap(year) and date(year, 2, 29).weekday() == 6
    ]
    assert first_times("0 0 * FEB 1#5", len(expected)) == expected


def test_seconds_field_for_the_benchmark() -> None:
    assert first_times("* * * * * */15", 4, with_seconds=True) == [
        START + timedelta(seconds=s) for s in (15, 30, 45, 60)
    ]
    with pytest.raises(ValueError, match="expected 6 fields"):
        CronSchedule("* * * * *", with_seconds=True)


# --- controller and result -----------------------------------------------------------------------


def test_controller_fields_and_aliases() -> None:
    controller = ScheduledController("*/5 * * * *", 1_767_225_600_000)
    assert controller.cron == "*/5 * * * *"
    assert controller.scheduledTime == controller.scheduled_time == 1_767_225_600_000
    assert isinstance(controller.scheduledTime, int)
    assert controller.type == "scheduled"
    assert controller.retry_disabled is False
    controller.noRetry()
    assert controller.retry_disabled is True
    other = ScheduledController("", 0)
    other.no_retry()
    assert other.retry_disabled is True
    assert repr(controller) == "ScheduledController(cron='*/5 * * * *', scheduledTime=1767225600000)"


def test_result_is_frozen() -> None:
    error = RuntimeError("boom")
    result = ScheduledResult(outcome="exception", no_retry=True, error=error)
    assert (result.outcome, result.no_retry, result.error) == ("exception", True, error)
    assert ScheduledResult("ok", False).error is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.outcome = "ok"  # type: ignore[misc]


# --- stepping the scheduler (the harness's way) ---------------------------------------------------


async def test_every_minute() -> None:
    scheduler, clock, recorder = make(["* * * * *"])
    assert scheduler.next_due_s() == START.timestamp() + 60
    await advance(scheduler, clock, 5 * 60)
    assert recorder.fired == [("* * * * *", t) for t in minutes(1, 2, 3, 4, 5)]
    # Each firing happened with the clock at its scheduled time.
    assert all(scheduled == started for _, scheduled, started in recorder.calls)


async def test_hourly_daily_and_every_five_minutes() -> None:
    scheduler, clock, recorder = make(["0 * * * *", "0 0 * * *", "*/5 * * * *"])
    await advance(scheduler, clock, 2 * 86_400)
    fired = recorder.fired
    assert [t for cron, t in fired if cron == "0 * * * *"] == [
        START + timedelta(hours=h) for h in range(1, 49)
    ]
    assert [t for cron, t in fired if cron == "0 0 * * *"] == [
        START + timedelta(days=1),
        START + timedelta(days=2),
    ]
    assert [t for cron, t in fired if cron == "*/5 * * * *"] == minutes(*range(5, 2 * 1440 + 1, 5))


async def test_two_crons_due_at_once_fire_separately_in_config_order() -> None:
    scheduler, clock, recorder = make(["*/30 * * * *", "0 * * * *"])
    await advance(scheduler, clock, 3600)
    assert recorder.fired == [
        ("*/30 * * * *", minutes(30)[0]),
        ("*/30 * * * *", minutes(60)[0]),
        ("0 * * * *", minutes(60)[0]),
    ]


async def test_run_due_fires_every_missed_time_in_time_order() -> None:
    scheduler, clock, recorder = make(["*/2 * * * *", "*/3 * * * *"])
    clock.advance(6 * 60)
    await scheduler.run_due()
    assert recorder.fired == [
        ("*/2 * * * *", minutes(2)[0]),
        ("*/3 * * * *", minutes(3)[0]),
        ("*/2 * * * *", minutes(4)[0]),
        ("*/2 * * * *", minutes(6)[0]),
        ("*/3 * * * *", minutes(6)[0]),
    ]
    await scheduler.run_due()
    assert len(recorder.calls) == 5  # each due time fires once
    assert scheduler.next_due_s() == minutes(8)[0].timestamp()


async def test_the_cursor_starts_at_creation_so_missed_runs_are_not_caught_up() -> None:
    on_the_minute, clock, recorder = make(["* * * * *"])
    await on_the_minute.run_due()
    assert recorder.calls == []  # 00:00:00 itself is not after the cursor

    mid_minute, clock, recorder = make(["* * * * *"], start=START + timedelta(seconds=30))
    assert mid_minute.next_due_s() == minutes(1)[0].timestamp()

    # A restart five minutes later starts from its own now.
    clock.advance(5 * 60)
    restarted = CronScheduler(["* * * * *"], clock, recorder)
    await restarted.run_due()
    assert recorder.calls == []
    assert restarted.next_due_s() == minutes(6)[0].timestamp()


async def test_no_crons() -> None:
    scheduler, _, recorder = make([])
    assert scheduler.next_due_s() is None
    assert scheduler.crons == ()
    await scheduler.run_due()
    await scheduler.run()  # nothing to wait for
    assert recorder.calls == []


async def test_run_due_does_not_let_one_cron_wait_for_another() -> None:
    clock = FakeClock(START)
    second_started = asyncio.Event()
    order: list[str] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        order.append(f"start {cron}")
        if cron == "0 * * * *":
            await second_started.wait()  # would deadlock if the crons ran one after the other
        else:
            second_started.set()
        order.append(f"end {cron}")

    scheduler = CronScheduler(["0 * * * *", "0 */1 * * *"], clock, fire)
    clock.advance(3600)
    await asyncio.wait_for(scheduler.run_due(), timeout=5)
    assert order == ["start 0 * * * *", "start 0 */1 * * *", "end 0 */1 * * *", "end 0 * * * *"]


async def test_run_due_raises_a_failure_of_fire_after_the_others_finish() -> None:
    clock = FakeClock(START)
    fired: list[str] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        fired.append(cron)
        if cron == "0 * * * *":
            raise RuntimeError("bug in the runtime")

    scheduler = CronScheduler(["0 * * * *", "0 */1 * * *"], clock, fire)
    clock.advance(3600)
    with pytest.raises(RuntimeError, match="bug in the runtime"):
        await scheduler.run_due()
    assert fired == ["0 * * * *", "0 */1 * * *"]
    assert scheduler.next_due_s() == minutes(120)[0].timestamp()


# --- the dev loop ----------------------------------------------------------------------------------


def fake_sleep(clock: FakeClock, naps: list[float]) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        await asyncio.sleep(0)  # let the firings just started run first, at their own time
        clock.advance(seconds)

    return sleep


async def test_run_fires_on_time_and_naps_then_approaches() -> None:
    clock = FakeClock(START + timedelta(seconds=15))
    recorder = Recorder(clock)
    naps: list[float] = []
    scheduler = CronScheduler(["* * * * *"], clock, recorder, sleep=fake_sleep(clock, naps))
    enough = asyncio.Event()

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        await recorder(cron, scheduled_time_ms)
        if len(recorder.calls) == 3:
            enough.set()

    scheduler._fire = fire
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(enough.wait(), timeout=5)
    await scheduler.close()
    assert runner.done()
    assert recorder.calls[:3] == [("* * * * *", t, t) for t in minutes(1, 2, 3)]
    # 45 s to go: a 30 s nap, a nap to half a second before, then straight to the minute.
    assert naps[:3] == [30.0, 14.5, 0.5]


async def test_a_slow_handler_does_not_delay_another_cron() -> None:
    clock = FakeClock(START)
    naps: list[float] = []
    release = asyncio.Event()
    enough = asyncio.Event()
    started: list[tuple[str, datetime, datetime]] = []
    finished: list[tuple[str, datetime]] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        started.append((cron, at(scheduled_time_ms), at(clock.now_ms())))
        if cron == "* * * * *" and scheduled_time_ms == ms(minutes(1)[0]):
            await release.wait()  # the first run of this cron hangs until the test lets it go
        finished.append((cron, at(scheduled_time_ms)))
        if sum(1 for c, _, _ in started if c == "*/2 * * * *") == 3:
            enough.set()

    scheduler = CronScheduler(["* * * * *", "*/2 * * * *"], clock, fire, sleep=fake_sleep(clock, naps))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(enough.wait(), timeout=5)

    assert ("* * * * *", minutes(1)[0]) not in finished
    every_two = [(when, began) for cron, when, began in started if cron == "*/2 * * * *"][:3]
    assert every_two == [(t, t) for t in minutes(2, 4, 6)]
    every_one = [(when, began) for cron, when, began in started if cron == "* * * * *"][:6]
    assert every_one == [(t, t) for t in minutes(1, 2, 3, 4, 5, 6)]

    release.set()
    await scheduler.close()
    assert runner.done()
    assert ("* * * * *", minutes(1)[0]) in finished


async def test_close_waits_for_running_firings() -> None:
    clock = FakeClock(START)
    release, began = asyncio.Event(), asyncio.Event()
    finished: list[datetime] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        began.set()
        await release.wait()
        finished.append(at(scheduled_time_ms))

    scheduler = CronScheduler(["* * * * *"], clock, fire, sleep=fake_sleep(clock, []))
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(began.wait(), timeout=5)
    closing = asyncio.create_task(scheduler.close())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not closing.done()
    assert not runner.done()
    release.set()
    await asyncio.wait_for(closing, timeout=5)
    assert runner.done()
    assert finished[0] == minutes(1)[0]
    count = len(finished)
    await asyncio.wait_for(scheduler.run(), timeout=5)  # a closed scheduler does not start again
    assert len(finished) == count


async def test_close_cancels_firings_still_running_after_the_grace_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(START)
    began = asyncio.Event()
    cancelled: list[bool] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        began.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    scheduler = CronScheduler(["* * * * *"], clock, fire, sleep=fake_sleep(clock, []), shutdown_grace_s=0)
    runner = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(began.wait(), timeout=5)
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        await scheduler.close()
    assert runner.done()
    assert cancelled
    assert "still running" in caplog.text


async def test_cancelling_run_stops_it() -> None:
    scheduler, clock, recorder = make(["* * * * *"])
    scheduler._sleep = fake_sleep(clock, [])
    runner = asyncio.create_task(scheduler.run())
    await until(lambda: bool(recorder.calls))
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    count = len(recorder.calls)
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(recorder.calls) == count


async def test_run_fires_only_the_latest_missed_time_after_a_long_stall(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(START)
    recorder = Recorder(clock)
    stalled = False

    async def sleep(seconds: float) -> None:
        nonlocal stalled
        await asyncio.sleep(0)
        clock.advance(seconds if stalled else seconds + 600)  # the machine was suspended for 10 minutes
        stalled = True

    scheduler = CronScheduler(["* * * * *", "0 * * * *"], clock, recorder, sleep=sleep)
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        runner = asyncio.create_task(scheduler.run())
        await until(lambda: len(recorder.calls) >= 2)
        await scheduler.close()
    assert runner.done()
    assert recorder.fired[:2] == [("* * * * *", minutes(10)[0]), ("* * * * *", minutes(11)[0])]
    assert 'Cron "* * * * *" skipped 9 run(s)' in caplog.text


async def test_run_survives_a_failing_fire(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(START)
    calls: list[datetime] = []

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        calls.append(at(scheduled_time_ms))
        if len(calls) == 1:
            raise RuntimeError("bug in the runtime")

    scheduler = CronScheduler(["* * * * *"], clock, fire, sleep=fake_sleep(clock, []))
    with caplog.at_level(logging.ERROR, logger="workerlab"):
        runner = asyncio.create_task(scheduler.run())
        await until(lambda: len(calls) >= 3)
        await scheduler.close()
    assert runner.done()
    assert calls[:3] == minutes(1, 2, 3)
    assert "failed inside workerlab" in caplog.text
    assert "bug in the runtime" in caplog.text


async def test_seconds_schedule_through_the_same_loop() -> None:
    scheduler, clock, recorder = make(["* * * * * */15"], with_seconds=True)
    await advance(scheduler, clock, 60)
    assert [when for _, when in recorder.fired] == [START + timedelta(seconds=s) for s in (15, 30, 45, 60)]
