"""A worker written against the current SDK: a Durable Object, RPC helpers, workers.env."""

from workers import (
    DurableObject,
    Response,
    WorkerEntrypoint,
    env,
    import_from_javascript,
    python_from_rpc,
    python_to_rpc,
)
from workers.workflows import NonRetryableError


class Counter(DurableObject):
    async def increment(self, by=1):
        value = (await self.ctx.storage.get("count") or 0) + by
        await self.ctx.storage.put("count", value)
        return python_to_rpc({"count": value, "tags": ["a", "b"]})


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        stub = self.env.COUNTER.getByName("main")
        result = python_from_rpc(await stub.increment(2))
        cloudflare = import_from_javascript("cloudflare:workers")
        return Response(f"{result.count} {env.MODE} {cloudflare.env.MODE}")

    async def check(self, amount):
        if amount < 0:
            raise NonRetryableError("negative amount")
        return amount
