"""Pull consumer throughput over HTTP: `workerlab dev` serving Cloudflare's queue REST API.

A backlog is published over the API (batches of 100), then drained by pull consumers on
loopback, each pulling batches of 100 and acking every batch in one call, until the queue is
empty. Prints ``name: value unit`` lines; ``pull`` is the figure to watch (target: 20,000 msg/s).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_dev, stop, write_worker

#: Messages in the backlog.
MESSAGES = 60_000
#: Messages per pull and per published batch (Cloudflare's most).
BATCH = 100
#: Pull consumers draining at once.
CONSUMERS = 4
#: Runs of the drain; the best counts (the machine is shared).
ROUNDS = 3

API = "/cdn-cgi/workerlab/api/client/v4/accounts/bench/queues/jobs/messages"
CONFIG = """
name = "pull-bench"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
"""
WORKER = "async def fetch(request, env, ctx):\n    from workers import Response\n    return Response('ok')\n"
HEADERS = {"authorization": "Bearer bench"}


async def fill(client: httpx.AsyncClient) -> float:
    """Publish the backlog; return messages/s."""
    body = {"messages": [{"body": {"job": "resize", "image": "photo.jpg", "width": 640}}] * BATCH}
    started = time.perf_counter()
    for _ in range(MESSAGES // BATCH):
        response = await client.post(API + "/batch", json=body)
        response.raise_for_status()
    return MESSAGES / (time.perf_counter() - started)


async def consume(client: httpx.AsyncClient) -> int:
    """Pull and ack batches until a pull comes back empty; return the messages consumed."""
    consumed = 0
    while True:
        pulled = await client.post(API + "/pull", json={"batch_size": BATCH, "visibility_timeout_ms": 60_000})
        messages = pulled.json()["result"]["messages"]
        if not messages:
            return consumed
        acked = await client.post(
            API + "/ack", json={"acks": [{"lease_id": m["lease_id"]} for m in messages]}
        )
        consumed += acked.json()["result"]["ackCount"]


async def drain(client: httpx.AsyncClient) -> float:
    """Drain the backlog with ``CONSUMERS`` pull consumers; return messages/s."""
    started = time.perf_counter()
    counts = await asyncio.gather(*(consume(client) for _ in range(CONSUMERS)))
    elapsed_s = time.perf_counter() - started
    assert sum(counts) == MESSAGES, counts
    return MESSAGES / elapsed_s


async def run(url: str) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=CONSUMERS, max_keepalive_connections=CONSUMERS)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, limits=limits, timeout=60) as client:
        fill_rates, pull_rates = [], []
        for _ in range(ROUNDS):
            fill_rates.append(await fill(client))
            pull_rates.append(await drain(client))
    return max(fill_rates), max(pull_rates)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        process, url, _ = start_dev(write_worker(root, CONFIG, WORKER), root / "state", "--no-crons")
        try:
            publish_rate, pull_rate = asyncio.run(run(url))
        finally:
            stop(process)
    print(f"pull: {pull_rate:.0f} msg/s")
    print(f"pull_publish: {publish_rate:.0f} msg/s")
    print(f"pull_batch: {BATCH} messages")
    print(f"pull_consumers: {CONSUMERS} clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
