"""Draining a backlog of 1,000,000 queued messages: peak memory and throughput over time.

The producer (``env.JOBS.sendBatch`` through a session, persisted WAL store) queues the
whole backlog first; then the consumer loop of ``workerlab dev`` drains it in batches of
100 to a trivial handler. The rate is reported per tenth of the backlog to show it stays
steady, and peak RSS shows that memory does not grow with the backlog. Prints
``name: value unit`` lines.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, send_backlog

from workerlab.bindings.queue import QueueProducer
from workerlab.config import QueueConsumer, WorkerConfig
from workerlab.session import Session, SessionOptions

#: Messages in the backlog.
BACKLOG = 1_000_000
#: The drain rate is reported for each of this many equal slices of the backlog.
SLICES = 10

WORKER = textwrap.dedent(
    """
    import asyncio
    import time

    received = 0
    slice_size = 0
    marks = []          # perf_counter() each time another slice of the backlog was consumed
    finished = asyncio.Event()

    async def queue(batch, env, ctx):
        global received
        before = received // slice_size
        received += len(batch.messages)
        if received // slice_size != before:
            marks.append(time.perf_counter())
        if received >= slice_size * len_slices:
            finished.set()
    """
)


async def run(folder: Path) -> None:
    main = folder / "worker.py"
    main.write_text(WORKER.replace("len_slices", str(SLICES)))
    config = WorkerConfig(
        path=folder / "wrangler.toml",
        name="backlog-bench",
        main=main,
        bindings=(QueueProducer(binding="JOBS", queue="jobs"),),
        consumers=(QueueConsumer("jobs", max_batch_size=100, max_batch_timeout_s=1),),
    )
    session = await Session.open([config], SessionOptions(persist_dir=folder / "state"))
    runtime = session.primary
    module = runtime.worker.module
    module.slice_size = BACKLOG // SLICES
    jobs = runtime.env.JOBS
    try:
        fill_s = await send_backlog(jobs, BACKLOG)
        rss_after_fill_mb = peak_rss_mb()

        drain_started = time.perf_counter()
        session.start()
        await asyncio.wait_for(module.finished.wait(), timeout=120)
        drain_s = time.perf_counter() - drain_started
    finally:
        await session.close()

    edges = [drain_started, *module.marks]
    rates = [module.slice_size / (end - begin) for begin, end in itertools.pairwise(edges)]
    print(f"backlog_messages: {BACKLOG} messages")
    print(f"backlog_fill_rate: {BACKLOG / fill_s:.0f} messages/s")
    print(f"backlog_drain_rate: {BACKLOG / drain_s:.0f} messages/s")
    print(f"backlog_drain_rate_first_slice: {rates[0]:.0f} messages/s")
    print(f"backlog_drain_rate_last_slice: {rates[-1]:.0f} messages/s")
    print(f"backlog_drain_rate_slowest_slice: {min(rates):.0f} messages/s")
    print(f"backlog_drain_rate_fastest_slice: {max(rates):.0f} messages/s")
    print(f"backlog_rss_after_fill: {rss_after_fill_mb:.1f} MB")
    print(f"backlog_peak_rss: {peak_rss_mb():.1f} MB")
    print(f"backlog_elapsed: {fill_s + drain_s:.1f} s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="workerlab-backlog-bench-") as folder:
        asyncio.run(run(Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
