"""The atomic counters of the cache: one Durable Object per counter key.

The object is the one place a counter changes, so concurrent increments never lose an update.
Its storage holds the value and the key's name; an expiry is the object's alarm. KV holds a
marker under the key (``{"counter": true}``) so that reads, ``keys()`` and ``list()`` see it.
"""

from __future__ import annotations

import cache_api
from workers import DurableObject


class Counter(DurableObject):
    async def increment(self, key: str, amount: int) -> dict:
        """Add ``amount``; a new counter starts from the key's number in KV, if it holds one.
        Returns ``{value, created}``, or ``{error}`` when the key holds something else."""
        storage = self.ctx.storage
        value = await storage.get("value")
        if value is not None:
            await storage.put("value", value + amount)
            return {"value": value + amount, "created": False}

        async def create() -> dict:
            entry = await self.env.CACHE.get(key, type="json")
            start = cache_api.start_value(key, entry)
            if isinstance(start, str):
                return {"error": start}
            await storage.put({"value": start + amount, "key": key})
            return {"value": start + amount, "created": True}

        # Hold other events while KV is read: two first increments must not both start.
        return await self.ctx.blockConcurrencyWhile(create)

    async def value(self) -> int | float | None:
        return await self.ctx.storage.get("value")

    async def expire(self, ttl_s: int) -> bool:
        """Drop the counter ``ttl_s`` seconds from now; False when there is no counter."""
        if await self.ctx.storage.get("value") is None:
            return False
        await self.ctx.storage.setAlarm(cache_api.now_ms() + ttl_s * 1000)
        return True

    async def clear(self) -> bool:
        """Drop the counter now (the key was set to a value, or deleted); whether there was one."""
        existed = await self.ctx.storage.get("value") is not None
        await self.ctx.storage.deleteAll()
        await self.ctx.storage.deleteAlarm()
        return existed

    async def alarm(self, alarm_info):
        # An increment arriving meanwhile waits, then starts a new counter.
        await self.ctx.blockConcurrencyWhile(self._drop)

    async def _drop(self) -> None:
        key = await self.ctx.storage.get("key")
        if key is not None and cache_api.is_counter(await self.env.CACHE.get(key, type="json")):
            await self.env.CACHE.delete(key)
        await self.ctx.storage.deleteAll()
