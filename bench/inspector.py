"""The inspector with 1,000,000 queued messages, and the memory of its event history.

``queues api``: a session whose queue ``jobs`` holds ``BACKLOG`` messages (sent through the
producer binding, persisted WAL store); the inspector's queue routes are called in-process through
the same ASGI app `workerlab dev` serves (``GET queues``, the first page of messages, pages further
in by cursor, the dropped messages), ``ROUNDS`` times each; the time of each call is the server's
time. ``queues page``: `workerlab dev` on that persist directory and, when Chromium and Playwright
are installed, the queues page of ``jobs`` opened in headless Chromium: first contentful paint, and
the time until its first page of messages is on screen. ``event history``: a timeline filled to
its bound with typical entries (requests, batches of ten, some failures with tracebacks), then with
failures only, measured with tracemalloc. Prints ``name: value unit`` lines.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import percentile, send_backlog, start_dev, stop, write_worker

from workerlab.clock import SystemClock
from workerlab.config import load_config
from workerlab.events import BatchDelivered, EventBus, RequestServed, WaitUntilFailed
from workerlab.inspector import INSPECTOR_PATH, InspectorApp
from workerlab.inspector.timeline import MAX_TIMELINE_BYTES, MAX_TIMELINE_EVENTS, Timeline
from workerlab.queues.broker import MessageRecord
from workerlab.server import RuntimeSlot, WorkerApp
from workerlab.session import Session, SessionOptions

#: Messages queued before the API is measured.
BACKLOG = int(os.environ.get("INSPECTOR_BENCH_BACKLOG", "1000000"))
#: Calls of each route.
ROUNDS = 40
#: Messages per page, as the page asks for them.
PAGE_SIZE = 50
#: Pages followed by cursor for the "deeper pages" route.
DEEP_PAGES = 20
#: The target of the issue: server time per API call.
TARGET_MS = 300

WORKER = "async def fetch(request, env):\n    return None\n"
CONFIG = """
name = "inspector-bench"
main = "worker.py"
[[queues.producers]]
binding = "JOBS"
queue = "jobs"
"""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    response = await client.get(f"{INSPECTOR_PATH}api/{path}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed_ms, response.json()


async def measure_api(session: Session) -> dict[str, list[float]]:
    app = WorkerApp(RuntimeSlot(session.primary), mounts=[(INSPECTOR_PATH, InspectorApp())])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    times: dict[str, list[float]] = {"queues": [], "first page": [], "deeper pages": [], "dropped": []}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as client:
        _, listing = await timed(client, "queues")
        assert any(q["name"] == "jobs" and q["pending"] == BACKLOG for q in listing["queues"]), listing  # type: ignore[union-attr, index]
        for _ in range(ROUNDS):
            elapsed_ms, _ = await timed(client, "queues")
            times["queues"].append(elapsed_ms)
            elapsed_ms, page = await timed(client, f"queues/jobs/messages?limit={PAGE_SIZE}")
            times["first page"].append(elapsed_ms)
            elapsed_ms, _ = await timed(client, f"queues/jobs/dropped?limit={PAGE_SIZE}")
            times["dropped"].append(elapsed_ms)
        cursor = page.get("cursor")
        for _ in range(ROUNDS // 4):
            following = cursor
            for _ in range(DEEP_PAGES):
                if not following:
                    break
                elapsed_ms, deeper = await timed(
                    client, f"queues/jobs/messages?limit={PAGE_SIZE}&cursor={following}"
                )
                times["deeper pages"].append(elapsed_ms)
                following = deeper.get("cursor")
    return times


def first_paint(folder: Path) -> tuple[float, float] | None:
    """(first contentful paint, messages on screen) in ms, or None without Chromium and Playwright."""
    chromium = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    process, url, _ = start_dev(folder / "wrangler.toml", folder / "state", "--no-crons")
    profile = tempfile.mkdtemp(prefix="workerlab-bench-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium, args=CHROMIUM_FLAGS
            )
            page = context.new_page()
            page.goto(f"{url}{INSPECTOR_PATH}#/workers")  # load the scripts once, as a second visit would
            page.locator("#live[data-state='live']").wait_for()
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"{url}{INSPECTOR_PATH}#/queues/jobs")
            page.locator("[data-count='pending']").wait_for(timeout=60_000)
            page.locator("section", has_text="Messages").locator("tbody tr").first.wait_for(timeout=60_000)
            shown_ms = (time.perf_counter() - started) * 1000
            paint_ms = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
            )
            context.close()
        return float(paint_ms), shown_ms
    finally:
        stop(process)
        shutil.rmtree(profile, ignore_errors=True)


def history_memory() -> tuple[int, float, float]:
    """Entries kept, MB of a typical full history, MB of a history of large failures only."""

    def failing() -> ValueError:
        try:
            raise ValueError("the import of row 42 failed: " + "x" * 300)
        except ValueError as error:
            return error

    sent = datetime(2026, 1, 1, tzinfo=UTC)
    messages = [MessageRecord(f"{i:032x}", None, 1, sent) for i in range(10)]
    error = failing()

    def fill_with(kinds: str) -> tuple[Timeline, float]:
        tracemalloc.start()
        timeline, bus = Timeline(), EventBus()
        timeline.attach(bus, SystemClock())
        for index in range(MAX_TIMELINE_EVENTS * 2):
            if kinds == "failures":
                bus.emit(WaitUntilFailed("bench", ValueError("y" * 20_000)))
            elif index % 100 == 0:
                bus.emit(BatchDelivered("bench", "jobs", messages, [], "exception", error, 3.0))
            elif index % 2:
                bus.emit(BatchDelivered("bench", "jobs", messages, list(range(10)), "ok", None, 3.0))
            else:
                bus.emit(RequestServed("bench", "GET", f"/orders/{index}?page=2", 200, 1.5))
        used_mb = tracemalloc.get_traced_memory()[0] / 1024 / 1024
        tracemalloc.stop()
        return timeline, used_mb

    typical, typical_mb = fill_with("typical")
    _, failures_mb = fill_with("failures")
    return len(typical), typical_mb, failures_mb


async def queue_api(folder: Path) -> None:
    config = load_config(write_worker(folder, CONFIG, WORKER))  # dev serves the same files later
    session = await Session.open([config], SessionOptions(persist_dir=folder / "state"))
    try:
        fill_s = await send_backlog(session.primary.env.JOBS, BACKLOG)
        times = await measure_api(session)
    finally:
        await session.close()
    every = [ms for route in times.values() for ms in route]
    print(f"queued messages: {BACKLOG}")
    print(f"fill time: {fill_s:.1f} s")
    for route, values in times.items():
        if values:
            print(f"queues api {route} p50: {percentile(values, 0.5):.1f} ms")
            print(f"queues api {route} p95: {percentile(values, 0.95):.1f} ms")
    p95 = percentile(every, 0.95)
    print(f"queues api p95: {p95:.1f} ms")
    print(f"queues api target: {TARGET_MS} ms ({'met' if p95 <= TARGET_MS else 'missed'})")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="workerlab-inspector-bench-") as name:
        folder = Path(name)
        asyncio.run(queue_api(folder))
        painted = first_paint(folder)  # Playwright's sync API runs outside any event loop
    if painted is None:
        print("queues page first paint: skipped (no Chromium or no Playwright)")
    else:
        paint_ms, shown_ms = painted
        print(f"queues page first contentful paint: {paint_ms:.0f} ms")
        print(f"queues page messages shown: {shown_ms:.0f} ms")
    kept, typical_mb, failures_mb = history_memory()
    bound_mib = MAX_TIMELINE_BYTES / 2**20
    print(f"event history entries kept: {kept} (bound {MAX_TIMELINE_EVENTS})")
    print(f"event history memory, typical: {typical_mb:.1f} MB")
    print(f"event history memory, large failures only: {failures_mb:.1f} MB (bound {bound_mib:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
