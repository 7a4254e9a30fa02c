"""Shared pieces of the benchmarks: write a worker, start `workerlab dev` and wait for Ready, fill a
queue, read memory, take percentiles."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELLO_CONFIG = ROOT / "sample_workers" / "hello" / "wrangler.toml"
READY = re.compile(rb"Ready on (http://\S+)")
#: Messages per sendBatch while filling a queue (Cloudflare's most).
SEND_BATCH_SIZE = 100


def write_worker(folder: Path, config: str, source: str) -> Path:
    """Write ``worker.py`` and ``wrangler.toml`` (both dedented) in ``folder``; return the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(source))
    path = folder / "wrangler.toml"
    path.write_text(textwrap.dedent(config))
    return path


def workerlab_command() -> list[str]:
    script = Path(sys.executable).parent / "workerlab"
    if script.exists():
        return [str(script)]
    found = shutil.which("workerlab")
    return [found] if found else [sys.executable, "-m", "workerlab"]


def start_dev(
    config: Path | Sequence[Path], persist_dir: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start `workerlab dev` (one config, or several) on a free port; return the process, its URL
    and seconds to Ready."""
    configs = [config] if isinstance(config, Path) else list(config)
    command = [
        *workerlab_command(),
        "dev",
        *(argument for path in configs for argument in ("-c", str(path))),
        "--port",
        "0",
        "--no-reload",
        "--persist-to",
        str(persist_dir),
        *extra,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    for line in process.stdout:
        match = READY.search(line)
        if match:
            return process, match.group(1).decode(), time.perf_counter() - started
    raise RuntimeError(f"workerlab dev exited with {process.wait()} before printing Ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=35)
    except subprocess.TimeoutExpired:
        process.kill()


async def send_backlog(jobs: Any, count: int) -> float:
    """Queue ``count`` messages through the producer binding ``jobs``, ``SEND_BATCH_SIZE`` per
    sendBatch; return the seconds it took."""
    started = time.perf_counter()
    for start in range(0, count, SEND_BATCH_SIZE):
        await jobs.sendBatch(
            [{"body": {"row": start + i, "file": "import.csv"}} for i in range(SEND_BATCH_SIZE)]
        )
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
