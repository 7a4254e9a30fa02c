"""blockConcurrencyWhile() from the awaiting event's side: it resumes before the events it held."""

from __future__ import annotations

import asyncio

from test_durable_support import Lab

from workerlab.compat.entrypoint import DurableObject

pytest_plugins = ["test_durable_support"]


class Lazy(DurableObject):
    """Starts its count inside blockConcurrencyWhile() and stores it after the await."""

    async def bump(self) -> int:
        value: int | None = await self.ctx.storage.get("n")
        if value is None:

            async def start() -> int:
                await asyncio.sleep(0)  # an await that lets the loop turn, as a fetch would
                return 0

            value = await self.ctx.blockConcurrencyWhile(start)
        await self.ctx.storage.put("n", value + 1)
        return value + 1


async def test_the_awaiting_event_resumes_before_the_held_ones(lab: Lab) -> None:
    stub = lab.namespace(Lazy).getByName("x")
    values = await asyncio.gather(*(stub.bump() for _ in range(5)))
    assert sorted(values) == [1, 2, 3, 4, 5]


async def test_a_blocked_object_still_serves_events_in_arrival_order(lab: Lab) -> None:
    order: list[int] = []

    class Ordered(DurableObject):
        def __init__(self, ctx: object, env: object) -> None:
            super().__init__(ctx, env)

            async def warm_up() -> None:
                await asyncio.sleep(0)

            self.ctx.blockConcurrencyWhile(warm_up)

        async def visit(self, index: int) -> None:
            order.append(index)

    stub = lab.namespace(Ordered).getByName("o")
    await asyncio.gather(*(stub.visit(index) for index in range(5)))
    assert order == [0, 1, 2, 3, 4]
