"""Crash safety: a process killed with SIGKILL loses no storage write and no alarm it acknowledged."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from test_durable_support import LabFactory

from workerlab.clock import FakeClock
from workerlab.compat.entrypoint import DurableObject
from workerlab.durable import run_in_durable_object

pytest_plugins = ["test_durable_support"]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

#: The child: one worker "w" with a class Counter, on the persist directory given; it prints a
#: line for every call that returned (what it acknowledged) and stops by itself.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from workerlab.clock import FakeClock
    from workerlab.compat.entrypoint import DurableObject
    from workerlab.durable import DurableObjects
    from workerlab.events import EventBus

    class Counter(DurableObject):
        def __init__(self, ctx, env):
            super().__init__(ctx, env)
            ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (i INTEGER)")

        async def write(self, i):
            await self.ctx.storage.put(f"k{i:06d}", {"i": i, "pad": "x" * 200})
            async def both(txn):
                await txn.put("last", i)
                self.ctx.storage.sql.exec("INSERT INTO log VALUES (?)", i)
            await self.ctx.storage.transaction(both)
            await self.ctx.storage.setAlarm(10**13 + i)

        async def arm(self):
            await self.ctx.storage.setAlarm(1)

        async def alarm(self, info):
            print("started", info.retryCount, flush=True)
            # Hold the run open until the parent kills this process (or goes away: EOF).
            await asyncio.to_thread(sys.stdin.readline)

    async def main(persist, mode):
        engine = DurableObjects(Path(persist), clock=FakeClock(), bus=EventBus())
        ns = engine.namespace(Counter, worker="w", class_name="Counter", storage="sqlite", env=dict)
        if mode == "writes":
            for i in range(20_000):
                await ns.getByName(f"o{i % 5}").write(i)
                print("ack", i % 5, i, flush=True)
        else:
            await ns.getByName("a").arm()
            print("armed", flush=True)
            await engine.alarms.run_due()
        await engine.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


class KilledChild:
    """The child process, its output read line by line with a deadline, and killed."""

    def __init__(self, persist: Path, mode: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(persist), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        # A thread reads the pipe: a line already buffered is never missed, as select() would.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self._lines.put(text.strip())

    def line(self, timeout_s: float = 30.0) -> str:
        try:
            return self._lines.get(timeout=timeout_s)
        except queue.Empty:
            self.kill()
            assert self.process.stderr is not None
            raise AssertionError(
                f"the child said nothing within {timeout_s} s; its stderr:\n{self.process.stderr.read()}"
            ) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        self._reader.join(timeout=30)  # it ends at the end of the output of the killed child
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Counter(DurableObject):
    """The child's class as the restarted process sees it."""

    alarms: list[int] = []

    async def alarm(self, info: Any) -> None:
        Counter.alarms.append(info.retryCount)


async def test_killed_mid_writes_loses_nothing_acknowledged(make_lab: LabFactory, tmp_path: Path) -> None:
    child = KilledChild(tmp_path, "writes")
    acked: dict[str, list[int]] = {}
    try:
        for _ in range(400):
            _, name, index = child.line().split()
            acked.setdefault(f"o{name}", []).append(int(index))
    finally:
        child.close()  # killed somewhere in the middle of the next writes

    lab = make_lab(tmp_path, clock=FakeClock())
    ns = lab.namespace(Counter, worker="w")
    for name, indexes in acked.items():
        storage = await run_in_durable_object(ns.getByName(name), lambda instance, ctx: ctx.storage)
        stored = await storage.list(prefix="k")
        assert {f"k{i:06d}" for i in indexes} <= set(stored)
        assert all(value.i == int(key[1:]) for key, value in stored.items())  # nothing torn
        last = await storage.get("last")
        logged = [row.i for row in storage.sql.exec("SELECT i FROM log ORDER BY i")]
        assert last >= indexes[-1] and logged[-1] == last  # the transaction: both or neither
        assert set(indexes) <= set(logged)
        assert await storage.getAlarm() >= 10**13 + indexes[-1]


async def test_an_alarm_interrupted_by_a_kill_runs_again(make_lab: LabFactory, tmp_path: Path) -> None:
    child = KilledChild(tmp_path, "alarm")
    try:
        assert child.line() == "armed"
        assert child.line() == "started 0"
    finally:
        child.close()  # killed in the middle of alarm()

    Counter.alarms = []
    lab = make_lab(tmp_path, clock=FakeClock())
    ns = lab.namespace(Counter, worker="w")
    assert await run_in_durable_object(ns.getByName("a"), lambda i, ctx: ctx.storage.getAlarm()) == 1
    await lab.engine.alarms.run_due()
    assert Counter.alarms == [0]
    assert lab.engine.alarms.next_due_s() is None
