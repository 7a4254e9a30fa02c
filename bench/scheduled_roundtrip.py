"""Round trip of `GET /cdn-cgi/handler/scheduled` against `workerlab dev` with a trivial handler.

The client is a raw keep-alive HTTP/1.1 socket, so the figure is the server's, not a client library's.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, start_dev, stop, write_worker

REQUESTS = 3000
WORKER = "async def scheduled(controller, env, ctx):\n    pass\n"
CONFIG = 'name = "bench"\nmain = "worker.py"\n[triggers]\ncrons = ["*/5 * * * *"]\n'


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        process, url, _ = start_dev(write_worker(folder, CONFIG, WORKER), folder / "state", "--no-crons")
        try:
            parts = urlsplit(url)
            request = (
                f"GET /cdn-cgi/handler/scheduled?cron=*/5+*+*+*+* HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
            ).encode()
            timings = []
            with socket.create_connection((parts.hostname, parts.port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(REQUESTS):
                    started = time.perf_counter()
                    sock.sendall(request)
                    reply = b""
                    while not reply.endswith(b"\r\n\r\nok"):
                        chunk = sock.recv(4096)
                        if not chunk:
                            raise RuntimeError(f"connection closed; got {reply!r}")
                        reply += chunk
                    timings.append((time.perf_counter() - started) * 1000)
        finally:
            stop(process)
    timings = timings[200:]  # warm-up
    print(f"scheduled_roundtrip_p50: {statistics.median(timings):.3f} ms")
    print(f"scheduled_roundtrip_p95: {percentile(timings, 0.95):.3f} ms")


if __name__ == "__main__":
    main()
