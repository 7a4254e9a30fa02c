"""The cache sample: every method over HTTP, TTLs on the fake clock, atomic counters, rate limits."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import pytest

from workerlab.testing import run_durable_object_alarm, run_in_durable_object

pytestmark = pytest.mark.workerlab(config="sample_workers/cache/wrangler.toml")

#: ``RATE_LIMIT_PER_MINUTE`` in wrangler.toml.
LIMIT = 10


@pytest.fixture(autouse=True)
def fake_now(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker reads the time through its own now_ms(): follow the fake clock."""
    monkeypatch.setattr(worker.module.cache_api, "now_ms", worker.clock.now_ms)


class Api:
    """The HTTP API of the cache under test; each call checks the status it expects."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.worker.fetch(path, method=method, **kwargs)
        body = None if method == "HEAD" else await response.json()
        assert response.status == expect, body
        return body

    async def get(self, key: str, expect: int = 200) -> Any:
        body = await self.call("GET", f"/cache/{quote(key, safe='')}", expect)
        return body["value"] if expect == 200 else body

    async def set(self, key: str, value: Any, expect: int = 200, **options: Any) -> Any:
        return await self.call(
            "PUT", f"/cache/{quote(key, safe='')}", expect, json={"value": value, **options}
        )

    async def has(self, key: str) -> bool:
        response = await self.worker.fetch(f"/cache/{quote(key, safe='')}", method="HEAD")
        assert response.status in (200, 404)
        found: bool = response.status == 200
        return found

    async def delete(self, key: str) -> None:
        await self.call("DELETE", f"/cache/{quote(key, safe='')}")

    async def increment(self, key: str, amount: Any = None, expect: int = 200) -> Any:
        body = {} if amount is None else {"amount": amount}
        answer = await self.call("POST", f"/cache/{quote(key, safe='')}/increment", expect, json=body)
        return answer["value"] if expect == 200 else answer

    async def expire(self, key: str, ttl: Any, expect: int = 200) -> Any:
        return await self.call("POST", f"/cache/{quote(key, safe='')}/expire", expect, json={"ttl": ttl})

    async def keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = (await self.call("GET", f"/keys?prefix={quote(prefix)}"))["keys"]
        return keys

    async def list(self, prefix: str = "") -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.call("GET", f"/list?prefix={quote(prefix)}"))["entries"]
        return entries


@pytest.fixture
def api(worker: Any) -> Api:
    return Api(worker)


def counter_storage(worker: Any, key: str) -> Any:
    stub = worker.env.COUNTERS.getByName(key)
    return run_in_durable_object(stub, lambda instance, ctx: ctx.storage.list())


async def test_set_get_has_delete(api: Api) -> None:
    values = {
        "user:123": {"name": "Jane", "plan": "pro"},
        "flag:dark": True,
        "n": 0,
        "s": "",
        "list": [1, "a"],
    }
    for key, value in values.items():
        await api.set(key, value)
    for key, value in values.items():
        assert await api.get(key) == value
        assert await api.has(key)
    await api.delete("user:123")
    assert await api.get("user:123", 404) == {"error": "no key 'user:123'"}
    assert not await api.has("user:123")
    await api.delete("user:123")  # deleting a missing key is fine
    assert await api.get("a/b", 404)  # a key with a slash is one path segment, encoded


async def test_ttl_expires_on_the_fake_clock(api: Api, worker: Any) -> None:
    await api.set("session:abc", {"userId": "123"}, ttl=1800, metadata={"userId": "123", "device": "mobile"})
    await worker.advance(1799)
    assert await api.get("session:abc") == {"userId": "123"}
    assert await api.list("session:") == [
        {"key": "session:abc", "metadata": {"userId": "123", "device": "mobile"}}
    ]
    await worker.advance(1)
    assert not await api.has("session:abc")
    assert await api.keys("session:") == []


async def test_expire_gives_an_existing_value_a_new_ttl_and_keeps_its_metadata(api: Api, worker: Any) -> None:
    await api.set("cart:7", ["apple"], metadata={"items": 1})
    assert await api.expire("cart:7", 120) == {"ok": True}
    await worker.advance(119)
    assert await api.list("cart:") == [{"key": "cart:7", "metadata": {"items": 1}}]
    await worker.advance(1)
    assert await api.keys("cart:") == []
    assert await api.expire("cart:7", 120, 404) == {"error": "no key 'cart:7'"}


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("PUT", "/cache/k", {"value": 1, "ttl": 59}, "ttl must be a whole number of seconds >= 60"),
        ("PUT", "/cache/k", {"value": None}, "is null"),
        ("PUT", "/cache/k", {"ttl": 60}, "the body must hold the value"),
        ("PUT", "/cache/" + "k" * 513, {"value": 1}, "a key is at most 512 bytes"),
        ("POST", "/cache/k/increment", {"amount": "2"}, "amount must be a number"),
        ("POST", "/batch/get", {"keys": "k"}, "the body must hold the keys"),
    ],
)
async def test_bad_calls_are_refused(api: Api, method: str, path: str, body: Any, message: str) -> None:
    answer = await api.call(method, path, 400, json=body)
    assert message in answer["error"]


async def test_get_many_set_many_delete_many(api: Api, worker: Any) -> None:
    await api.call(
        "POST", "/batch/set", json={"entries": {"user:1": {"name": "Alice"}, "user:2": {"name": "Bob"}}}
    )
    await api.call("POST", "/batch/set", json={"entries": {"user:3": {"name": "Carol"}}, "ttl": 3600})
    got = await api.call("POST", "/batch/get", json={"keys": ["user:1", "user:2", "user:3", "user:4"]})
    assert got == {
        "values": {
            "user:1": {"name": "Alice"},
            "user:2": {"name": "Bob"},
            "user:3": {"name": "Carol"},
            "user:4": None,
        }
    }
    await worker.advance(3600)
    assert await api.keys("user:") == ["user:1", "user:2"]
    await api.call("POST", "/batch/delete", json={"keys": ["user:1", "user:2", "user:3"]})
    assert await api.keys("user:") == []


async def test_keys_and_list_by_prefix_page_through_kv(api: Api) -> None:
    entries = {f"flag:{index:04d}": index for index in range(1005)}
    await api.call("POST", "/batch/set", json={"entries": entries, "metadata": {"rollout": 50}})
    await api.set("other", 1)
    keys = await api.keys("flag:")
    assert keys == sorted(entries) and len(keys) == 1005
    listed = await api.list("flag:")
    assert listed[0] == {"key": "flag:0000", "metadata": {"rollout": 50}} and len(listed) == 1005
    assert await api.keys() == [*sorted(entries), "other"]


async def test_increment_creates_adds_and_starts_from_a_number(api: Api) -> None:
    assert await api.increment("views:post-123") == 1
    assert await api.increment("views:post-123") == 2
    assert await api.increment("views:post-123", 5) == 7
    assert await api.get("views:post-123") == 7
    assert await api.keys("views:") == ["views:post-123"]
    await api.set("likes", 40)
    assert await api.increment("likes", 2) == 42
    assert await api.increment("likes", -50) == -8
    await api.set("name", "Jane")
    conflict = await api.increment("name", expect=409)
    assert conflict == {"error": "cache key 'name' holds a str, not a number: increment() cannot add to it"}


async def test_set_and_delete_replace_a_counter(api: Api, worker: Any) -> None:
    await api.increment("c", 3)
    await api.set("c", "text")
    assert await api.get("c") == "text"
    assert await counter_storage(worker, "c") == {}
    await api.delete("c")
    assert await api.increment("c") == 1  # a new counter, from 0


async def test_an_expiring_counter_goes_with_its_alarm(api: Api, worker: Any) -> None:
    await api.increment("burst", 4)
    assert await api.expire("burst", 30) == {"ok": True}
    await worker.advance(29)
    assert await api.get("burst") == 4
    await worker.advance(1)
    assert not await api.has("burst")
    assert await api.keys() == []  # the alarm removed the key at once (KV alone would keep it 60 s)
    assert await counter_storage(worker, "burst") == {}
    assert await api.expire("burst", 30, 404)


async def test_flush_deletes_values_and_counters(api: Api, worker: Any) -> None:
    await api.set("a", 1)
    await api.increment("b")
    await api.call("DELETE", "/cache")
    assert await api.keys() == []
    assert await counter_storage(worker, "b") == {}


async def test_100_concurrent_increments_count_exactly(api: Api, worker: Any) -> None:
    await api.set("seeded", 1000)
    for key, start in (("fresh", 0), ("seeded", 1000)):
        values = await asyncio.gather(*(api.increment(key) for _ in range(100)))
        assert sorted(values) == list(range(start + 1, start + 101))
        assert await api.get(key) == start + 100


async def test_the_rate_limiter_answers_429_then_resets_after_a_minute(api: Api, worker: Any) -> None:
    for count in range(1, LIMIT + 1):
        verdict = await api.call("POST", "/ratelimit/ada")
        assert (verdict["count"], verdict["remaining"], verdict["allowed"]) == (count, LIMIT - count, True)
    await worker.advance(45)
    response = await worker.fetch("/ratelimit/ada", method="POST")
    assert response.status == 429
    assert response.headers["retry-after"] == "15"
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert (await response.json())["allowed"] is False
    assert (await api.call("POST", "/ratelimit/grace"))["count"] == 1  # another user, another counter
    window_key = (await api.list("ratelimit:ada:"))[0]["key"]

    await worker.advance(15)
    verdict = await api.call("POST", "/ratelimit/ada")
    assert (verdict["count"], verdict["allowed"]) == (1, True)
    # The old minute's counter was dropped by its alarm, with its key.
    assert window_key not in await api.keys("ratelimit:")
    assert await counter_storage(worker, window_key) == {}
    assert not await run_durable_object_alarm(worker.env.COUNTERS.getByName(window_key))


async def test_the_python_api_has_the_seeds_names_and_shapes(worker: Any) -> None:
    cache = worker.module.cache_api.Cache(worker.env)
    assert await cache.set("user:123", {"name": "Jane", "plan": "pro"}, {"ttl": 3600}) is None
    assert await cache.set("session:abc", {"userId": "123"}, ttl=1800, metadata={"device": "mobile"}) is None
    assert await cache.get("user:123") == {"name": "Jane", "plan": "pro"}
    assert await cache.get("missing") is None
    assert await cache.has("user:123") is True
    assert await cache.getMany(["user:123", "missing"]) == {
        "user:123": {"name": "Jane", "plan": "pro"},
        "missing": None,
    }
    assert (
        await cache.setMany({"user:1": {"name": "Alice"}, "user:2": {"name": "Bob"}}, {"ttl": 3600}) is None
    )
    assert await cache.keys({"prefix": "user:"}) == ["user:1", "user:123", "user:2"]
    assert await cache.list({"prefix": "session:"}) == [
        {"key": "session:abc", "metadata": {"device": "mobile"}}
    ]
    assert await cache.increment("views:post-123") == 1
    assert await cache.increment("views:post-123", 5) == 6
    assert await cache.expire("session:abc", 1800) is None
    assert await cache.expire("missing", 60) is None
    assert await cache.deleteMany(["user:1", "user:2"]) is None
    assert await cache.delete("user:123") is None
    assert await cache.flush() is None
    assert await cache.keys() == []
