from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from test_durable_support import Counter, Lab

from workerlab.clone import encode_clone
from workerlab.durable import DurableObjectStorage, run_in_durable_object
from workerlab.durable.limits import (
    MAX_KEY_BYTES,
    MAX_KEYS_PER_CALL,
    MAX_VALUE_BYTES_KV,
    MAX_VALUE_BYTES_SQLITE,
)
from workerlab.errors import StorageError

pytest_plugins = ["test_durable_support"]


async def storage_of(lab: Lab, kind: str = "sqlite", name: str = "obj") -> DurableObjectStorage:
    ns = lab.namespace(Counter, kind, class_name=f"Counter_{kind}")  # type: ignore[arg-type]
    return await run_in_durable_object(ns.getByName(name), lambda instance, ctx: ctx.storage)


@pytest.fixture(params=["sqlite", "kv"])
async def storage(lab: Lab, request: pytest.FixtureRequest) -> DurableObjectStorage:
    return await storage_of(lab, request.param)


async def test_get_put_delete_one_key(storage: DurableObjectStorage) -> None:
    assert await storage.get("missing") is None
    await storage.put("a", {"n": 1, "tags": ["x", "y"]})
    value = await storage.get("a")
    assert value == {"n": 1, "tags": ["x", "y"]} and value.n == 1  # dicts allow attribute access
    assert await storage.delete("a") is True
    assert await storage.delete("a") is False
    assert await storage.get("a") is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        "",
        "text",
        b"\x00bytes",
        [1, [2]],
        {"k": None},
        datetime(2026, 1, 1, tzinfo=UTC),
    ],
)
async def test_values_are_structured_clones(storage: DurableObjectStorage, value: Any) -> None:
    await storage.put("k", value)
    assert await storage.get("k") == value


async def test_values_that_cannot_be_cloned_are_refused(storage: DurableObjectStorage) -> None:
    with pytest.raises(TypeError, match="cannot carry a value of type object"):
        await storage.put("k", object())
    with pytest.raises(TypeError, match="called with no value"):
        await storage.put("k")


async def test_several_keys_at_once(storage: DurableObjectStorage) -> None:
    await storage.put({"b": 2, "a": 1, "c": 3})
    assert await storage.get(["c", "missing", "a"]) == {"a": 1, "c": 3}
    assert list(await storage.get(["c", "b", "a"])) == ["a", "b", "c"]  # key order
    assert await storage.delete(["a", "b", "nope"]) == 2
    assert await storage.list() == {"c": 3}


async def test_put_of_a_dict_takes_options_as_its_second_argument(storage: DurableObjectStorage) -> None:
    await storage.put({"a": 1}, {"allowUnconfirmed": True})
    await storage.put("b", 2, allowUnconfirmed=True, noCache=True)
    assert await storage.get(["a", "b"], {"allowConcurrency": True}) == {"a": 1, "b": 2}


async def test_unknown_options_name_cloudflares_spelling(storage: DurableObjectStorage) -> None:
    with pytest.raises(TypeError, match="Cloudflare spells it 'startAfter'"):
        await storage.list(start_after="a")
    with pytest.raises(TypeError, match="unknown option 'bogus'"):
        await storage.get("a", bogus=1)


async def test_calls_take_effect_even_when_not_awaited(storage: DurableObjectStorage) -> None:
    storage.put("k", "v")  # as on Cloudflare, the call itself stores
    storage.delete("gone")
    assert await storage.get("k") == "v"


async def test_delete_all_keeps_the_alarm(lab: Lab) -> None:
    storage = await storage_of(lab)
    await storage.put({"a": 1, "b": 2})
    await storage.setAlarm(lab.clock.now_ms() + 60_000)
    await storage.deleteAll()
    assert await storage.list() == {}
    assert await storage.getAlarm() == lab.clock.now_ms() + 60_000


