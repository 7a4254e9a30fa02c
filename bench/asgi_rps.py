"""A FastAPI worker under `workerlab dev` against the same FastAPI app under bare uvicorn.

Prints the seconds from launching `workerlab dev` to `Ready on` for the FastAPI worker, then the
requests/s of its hello route under both servers (same client and uvicorn settings as
fetch_rps.py, best of alternating rounds), and last `ratio: <x>`, workerlab's requests/s over bare
uvicorn's. The worker is the app's module plus the few lines Cloudflare's Python Workers need:
`class Default(WorkerEntrypoint)` whose fetch calls `asgi.fetch(app, request, self.env)`.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_dev, stop, write_worker
from fetch_rps import CONNECTIONS, DURATION_S, ROUNDS, run_httpx, run_wrk, start_bare

#: Launches of `workerlab dev` timed to `Ready on`; the median is reported.
STARTUP_RUNS = 5
APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/")
    async def hello():
        return {"message": "Hello from FastAPI"}
    """
)

WORKER = textwrap.dedent(
    """
    import asgi
    from workers import WorkerEntrypoint

    from app import app


    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await asgi.fetch(app, request, self.env)
    """
)

CONFIG = 'name = "fastapi-bench"\nmain = "worker.py"\ncompatibility_date = "2025-09-29"\n'


def write_project(folder: Path) -> Path:
    config = write_worker(folder, CONFIG, WORKER)
    (folder / "app.py").write_text(APP)
    return config


def main() -> None:
    client = "wrk" if shutil.which("wrk") else "httpx"
    measure = run_wrk if client == "wrk" else run_httpx
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder / "worker")
        startups = []
        for index in range(STARTUP_RUNS):
            process, _url, seconds = start_dev(config, folder / f"startup-{index}")
            stop(process)
            startups.append(seconds)
        bare, bare_url = start_bare(folder / "worker", "app:app")
        dev, dev_url, _ = start_dev(config, folder / "state")
        try:
            measure(bare_url)  # warm-up
            measure(dev_url)
            bare_runs, dev_runs = [], []
            for _ in range(ROUNDS):
                bare_runs.append(measure(bare_url))
                dev_runs.append(measure(dev_url))
        finally:
            stop(bare)
            stop(dev)
    bare_rps, bare_p50, bare_p99 = max(bare_runs)
    rps, p50, p99 = max(dev_runs)
    print(f"client: {client} ({CONNECTIONS} connections, best of {ROUNDS} alternating {DURATION_S} s runs)")
    print(f"fastapi_startup_median: {statistics.median(startups):.3f} s")
    print(f"fastapi_startup_min: {min(startups):.3f} s")
    print(f"bare_uvicorn_fastapi_rps: {bare_rps:.0f} req/s")
    print(f"bare_uvicorn_fastapi_p50: {bare_p50:.2f} ms")
    print(f"bare_uvicorn_fastapi_p99: {bare_p99:.2f} ms")
    print(f"workerlab_fastapi_rps: {rps:.0f} req/s")
    print(f"workerlab_fastapi_p50: {p50:.2f} ms")
    print(f"workerlab_fastapi_p99: {p99:.2f} ms")
    print(f"ratio: {rps / bare_rps:.2f}")


if __name__ == "__main__":
    main()
