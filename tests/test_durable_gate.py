from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from test_durable_support import Counter, Lab, LabFactory

from workerlab.compat.entrypoint import DurableObject
from workerlab.durable.gate import InputGate
from workerlab.durable.store import class_dir, object_file_name

pytest_plugins = ["test_durable_support"]


async def settle_loop(rounds: int = 20) -> None:
    """Let every runnable task run (yields to the loop; no time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_concurrent_increments_never_lose_an_update(lab: Lab) -> None:
    stub = lab.namespace(Counter).getByName("hot")
    results = await asyncio.gather(*(stub.increment() for _ in range(100)))
    assert sorted(results) == list(range(1, 101))
    assert await stub.count() == 100


async def test_concurrent_increments_across_objects(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    await asyncio.gather(*(ns.getByName(f"c{i % 5}").increment() for i in range(100)))
    assert [await ns.getByName(f"c{i}").count() for i in range(5)] == [20] * 5


class Waiter(DurableObject):
    """Awaits something that is not storage while other events come in."""

    release: asyncio.Event

    async def wait(self) -> str:
        await self.release.wait()
        return "released"

    async def ping(self) -> str:
        return "pong"


async def test_other_events_run_while_an_event_awaits_something_else(lab: Lab) -> None:
    Waiter.release = asyncio.Event()
    stub = lab.namespace(Waiter).getByName("w")
    waiting = asyncio.create_task(stub.wait())
    await settle_loop()
    assert await stub.ping() == "pong"  # the gate is open while wait() awaits an event
    Waiter.release.set()
    assert await waiting == "released"


class Loader(DurableObject):
    """Loads its state in __init__ under blockConcurrencyWhile, as Cloudflare's docs show."""

    release: asyncio.Event

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.value: int | None = None
        ctx.blockConcurrencyWhile(self.load)

    async def load(self) -> None:
        await self.release.wait()
        self.value = (await self.ctx.storage.get("value")) or 41

    async def read(self) -> int | None:
        return self.value

    async def guarded(self) -> int:
        async def bump() -> int:
            await self.release.wait()
            self.value = (self.value or 0) + 1
            return self.value

        return await self.ctx.blockConcurrencyWhile(bump)


async def test_block_concurrency_while_in_init_holds_every_event(lab: Lab) -> None:
    Loader.release = asyncio.Event()
    stub = lab.namespace(Loader).getByName("l")
    readers = [asyncio.create_task(stub.read()) for _ in range(3)]
    await settle_loop()
    assert not any(reader.done() for reader in readers)
    Loader.release.set()
    assert await asyncio.gather(*readers) == [41, 41, 41]


async def test_block_concurrency_while_awaited_returns_the_result(lab: Lab) -> None:
    Loader.release = asyncio.Event()
    Loader.release.set()
    stub = lab.namespace(Loader).getByName("g")
    assert await stub.read() == 41
    Loader.release.clear()
    guarded = asyncio.create_task(stub.guarded())
    await settle_loop()
    reader = asyncio.create_task(stub.read())
    await settle_loop()
    assert not reader.done()
    Loader.release.set()
    assert await guarded == 42
    assert await reader == 42


class Broken(DurableObject):
    """Its initialisation fails the first time."""

    attempts = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.blockConcurrencyWhile(self.load)

    async def load(self) -> None:
        Broken.attempts += 1
        if Broken.attempts == 1:
            raise ValueError("cannot load")

    async def attempt(self) -> int:
        return Broken.attempts


async def test_a_failing_block_concurrency_while_resets_the_object(lab: Lab) -> None:
    Broken.attempts = 0
    stub = lab.namespace(Broken).getByName("b")
    first = await asyncio.gather(stub.attempt(), stub.attempt(), return_exceptions=True)
    assert [type(result) for result in first] == [ValueError, ValueError]
    assert str(first[0]) == "cannot load"
    assert await stub.attempt() == 2  # constructed again


async def test_block_concurrency_while_refuses_a_coroutine(lab: Lab) -> None:
    class Holder(DurableObject):
        async def refuse(self) -> str:
            async def body() -> None:
                return None

            try:
                self.ctx.blockConcurrencyWhile(body())
            except TypeError as error:
                return str(error)
            return "accepted"

    assert "pass the function itself, not its call" in await lab.namespace(Holder).getByName("h").refuse()


async def test_a_busy_file_holds_other_events_until_the_write_is_done(make_lab: LabFactory, tmp_path) -> None:
    lab = make_lab(tmp_path)
    ns = lab.namespace(Counter)
    stub = ns.getByName("shared")
    assert await stub.increment() == 1
    path = class_dir(tmp_path, "Counter") / object_file_name(stub.id.toString())
    other = sqlite3.connect(path, isolation_level=None)  # another process, holding the write lock
    try:
        other.execute("BEGIN IMMEDIATE")
        writer = asyncio.create_task(stub.increment())
        await settle_loop()
        reader = asyncio.create_task(stub.count())
        await settle_loop()
        assert not writer.done() and not reader.done()
        other.execute("COMMIT")
        assert await writer == 2
        assert await reader == 2  # it started after the write, not between read and write
    finally:
        other.close()


async def test_gate_lets_waiters_in_in_order_and_survives_cancellation() -> None:
    gate = InputGate()
    order: list[str] = []

    async def event(name: str) -> None:
        await gate.enter()
        order.append(name)

    gate.close()
    tasks = {name: asyncio.create_task(event(name)) for name in "abc"}
    await settle_loop()
    tasks["b"].cancel()
    gate.open()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    assert order == ["a", "c"] and gate.idle


async def test_gate_closed_again_keeps_the_woken_events_place() -> None:
    gate = InputGate()
    order: list[str] = []

    async def event(name: str) -> None:
        await gate.enter()
        order.append(name)
        if name == "a":
            gate.close()  # like a storage call that has to wait

    gate.close()
    tasks = [asyncio.create_task(event(name)) for name in "ab"]
    await settle_loop()
    gate.open()
    await settle_loop()
    assert order == ["a"]
    gate.open()
    await asyncio.gather(*tasks)
    assert order == ["a", "b"]