@pytest.mark.parametrize("kind", ["sqlite", "kv"])
async def test_key_limit(lab: Lab, kind: str) -> None:
    storage = await storage_of(lab, kind)
    await storage.put("k" * MAX_KEY_BYTES, 1)
    assert await storage.get("k" * MAX_KEY_BYTES) == 1
    with pytest.raises(StorageError, match=f"Keys cannot be larger than {MAX_KEY_BYTES} bytes.*size 2049"):
        await storage.put("k" * (MAX_KEY_BYTES + 1), 1)
    with pytest.raises(StorageError, match=f"size {MAX_KEY_BYTES + 2}"):
        await storage.get("\u00e9" * (MAX_KEY_BYTES // 2 + 1))  # two bytes each in UTF-8
    with pytest.raises(TypeError, match="a key must be a str, found int"):
        await storage.get(7)


@pytest.mark.parametrize(("kind", "limit"), [("sqlite", MAX_VALUE_BYTES_SQLITE), ("kv", MAX_VALUE_BYTES_KV)])
async def test_value_limit_depends_on_the_backend(lab: Lab, kind: str, limit: int) -> None:
    storage = await storage_of(lab, kind)
    # The largest bytes value whose stored encoding (tag, length, data) fits exactly.
    fits = next(n for n in range(limit, 0, -1) if len(encode_clone(b"x" * n)) <= limit)
    assert len(encode_clone(b"x" * fits)) == limit
    await storage.put("fits", b"x" * fits)
    with pytest.raises(StorageError, match=f"Values cannot be larger than {limit} bytes.*size {limit + 1}"):
        await storage.put("big", b"x" * (fits + 1))
    assert await storage.get("big") is None


async def test_at_most_128_keys_per_call(storage: DurableObjectStorage) -> None:
    keys = [f"k{i}" for i in range(MAX_KEYS_PER_CALL)]
    await storage.put(dict.fromkeys(keys, 0))
    assert len(await storage.get(keys)) == MAX_KEYS_PER_CALL
    too_many = [*keys, "one more"]
    for call in (storage.get, storage.delete, lambda keys: storage.put(dict.fromkeys(keys, 0))):
        with pytest.raises(StorageError, match=f"Maximum number of keys is {MAX_KEYS_PER_CALL}. 129 keys"):
            await call(too_many)
    assert await storage.delete(keys) == MAX_KEYS_PER_CALL


LIST_CASES = [
    ({}, ["a", "ab", "abc", "b", "ba", "c"]),
    ({"start": "ab"}, ["ab", "abc", "b", "ba", "c"]),
    ({"startAfter": "ab"}, ["abc", "b", "ba", "c"]),
    ({"end": "b"}, ["a", "ab", "abc"]),
    ({"start": "ab", "end": "ba"}, ["ab", "abc", "b"]),
    ({"prefix": "a"}, ["a", "ab", "abc"]),
    ({"prefix": "b", "end": "ba"}, ["b"]),
    ({"prefix": "a", "start": "b"}, []),
    ({"reverse": True}, ["c", "ba", "b", "abc", "ab", "a"]),
    ({"reverse": True, "limit": 2}, ["c", "ba"]),
    ({"reverse": True, "start": "ab", "end": "b"}, ["abc", "ab"]),
    ({"limit": 2}, ["a", "ab"]),
    ({"prefix": "", "limit": 1}, ["a"]),
    ({"prefix": "zz"}, []),
]


@pytest.mark.parametrize(("options", "keys"), LIST_CASES)
async def test_list_options(storage: DurableObjectStorage, options: dict[str, Any], keys: list[str]) -> None:
    await storage.put({key: key.upper() for key in ["c", "ab", "a", "ba", "abc", "b"]})
    as_dict = await storage.list(options)
    assert list(as_dict) == keys
    assert all(value == key.upper() for key, value in as_dict.items())
    assert list(await storage.list(**options)) == keys


async def test_list_orders_keys_by_code_point(storage: DurableObjectStorage) -> None:
    keys = ["\U0001f600", "\uffff", "z", "Z", "\u00e9", "a\x00", "a"]
    await storage.put(dict.fromkeys(keys, 1))
    assert list(await storage.list()) == sorted(keys)
    assert list(await storage.list(prefix="\uffff")) == ["\uffff"]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"start": "a", "startAfter": "b"}, TypeError, "both start and startAfter"),
        ({"limit": 0}, TypeError, "List limit must be positive"),
        ({"limit": 1.5}, TypeError, "whole number"),
        ({"reverse": "yes"}, TypeError, "reverse must be a bool"),
        ({"prefix": 1}, TypeError, "prefix must be a str"),
    ],
)
async def test_list_refuses_bad_options(
    storage: DurableObjectStorage, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await storage.list(options)


async def test_sync_resolves(storage: DurableObjectStorage) -> None:
    await storage.put("k", 1)
    assert await storage.sync() is None


async def test_synchronous_kv_api_of_sqlite_classes(lab: Lab) -> None:
    storage = await storage_of(lab)
    storage.kv.put("b", 2)
    storage.kv.put("a", {"x": 1})
    assert storage.kv.get("a").x == 1
    assert storage.kv.list() == [("a", {"x": 1}), ("b", 2)]
    assert storage.kv.list(reverse=True, limit=1) == [("b", 2)]
    assert storage.kv.delete("a") is True
    assert await storage.get("b") == 2


async def test_key_value_classes_have_no_sql(lab: Lab) -> None:
    storage = await storage_of(lab, "kv")
    for use in (lambda: storage.sql, lambda: storage.kv, lambda: storage.transactionSync(lambda: None)):
        with pytest.raises(StorageError, match=r"only for SQLite backed.*new_sqlite_classes"):
            use()


async def test_storage_names_follow_cloudflare(storage: DurableObjectStorage) -> None:
    with pytest.raises(AttributeError, match="Cloudflare spells it 'deleteAll'"):
        storage.delete_all()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="'setAlarm'"):
        storage.set_alarm(0)  # type: ignore[attr-defined]
