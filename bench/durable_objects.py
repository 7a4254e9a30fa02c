"""Durable Objects: RPC to one object, alarm lateness on the real clock, and 10,000 objects.

Each figure comes from a session on the real clock with a persist directory (what `workerlab dev`
runs), in a child process of its own so that one's memory does not count in another's.

``do rpc get+put``: sequential RPC calls to one object whose method does a storage ``get`` and a
``put`` (file-backed), per second.
``alarm lateness``: 500 existing objects set alarms spread over two seconds; how late each
``alarm()`` started after its scheduled time (p50, p95, max).
``rss 10000 objects``: 10,000 objects each store one key and set an alarm two seconds ahead;
peak resident memory of the process until every alarm has fired (each reads its key back),
and how long that took.

``miniflare do rpc get+put`` (only when ``MINIFLARE_DIR`` names a folder where
``npm install miniflare`` ran): the same RPC work on Miniflare, a JavaScript Durable Object whose
method does a storage ``get`` and ``put`` (SQLite-backed, persisted), called from its worker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, percentile, write_worker

from workerlab.clock import SystemClock
from workerlab.config import load_config
from workerlab.session import Session, SessionOptions

RPC_CALLS = 20_000
RPC_WARM_UP = 1_000
LATENESS_OBJECTS = 500
LATENESS_SPREAD_MS = 2_000
LATENESS_LEAD_MS = 500
MANY_OBJECTS = 10_000
MANY_LEAD_MS = 2_000
#: How long a part waits for its alarms before it gives up.
ALARMS_TIMEOUT_S = 120.0

CONFIG = """
name = "bench"
main = "worker.py"
compatibility_date = "2026-03-01"
compatibility_flags = ["python_workers"]

[[durable_objects.bindings]]
name = "BOXES"
class_name = "Box"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Box"]
"""

WORKER = """
import asyncio
import time

from workers import DurableObject, Response, WorkerEntrypoint

#: How late each alarm() started (ms), and whether each read its key back.
LATENESS_MS = []
FIRED = []
ALL_FIRED = asyncio.Event()
EXPECTED = [0]


class Box(DurableObject):
    async def bump(self):
        value = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", value)
        return value

    async def arm(self, value, when_ms):
        await self.ctx.storage.put("value", value)
        await self.ctx.storage.setAlarm(when_ms)

    async def schedule(self, when_ms):
        await self.ctx.storage.setAlarm(when_ms)

    async def alarm(self, alarm_info):
        LATENESS_MS.append(time.time() * 1000 - alarm_info.scheduledTime)
        FIRED.append(await self.ctx.storage.get("value") is not None)
        if len(FIRED) == EXPECTED[0]:
            ALL_FIRED.set()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("bench")
