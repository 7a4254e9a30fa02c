"""Requests/s and latency of the hello worker under `workerlab dev`, against a bare uvicorn app.

Both servers run in the same run, with the same client (wrk when installed, else a bounded
httpx client), one after the other; the ratio is workerlab's requests/s over bare uvicorn's.
Also prints the RSS of `workerlab dev` after each of two load rounds, to show it stays flat.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HELLO_CONFIG, percentile, rss_mb, start_dev, stop

CONNECTIONS = 64
DURATION_S = 4
#: Alternating rounds per server; the best round of each counts, so a burst of other load on the
#: machine during one round does not decide the ratio.
ROUNDS = 3
BODY = b"Hello from workerlab!"

# The same bytes on the wire as the hello worker: body, content-type and content-length.
BARE_APP = textwrap.dedent(
    """
    BODY = BODY_REPR
    HEADERS = [(b"content-type", b"text/plain;charset=UTF-8"), (b"content-length", str(len(BODY)).encode())]

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})
    """
).replace("BODY_REPR", repr(BODY))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bare(folder: Path, app: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``app`` ("module:attribute" in ``folder``; by default a bare hello app written there) under
    uvicorn with the settings `workerlab dev` uses, so that a ratio measures workerlab alone."""
    if app is None:
        (folder / "bare_app.py").write_text(BARE_APP)
        app = "bare_app:app"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            # the uvicorn settings `workerlab dev` uses, so the ratio measures workerlab alone
            "--no-proxy-headers",
            "--no-server-header",
            "--log-level",
            "warning",
            "--app-dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("bare uvicorn did not start")


def run_wrk(url: str) -> tuple[float, float, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency", url + "/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, latency_ms("50"), latency_ms("99")


def run_httpx(url: str) -> tuple[float, float, float]:
    import httpx

    async def go() -> tuple[float, float, float]:
        latencies: list[float] = []
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(limits=limits) as client:
            deadline = time.perf_counter() + DURATION_S

            async def loop() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    await client.get(url + "/")
                    latencies.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(CONNECTIONS)))
            elapsed = time.perf_counter() - started
        return len(latencies) / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)

    return asyncio.run(go())


def main() -> None:
    client = "wrk" if shutil.which("wrk") else "httpx"
    measure = run_wrk if client == "wrk" else run_httpx
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare, bare_url = start_bare(folder)
        dev, dev_url, _ = start_dev(HELLO_CONFIG, folder / "state")
        try:
            rss_start = rss_mb(dev.pid)
            measure(bare_url)  # warm-up
            measure(dev_url)
            rss_after_first = rss_mb(dev.pid)
            bare_runs, dev_runs = [], []
            for _ in range(ROUNDS):
                bare_runs.append(measure(bare_url))
                dev_runs.append(measure(dev_url))
            rss_after_second = rss_mb(dev.pid)
        finally:
            stop(bare)
            stop(dev)
    bare_rps, bare_p50, bare_p99 = max(bare_runs)
    rps, p50, p99 = max(dev_runs)
    print(f"client: {client} ({CONNECTIONS} connections, best of {ROUNDS} alternating {DURATION_S} s runs)")
    print(f"bare_uvicorn_rps: {bare_rps:.0f} req/s")
    print(f"bare_uvicorn_p50: {bare_p50:.2f} ms")
    print(f"bare_uvicorn_p99: {bare_p99:.2f} ms")
    print(f"workerlab_rps: {rps:.0f} req/s")
    print(f"workerlab_p50: {p50:.2f} ms")
    print(f"workerlab_p99: {p99:.2f} ms")
    print(f"workerlab_vs_bare_ratio: {rps / bare_rps:.2f} x")
    print(f"workerlab_rss_idle: {rss_start:.1f} MB")
    print(f"workerlab_rss_after_warmup: {rss_after_first:.1f} MB")
    print(f"workerlab_rss_after_load: {rss_after_second:.1f} MB")


if __name__ == "__main__":
    main()
