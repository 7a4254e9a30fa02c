"""The cache: values with TTL and metadata in KV, atomic counters in Durable Objects.

``Cache`` has the methods of the SDK's ``cache`` module, with the same names and shapes:
``get``, ``set(key, value, {ttl, metadata})``, ``has``, ``delete``, ``getMany``, ``setMany``,
``deleteMany``, ``keys({prefix})``, ``list({prefix})``, ``increment(key, amount)``,
``expire(key, ttl)`` and ``flush``. Options come as a trailing dict (as in the SDK) or as
keyword arguments. A value is stored in KV as ``{"value": ...}``; a counter lives in its own
object (see :mod:`counters`) and KV keeps a marker under its key, so reads and listings see it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

#: KV's shortest ``expirationTtl``: values cannot expire sooner (counters can).
MIN_VALUE_TTL_S = 60
#: KV's longest key, in UTF-8 bytes.
MAX_KEY_BYTES = 512
#: Most keys in one bulk KV read.
MAX_BULK_KEYS = 100
#: Most keys in one KV list page.
LIST_PAGE_KEYS = 1000
COUNTER_MARKER = json.dumps({"counter": True})


def now_ms() -> int:
    """The current time in epoch milliseconds (the tests point this at workerlab's fake clock)."""
    return time.time_ns() // 1_000_000


class CacheError(ValueError):
    """A call the cache refuses: a bad key, TTL or amount (the HTTP API answers 400)."""


class NotACounter(CacheError):
    """``increment()`` of a key whose value is not a number (the HTTP API answers 409)."""


def is_counter(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("counter") is True


def start_value(key: str, entry: Any) -> int | float | str:
    """Where a new counter starts: the key's number, 0 for a missing key (or an expired counter),
    or the reason it cannot (a str)."""
    if entry is None or is_counter(entry):
        return 0
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return f"cache key {key!r} holds a {type(value).__name__}, not a number: increment() cannot add to it"


def check_key(key: Any) -> str:
    if not isinstance(key, str) or key in ("", ".", ".."):
        raise CacheError(f"a key must be a non-empty str other than '.' and '..', found {key!r}")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise CacheError(f"a key is at most {MAX_KEY_BYTES} bytes, found {len(key.encode())}")
    return key


def check_ttl(ttl: Any, *, minimum: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < minimum:
        raise CacheError(f"ttl must be a whole number of seconds >= {minimum}, found {ttl!r}")
    return ttl


def options(opts: dict | None, **given: Any) -> dict:
    """The options of a call: the trailing dict, overridden by keyword arguments given."""
    merged = dict(opts or {})
    merged.update({name: value for name, value in given.items() if value is not None})
    return merged


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class Cache:
    """The cache and counters of one deployment (``Cache(env)``)."""

    def __init__(self, env) -> None:
        self.kv = env.CACHE
        self.counters = env.COUNTERS

    def counter(self, key: str):
        return self.counters.getByName(key)

    # --- reads ----------------------------------------------------------------------------

    async def get(self, key: str) -> Any:
        """The value of ``key``, or None when it is missing or expired."""
        return (await self.getMany([key]))[key]

    async def has(self, key: str) -> bool:
        return await self.get(key) is not None

    async def getMany(self, keys: list[str]) -> dict[str, Any]:
        """Each key's value (None when missing): ``{key: value}`` in the order given."""
        unique = list(dict.fromkeys(check_key(key) for key in keys))
        entries: dict[str, Any] = {}
        for part in chunks(unique, MAX_BULK_KEYS):
            entries.update(await self.kv.get(part, type="json"))
        values = {key: None if entry is None else entry.get("value") for key, entry in entries.items()}
        counters = [key for key, entry in entries.items() if is_counter(entry)]
        counted = await asyncio.gather(*(self.counter(key).value() for key in counters))
        values.update(zip(counters, counted, strict=True))
        return {key: values[key] for key in keys}

    async def keys(self, opts: dict | None = None, *, prefix: str | None = None) -> list[str]:
        """The keys that start with ``prefix``, in key order."""
        return [entry["key"] for entry in await self.list(opts, prefix=prefix)]

    async def list(self, opts: dict | None = None, *, prefix: str | None = None) -> list[dict]:
        """``[{key, metadata}]`` of the keys that start with ``prefix``, in key order."""
        prefix = options(opts, prefix=prefix).get("prefix", "")
        entries: list[dict] = []
        page_options = {"prefix": prefix, "limit": LIST_PAGE_KEYS}
        while True:
            page = await self.kv.list(page_options)
            entries += [{"key": key["name"], "metadata": key.get("metadata")} for key in page["keys"]]
            if page["list_complete"]:
                return entries
            page_options["cursor"] = page["cursor"]

    # --- writes ---------------------------------------------------------------------------

    async def set(self, key: str, value: Any, opts: dict | None = None, *, ttl=None, metadata=None) -> None:
        """Store ``value`` (anything JSON can hold but null), optionally expiring after ``ttl`` seconds and
        with ``metadata``; a counter under ``key`` is replaced."""
        await self.setMany({key: value}, opts, ttl=ttl, metadata=metadata)

    async def setMany(self, entries: dict, opts: dict | None = None, *, ttl=None, metadata=None) -> None:
        """``set()`` of every pair of ``entries``, with the same options."""
        chosen = options(opts, ttl=ttl, metadata=metadata)
        put_options = {}
        if "ttl" in chosen:
            put_options["expirationTtl"] = check_ttl(chosen["ttl"], minimum=MIN_VALUE_TTL_S)
        if "metadata" in chosen:
            put_options["metadata"] = chosen["metadata"]
        texts = {}
        for key, value in entries.items():
            if value is None:
                raise CacheError(f"the value of {key!r} is null: get() answers null for a missing key")
            try:
                texts[check_key(key)] = json.dumps({"value": value})
            except (TypeError, ValueError) as error:
                raise CacheError(f"the value of {key!r} cannot be stored as JSON: {error}") from None
        replaced = await self._counters_among(list(texts))
        await asyncio.gather(
            *(self.kv.put(key, text, **put_options) for key, text in texts.items()),
            *(self.counter(key).clear() for key in replaced),
        )

    async def delete(self, key: str) -> None:
        await self.deleteMany([key])

    async def deleteMany(self, keys: list[str]) -> None:
        keys = list(dict.fromkeys(check_key(key) for key in keys))
        counters = await self._counters_among(keys)
        await asyncio.gather(*(self.kv.delete(key) for key in keys))
        await asyncio.gather(*(self.counter(key).clear() for key in counters))

    async def _counters_among(self, keys: list[str]) -> list[str]:
        found: dict[str, Any] = {}
        for part in chunks(keys, MAX_BULK_KEYS):
            found.update(await self.kv.get(part, type="json"))
        return [key for key, entry in found.items() if is_counter(entry)]

    async def flush(self) -> None:
        """Delete every key, counters included."""
        for part in chunks(await self.keys(), MAX_BULK_KEYS):
            await self.deleteMany(part)

    # --- counters -------------------------------------------------------------------------

    async def increment(self, key: str, amount: int = 1) -> int | float:
        """Add ``amount`` to the counter under ``key`` and return the new value; a missing key
        starts at 0, a key holding a number starts from it."""
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise CacheError(f"amount must be a number, found {amount!r}")
        result = await self.counter(check_key(key)).increment(key, amount)
        if "error" in result:
            raise NotACounter(result["error"])
        if result["created"]:
            await self.kv.put(key, COUNTER_MARKER)
        return result["value"]

    async def expire(self, key: str, ttl: int) -> None:
        """Make ``key`` expire ``ttl`` seconds from now (a missing key is left alone). A counter
        can expire in any whole number of seconds, a value in 60 or more (KV's shortest)."""
        await self.expire_existing(key, ttl)

    async def expire_existing(self, key: str, ttl: int) -> bool:
        """``expire()``, answering whether ``key`` existed."""
        entry = await self.kv.getWithMetadata(check_key(key), type="json")
        if entry["value"] is None:
            return False
        if is_counter(entry["value"]):
            check_ttl(ttl, minimum=1)
            if not await self.counter(key).expire(ttl):
                return False
            # KV drops the marker no sooner than 60 s; the counter's alarm deletes it on time.
            await self.kv.put(key, COUNTER_MARKER, expirationTtl=max(ttl, MIN_VALUE_TTL_S))
            return True
        put_options = {"expirationTtl": check_ttl(ttl, minimum=MIN_VALUE_TTL_S)}
        if entry["metadata"] is not None:
            put_options["metadata"] = entry["metadata"]
        await self.kv.put(key, json.dumps(entry["value"]), **put_options)
        return True


async def check_rate_limit(cache: Cache, user_id: str, limit: int) -> dict:
    """Count one request of ``user_id`` in the current minute: ``{allowed, count, limit,
    remaining, resetAt}`` (``resetAt``: epoch ms when the next minute starts)."""
    window = now_ms() // 60_000
    key = f"ratelimit:{user_id}:{window}"
    count = await cache.increment(key)
    if count == 1:  # the first request of this minute: the counter goes with it
        await cache.expire(key, 60)
    return {
        "allowed": count <= limit,
        "count": count,
        "limit": limit,
        "remaining": max(0, limit - count),
        "resetAt": (window + 1) * 60_000,
    }
