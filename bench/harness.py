"""Microseconds per in-process dispatch through the pytest harness API (SPEC §9).

A trivial worker (fetch returns a Response, queue and scheduled return) is loaded once
with ``Worker.start``, as the ``worker`` fixture loads it; then each call is timed in a
tight loop: ``worker.fetch``, ``worker.queue`` with a batch of 10 messages, and
``worker.scheduled``. The cost of the fixture itself (start + close) is reported too.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_worker

from workerlab.testing import Worker

#: Budget per fetch dispatch (the harness must stay cheap enough for large test suites).
FETCH_BUDGET_US = 50.0
BATCH_SIZE = 10
ROUNDS = 5
CALLS = {"fetch": 4_000, "queue": 2_000, "scheduled": 4_000}
STARTS = 30

WORKER = """
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    async def queue(self, batch, env, ctx):
        pass

    async def scheduled(self, controller, env, ctx):
        pass
"""

CONFIG = """
name = "bench"
main = "worker.py"

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"

[[kv_namespaces]]
binding = "CACHE"

[triggers]
crons = ["0 * * * *"]
"""


async def per_call_us(call: Callable[[], Awaitable[object]], calls: int) -> float:
    """The best of ``ROUNDS`` rounds, in microseconds per call (the least disturbed by the machine)."""
    for _ in range(calls // 10):
        await call()
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            await call()
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return min(rounds)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = write_worker(Path(folder), CONFIG, WORKER)

        starts_ms = []
        for _ in range(STARTS):
            started = time.perf_counter()
            worker = await Worker.start(config)
            await worker.close()
            starts_ms.append((time.perf_counter() - started) * 1000)

        worker = await Worker.start(config)
        bodies = [{"n": n} for n in range(BATCH_SIZE)]
        try:
            fetch_us = await per_call_us(lambda: worker.fetch("/"), CALLS["fetch"])
            queue_us = await per_call_us(lambda: worker.queue("jobs", bodies), CALLS["queue"])
            scheduled_us = await per_call_us(lambda: worker.scheduled("0 * * * *"), CALLS["scheduled"])
        finally:
            await worker.close()

    print(f"harness_fetch_dispatch: {fetch_us:.1f} us")
    print(f"harness_fetch_budget: {FETCH_BUDGET_US:.1f} us")
    print(f"harness_queue_batch_{BATCH_SIZE}: {queue_us:.1f} us")
    print(f"harness_scheduled: {scheduled_us:.1f} us")
    print(f"harness_fixture_start_close_median: {statistics.median(starts_ms):.2f} ms")
    if fetch_us > FETCH_BUDGET_US:
        print(f"harness_fetch_dispatch is over its budget of {FETCH_BUDGET_US:g} us", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
