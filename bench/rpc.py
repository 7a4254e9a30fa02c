"""Several workers in one process: RPC and service-binding fetch round trips, and the cost of
loading ten workers under `workerlab dev` (memory, and seconds to `Ready on`).

Prints ``rpc p50: <n> us``, ``service fetch p50: <n> us``, ``rss 10 workers: <n> MB`` and
``startup 10 workers: <n> s``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, rss_mb, start_dev, stop, write_worker

from workerlab.config import load_config
from workerlab.session import Session, SessionOptions

CALLS = 20_000
WORKERS = 10
STARTUP_RUNS = 7

CALLER = """
name = "caller"
main = "worker.py"
[[services]]
binding = "TARGET"
service = "target"
"""
TARGET = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("pong")

    async def add(self, a, b):
        return a + b
"""


async def round_trips(root: Path) -> tuple[float, float]:
    caller = write_worker(root / "caller", CALLER, "async def fetch(request, env):\n    pass\n")
    target = write_worker(root / "target", 'name = "target"\nmain = "worker.py"\n', TARGET)
    session = await Session.open([load_config(caller), load_config(target)], SessionOptions())
    try:
        service = session.primary.env.TARGET
        rpc_s, fetch_s = [], []
        for _ in range(CALLS):
            started = time.perf_counter()
            await service.add(1, 2)
            rpc_s.append(time.perf_counter() - started)
        for _ in range(CALLS):
            started = time.perf_counter()
            response = await service.fetch("http://target/ping")
            fetch_s.append(time.perf_counter() - started)
        assert await response.text() == "pong"
    finally:
        await session.close()
    return statistics.median(rpc_s) * 1e6, statistics.median(fetch_s) * 1e6


def ten_workers(root: Path) -> list[Path]:
    configs = []
    for index in range(WORKERS):
        services = "".join(
            f'[[services]]\nbinding = "W{other}"\nservice = "w{other}"\n'
            for other in range(WORKERS)
            if other != index
        )
        config = (
            f'name = "w{index}"\nmain = "worker.py"\n[[kv_namespaces]]\nbinding = "KV"\nid = "kv{index}"\n'
        )
        configs.append(write_worker(root / f"w{index}", config + services, TARGET))
    return configs


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="workerlab-rpc-bench-") as folder:
        root = Path(folder)
        rpc_us, fetch_us = asyncio.run(round_trips(root))
        configs = ten_workers(root / "ten")
        startups, rss = [], []
        for run in range(STARTUP_RUNS):
            process, _url, seconds = start_dev(configs, root / f"state{run}")
            startups.append(seconds)
            rss.append(rss_mb(process.pid))
            stop(process)
    print(f"rpc p50: {rpc_us:.1f} us")
    print(f"service fetch p50: {fetch_us:.1f} us")
    print(f"rss 10 workers: {statistics.median(rss):.1f} MB")
    print(f"startup 10 workers: {statistics.median(startups):.3f} s")
    print(f"startup 10 workers p90: {percentile(startups, 0.9):.3f} s")


if __name__ == "__main__":
    main()