"""


async def open_session(folder: Path) -> tuple[Session, Any, Any]:
    """A session of the bench worker on the real clock, its timers running; its namespace and module."""
    config = write_worker(folder, CONFIG, WORKER)
    options = SessionOptions(persist_dir=folder / "state", clock=SystemClock(), crons=False)
    session = await Session.open([load_config(config)], options)
    session.start()
    return session, session.primary.env.BOXES, session.primary.worker.module


async def wait_for_alarms(module: Any, expected: int) -> None:
    module.EXPECTED[0] = expected
    if len(module.FIRED) < expected:
        async with asyncio.timeout(ALARMS_TIMEOUT_S):
            await module.ALL_FIRED.wait()
    if not all(module.FIRED):
        raise RuntimeError("an alarm did not find its object's key")


async def rpc(folder: Path) -> None:
    session, boxes, _ = await open_session(folder)
    try:
        stub = boxes.getByName("bench")
        for _ in range(RPC_WARM_UP):
            await stub.bump()
        started = time.perf_counter()
        for _ in range(RPC_CALLS):
            last = await stub.bump()
        elapsed = time.perf_counter() - started
        assert last == RPC_WARM_UP + RPC_CALLS
    finally:
        await session.close()
    print(f"do rpc get+put: {RPC_CALLS / elapsed:.0f} /s")


async def lateness(folder: Path) -> None:
    session, boxes, module = await open_session(folder)
    try:
        stubs = [boxes.getByName(f"late{index}") for index in range(LATENESS_OBJECTS)]
        for index, stub in enumerate(stubs):  # the objects and their files exist before the alarms
            await stub.arm(index, round(time.time() * 1000) + 3_600_000)
        await session.durable_objects().closer.wait()  # the set-up's disk work is over
        start_ms = time.time() * 1000 + LATENESS_LEAD_MS
        for index, stub in enumerate(stubs):
            await stub.schedule(round(start_ms + index * LATENESS_SPREAD_MS / LATENESS_OBJECTS))
        await wait_for_alarms(module, LATENESS_OBJECTS)
    finally:
        await session.close()
    late = module.LATENESS_MS
    print(f"alarm lateness p50: {statistics.median(late):.1f} ms")
    print(f"alarm lateness p95: {percentile(late, 0.95):.1f} ms")
    print(f"alarm lateness max: {max(late):.1f} ms")


async def many(folder: Path) -> None:
    session, boxes, module = await open_session(folder)
    started = time.perf_counter()
    try:
        for index in range(MANY_OBJECTS):
            when_ms = round(time.time() * 1000) + MANY_LEAD_MS
            await boxes.getByName(f"o{index}").arm(index, when_ms)
        armed = time.perf_counter() - started
        await wait_for_alarms(module, MANY_OBJECTS)
        elapsed = time.perf_counter() - started
    finally:
        await session.close()
    print(f"rss {MANY_OBJECTS} objects: {peak_rss_mb():.0f} MB")
    print(f"alarms fired {MANY_OBJECTS} objects: {sum(module.FIRED)} of {MANY_OBJECTS}")
    print(f"time {MANY_OBJECTS} objects: {elapsed:.1f} s (stored in {armed:.1f} s)")


MINIFLARE_SCRIPT = """
import { Miniflare } from "miniflare";
const script = `
import { DurableObject } from "cloudflare:workers";
export class Box extends DurableObject {
  async bump() {
    const value = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", value);
    return value;
  }
}
export default {
  async fetch(request, env) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    const stub = env.BOXES.getByName("bench");
    let last = 0;
    for (let i = 0; i < n; i++) last = await stub.bump();
    return Response.json({ last });
  },
};`;
const mf = new Miniflare({
  modules: true, script, compatibilityDate: "2026-03-01",
  durableObjects: { BOXES: { className: "Box", useSQLite: true } },
  durableObjectsPersist: process.argv[2],
});
await mf.ready;
await mf.dispatchFetch(`http://bench/?n=${process.argv[3]}`);
const started = performance.now();
await (await mf.dispatchFetch(`http://bench/?n=${process.argv[4]}`)).json();
const seconds = (performance.now() - started) / 1000;
console.log(`miniflare do rpc get+put: ${Math.round(Number(process.argv[4]) / seconds)} /s`);
await mf.dispose();
"""


def miniflare(folder: Path) -> None:
    """The RPC figure on Miniflare, when ``MINIFLARE_DIR`` holds an install of it."""
    install = os.environ.get("MINIFLARE_DIR")
    node = shutil.which("node")
    if not install or not node or not (Path(install) / "node_modules" / "miniflare").is_dir():
        return
    script = Path(install) / "workerlab-do-bench.mjs"  # beside node_modules, where imports resolve
    script.write_text(MINIFLARE_SCRIPT)
    try:
        command = [node, str(script), str(folder / "state"), str(RPC_WARM_UP), str(RPC_CALLS)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        script.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"the Miniflare part failed:\n{result.stderr}")
    print(result.stdout, end="")


PARTS = {"rpc": rpc, "lateness": lateness, "many": many}


def main() -> None:
    for name in PARTS:
        with tempfile.TemporaryDirectory(prefix="workerlab-do-bench-") as folder:
            result = subprocess.run(
                [sys.executable, __file__, name, folder], capture_output=True, text=True, timeout=300
            )
            if result.returncode != 0:
                raise RuntimeError(f"the {name} part failed:\n{result.stderr}")
            print(result.stdout, end="", flush=True)
    with tempfile.TemporaryDirectory(prefix="workerlab-do-bench-") as folder:
        miniflare(Path(folder))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        asyncio.run(PARTS[sys.argv[1]](Path(sys.argv[2])))
    else:
        main()
