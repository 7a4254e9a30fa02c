"""End-to-end queue throughput on the durable store, and producer latency.

Producer code calls ``env.JOBS.sendBatch`` (100 messages a call) while the consumer loop of
``workerlab dev`` delivers batches of up to 100 to a trivial handler, all through the
session on a persisted WAL store (synchronous=NORMAL). Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEND_BATCH_SIZE

from workerlab.bindings.queue import QueueProducer
from workerlab.config import QueueConsumer, WorkerConfig
from workerlab.session import Session, SessionOptions

#: Messages sent in the throughput run.
MESSAGES = 200_000
#: Single sends timed for the send latency figures.
SINGLE_SENDS = 2_000

WORKER = textwrap.dedent(
    """
    import asyncio

    received = 0
    expected = 0
    finished = asyncio.Event()

    async def queue(batch, env, ctx):
        global received
        received += len(batch.messages)
        if received >= expected:
            finished.set()
    """
)


def percentile_ms(samples_s: list[float], fraction: float) -> float:
    ordered = sorted(samples_s)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def run(folder: Path) -> None:
    main = folder / "worker.py"
    main.write_text(WORKER)
    config = WorkerConfig(
        path=folder / "wrangler.toml",
        name="queue-bench",
        main=main,
        bindings=(QueueProducer(binding="JOBS", queue="jobs"),),
        consumers=(QueueConsumer("jobs", max_batch_size=100, max_batch_timeout_s=1),),
    )
    session = await Session.open([config], SessionOptions(persist_dir=folder / "state"))
    runtime = session.primary
    module = runtime.worker.module
    jobs = runtime.env.JOBS
    session.start()
    try:
        module.expected = MESSAGES
        body = {"job": "resize", "image": "photo.jpg", "width": 640}
        batch_latencies_s: list[float] = []
        started = time.perf_counter()
        for _ in range(MESSAGES // SEND_BATCH_SIZE):
            sent = time.perf_counter()
            await jobs.sendBatch([{"body": body}] * SEND_BATCH_SIZE)
            batch_latencies_s.append(time.perf_counter() - sent)
            await asyncio.sleep(0)  # producer code yields between requests, as a server would
        await asyncio.wait_for(module.finished.wait(), timeout=50)
        elapsed_s = time.perf_counter() - started

        module.received, module.expected = 0, SINGLE_SENDS
        module.finished.clear()
        send_latencies_s: list[float] = []
        for n in range(SINGLE_SENDS):
            sent = time.perf_counter()
            await jobs.send({"n": n})
            send_latencies_s.append(time.perf_counter() - sent)
            await asyncio.sleep(0)
        await asyncio.wait_for(module.finished.wait(), timeout=20)
    finally:
        await session.close()

    print(f"queue_throughput: {MESSAGES / elapsed_s:.0f} messages/s")
    print(f"queue_messages: {MESSAGES} messages")
    print(f"queue_elapsed: {elapsed_s:.2f} s")
    print(f"send_batch_p50: {percentile_ms(batch_latencies_s, 0.50):.3f} ms")
    print(f"send_batch_p95: {percentile_ms(batch_latencies_s, 0.95):.3f} ms")
    print(f"send_p50: {percentile_ms(send_latencies_s, 0.50):.3f} ms")
    print(f"send_p95: {percentile_ms(send_latencies_s, 0.95):.3f} ms")
    print(f"send_mean: {statistics.fmean(send_latencies_s) * 1000:.3f} ms")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="workerlab-queue-bench-") as folder:
        asyncio.run(run(Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
