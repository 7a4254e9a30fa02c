"""Cron firing lateness through ``CronScheduler.run()`` on the real clock.

Waiting for real minute boundaries would take minutes, so the crons here carry a sixth,
seconds field (a benchmark-only option); they go through the same loop that fires
``workerlab dev``'s minute crons. One cron's handler is slow (it takes longer than its
period) to show that it does not hold back the others. Lateness is the wall-clock time
at which ``fire`` starts minus the scheduled time.
"""

from __future__ import annotations

import asyncio
import sys
import time
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import percentile

from workerlab.clock import SystemClock
from workerlab.cron import CronSchedule, CronScheduler

RUN_S = 20.0
FAST_CRONS = ["* * * * * *", "* * * * * */2", "* * * * * */5"]
SLOW_CRON = "* * * * * */3"
SLOW_HANDLER_S = 4.0
#: Expressions whose next firing time is computed, to show what a schedule costs.
SCHEDULE_SAMPLES = ["*/5 * * * *", "59 23 LW * *", "0 18 * * 6L", "0 0 * FEB 1#5"]


async def measure_lateness() -> tuple[list[float], int]:
    clock = SystemClock()
    lateness_ms: list[float] = []
    slow_runs = 0

    async def fire(cron: str, scheduled_time_ms: int) -> None:
        nonlocal slow_runs
        late_ms = time.time() * 1000 - scheduled_time_ms
        if cron == SLOW_CRON:
            slow_runs += 1
            await asyncio.sleep(SLOW_HANDLER_S)
        else:
            lateness_ms.append(late_ms)

    scheduler = CronScheduler([*FAST_CRONS, SLOW_CRON], clock, fire, with_seconds=True)
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(RUN_S)
    await scheduler.close()
    await asyncio.gather(runner, return_exceptions=True)
    return lateness_ms, slow_runs


def schedule_cost_us() -> float:
    """Microseconds per next firing time, over a mix of plain and L/W/# crons."""
    count = 50
    started = time.perf_counter()
    for expr in SCHEDULE_SAMPLES:
        list(islice(CronSchedule(expr).times_after(time.time()), count))
    return (time.perf_counter() - started) / (count * len(SCHEDULE_SAMPLES)) * 1e6


def main() -> None:
    lateness_ms, slow_runs = asyncio.run(measure_lateness())
    print(f"cron_firings: {len(lateness_ms)} count")
    print(f"cron_slow_handler_runs: {slow_runs} count")
    print(f"cron_lateness_p50: {percentile(lateness_ms, 0.50):.2f} ms")
    print(f"cron_lateness_p95: {percentile(lateness_ms, 0.95):.2f} ms")
    print(f"cron_lateness_max: {max(lateness_ms):.2f} ms")
    print(f"cron_next_time: {schedule_cost_us():.1f} us")


if __name__ == "__main__":
    main()
