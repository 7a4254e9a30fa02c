from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workerlab import limits
from workerlab.bindings import KVNamespaceBinding, open_kv
from workerlab.bindings.kv import KV_MAX_BULK_GET_KEYS, KVNamespace, kv_path
from workerlab.clock import FakeClock
from workerlab.errors import StorageError

NS = KVNamespace(binding="CACHE")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kv(clock: FakeClock) -> Iterator[KVNamespaceBinding]:
    binding = open_kv(NS, None, clock)
    yield binding
    binding.close()


# --- get / put --------------------------------------------------------------------------


async def test_put_then_get_as_text_json_and_bytes(kv: KVNamespaceBinding) -> None:
    await kv.put("greeting", "héllo")
    await kv.put("doc", '{"a": [1, 2], "b": {"c": true}}')
    await kv.put("blob", b"\x00\xff")

    assert await kv.get("greeting") == "héllo"
    assert await kv.get("greeting", "text") == "héllo"
    assert await kv.get("greeting", type="bytes") == "héllo".encode()
    assert await kv.get("blob", {"type": "arrayBuffer"}) == b"\x00\xff"
    doc = await kv.get("doc", "json")
    assert doc == {"a": [1, 2], "b": {"c": True}}
    assert doc.b.c is True


async def test_get_of_a_missing_key_is_none(kv: KVNamespaceBinding) -> None:
    assert await kv.get("nope") is None
    assert await kv.get("nope", "json") is None


async def test_put_replaces_the_value_and_its_metadata(kv: KVNamespaceBinding) -> None:
    await kv.put("k", "one", metadata={"v": 1})
    await kv.put("k", "two")
    assert await kv.getWithMetadata("k") == {"value": "two", "metadata": None}


async def test_get_with_metadata(kv: KVNamespaceBinding) -> None:
    await kv.put("user:1", '{"name": "Ada"}', {"metadata": {"role": "admin"}})

    res = await kv.getWithMetadata("user:1", "json")
    assert res["value"] == {"name": "Ada"}
    assert res.metadata == {"role": "admin"}
    assert res.metadata.role == "admin"
    assert await kv.getWithMetadata("missing") == {"value": None, "metadata": None}


async def test_unknown_type_is_a_type_error(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match="unknown type 'xml'"):
        await kv.get("k", "xml")


async def test_json_get_of_non_json_text_names_the_key(kv: KVNamespaceBinding) -> None:
    await kv.put("plain", "not json")
    with pytest.raises(StorageError, match=r"'plain'.*not valid JSON"):
        await kv.get("plain", "json")


async def test_values_must_be_str_or_bytes(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match=r"found dict; to store an object, pass json.dumps"):
        await kv.put("k", {"a": 1})  # type: ignore[arg-type]
    assert await kv.get("k") is None


async def test_delete(kv: KVNamespaceBinding) -> None:
    await kv.put("k", "v")
    await kv.delete("k")
    assert await kv.get("k") is None
    await kv.delete("k")  # deleting a missing key is fine


# --- options ----------------------------------------------------------------------------


async def test_options_as_keywords_or_as_a_trailing_dict(kv: KVNamespaceBinding, clock: FakeClock) -> None:
    await kv.put("a", "1", expirationTtl=60, metadata={"x": 1})
    await kv.put("b", "2", {"expirationTtl": 60, "metadata": {"x": 1}})
    listed = (await kv.list())["keys"]
    assert listed[0] == {"name": "a", "expiration": int(clock.now_s()) + 60, "metadata": {"x": 1}}
    assert listed[1] == {"name": "b", "expiration": int(clock.now_s()) + 60, "metadata": {"x": 1}}


async def test_none_options_count_as_not_given(kv: KVNamespaceBinding) -> None:
    await kv.put("k", "v", expirationTtl=None, metadata=None)
    assert (await kv.list())["keys"] == [{"name": "k"}]


async def test_unknown_option_suggests_cloudflare_spelling(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match=r"unknown option 'expiration_ttl'.*'expirationTtl'"):
        await kv.put("k", "v", expiration_ttl=60)


async def test_option_given_twice_is_an_error(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match="'type' given twice"):
        await kv.get("k", "json", type="text")


# --- expiry -----------------------------------------------------------------------------


async def test_expiration_ttl_expires_with_the_fake_clock(kv: KVNamespaceBinding, clock: FakeClock) -> None:
    await kv.put("session", "s", expirationTtl=limits.KV_MIN_EXPIRATION_TTL_S, metadata={"m": 1})
    clock.advance(limits.KV_MIN_EXPIRATION_TTL_S - 1)
    assert await kv.get("session") == "s"

    clock.advance(1)
    assert await kv.get("session") is None
    assert await kv.getWithMetadata("session") == {"value": None, "metadata": None}
    assert (await kv.list())["keys"] == []


async def test_absolute_expiration(kv: KVNamespaceBinding, clock: FakeClock) -> None:
    at_s = int(clock.now_s()) + 3600
    await kv.put("k", "v", expiration=at_s)
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": at_s}]
    clock.set(at_s - 1)
    assert await kv.get("k") == "v"
    clock.set(at_s)
    assert await kv.get("k") is None


async def test_put_after_expiry_makes_the_key_live_again(kv: KVNamespaceBinding, clock: FakeClock) -> None:
    await kv.put("k", "old", expirationTtl=limits.KV_MIN_EXPIRATION_TTL_S)
    clock.advance(limits.KV_MIN_EXPIRATION_TTL_S)
    await kv.put("k", "new")
    clock.advance(10 * limits.KV_MIN_EXPIRATION_TTL_S)
    assert await kv.get("k") == "new"


async def test_expiration_ttl_below_the_minimum_is_refused(kv: KVNamespaceBinding) -> None:
    too_short = limits.KV_MIN_EXPIRATION_TTL_S - 1
    with pytest.raises(StorageError, match=f"Invalid expiration_ttl of {too_short}.*at least"):
        await kv.put("k", "v", expirationTtl=too_short)
    assert await kv.get("k") is None


async def test_expiration_closer_than_the_minimum_is_refused(
    kv: KVNamespaceBinding, clock: FakeClock
) -> None:
    soon_s = int(clock.now_s()) + limits.KV_MIN_EXPIRATION_TTL_S - 1
    with pytest.raises(StorageError, match=f"Invalid expiration of {soon_s}.*in the future"):
        await kv.put("k", "v", expiration=soon_s)
    await kv.put("k", "v", expiration=int(clock.now_s()) + limits.KV_MIN_EXPIRATION_TTL_S)


async def test_expiration_must_be_a_whole_number(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match="expirationTtl must be a number"):
        await kv.put("k", "v", expirationTtl="60")
    with pytest.raises(TypeError, match="whole number"):
        await kv.put("k", "v", expirationTtl=60.5)


# --- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Key names must not be empty"),
        (".", 'Illegal key name "."'),
        ("..", 'Illegal key name ".."'),
        ("x" * (limits.KV_MAX_KEY_BYTES + 1), f"length of {limits.KV_MAX_KEY_BYTES + 1} exceeds"),
        ("é" * (limits.KV_MAX_KEY_BYTES // 2 + 1), f"length of {limits.KV_MAX_KEY_BYTES + 2} exceeds"),
    ],
)
async def test_invalid_keys_are_refused_by_every_method(
    kv: KVNamespaceBinding, key: str, message: str
) -> None:
    calls = [
        lambda: kv.get(key),
        lambda: kv.getWithMetadata(key),
        lambda: kv.put(key, "v"),
        lambda: kv.delete(key),
    ]
    for call in calls:
        with pytest.raises(StorageError, match=message):
            await call()


async def test_longest_key_is_accepted(kv: KVNamespaceBinding) -> None:
    key = "k" * limits.KV_MAX_KEY_BYTES
    await kv.put(key, "v")
    assert await kv.get(key) == "v"


async def test_non_str_key_is_a_type_error(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match="key must be a str, found int"):
        await kv.get(1)  # type: ignore[arg-type]


async def test_value_size_limit(kv: KVNamespaceBinding) -> None:
    await kv.put("big", b"x" * limits.KV_MAX_VALUE_BYTES)
    assert len(await kv.get("big", "bytes")) == limits.KV_MAX_VALUE_BYTES
    too_big = limits.KV_MAX_VALUE_BYTES + 1
    with pytest.raises(StorageError, match=f"413 Value length of {too_big} exceeds limit"):
        await kv.put("bigger", b"x" * too_big)
    assert await kv.get("bigger") is None


async def test_metadata_size_limit(kv: KVNamespaceBinding) -> None:
    overhead = len('{"m":""}')
    fits = {"m": "x" * (limits.KV_MAX_METADATA_BYTES - overhead)}
    await kv.put("k", "v", metadata=fits)
    assert (await kv.getWithMetadata("k")).metadata == fits

    too_big = {"m": "x" * (limits.KV_MAX_METADATA_BYTES - overhead + 1)}
    with pytest.raises(StorageError, match=f"Metadata length of {limits.KV_MAX_METADATA_BYTES + 1} exceeds"):
        await kv.put("k2", "v", metadata=too_big)


async def test_metadata_must_be_json(kv: KVNamespaceBinding) -> None:
    with pytest.raises(TypeError, match="metadata must be serializable as JSON"):
        await kv.put("k", "v", metadata={"when": object()})


# --- list -------------------------------------------------------------------------------


async def test_list_in_key_order_with_prefix(kv: KVNamespaceBinding) -> None:
    for key in ["user:2", "user:10", "admin", "user:1", "userx", "zeta"]:
        await kv.put(key, "v")
    res = await kv.list(prefix="user:")
    assert [k.name for k in res["keys"]] == ["user:1", "user:10", "user:2"]
    assert res.list_complete is True
    assert res["cursor"] == ""  # the last page
    all_names = [k["name"] for k in (await kv.list())["keys"]]
    assert all_names == sorted(all_names)


async def test_list_pages_with_limit_and_cursor(kv: KVNamespaceBinding) -> None:
    names = [f"key-{i:02d}" for i in range(7)]
    for name in reversed(names):
        await kv.put(name, "v")

    seen: list[str] = []
    res = await kv.list({"limit": 3})
    pages = 1
    while not res.list_complete:
        seen += [k.name for k in res["keys"]]
        res = await kv.list(limit=3, cursor=res.cursor)
        pages += 1
    seen += [k.name for k in res["keys"]]
    assert seen == names
    assert pages == 3


async def test_list_limit_equal_to_the_count_is_complete(kv: KVNamespaceBinding) -> None:
    for name in "abc":
        await kv.put(name, "v")
    res = await kv.list(limit=3)
    assert len(res["keys"]) == 3
    assert res.list_complete is True


async def test_list_prefix_with_multibyte_and_top_characters(kv: KVNamespaceBinding) -> None:
    for key in ["é", "éa", "ê", "\U0010ffff", "\U0010ffffz", "a\U0010ffff"]:
        await kv.put(key, "v")
    assert [k.name for k in (await kv.list(prefix="é"))["keys"]] == ["é", "éa"]
    assert [k.name for k in (await kv.list(prefix="\U0010ffff"))["keys"]] == ["\U0010ffff", "\U0010ffffz"]


@pytest.mark.parametrize("limit", [0, limits.KV_MAX_LIST_LIMIT + 1])
async def test_list_limit_out_of_range(kv: KVNamespaceBinding, limit: int) -> None:
    with pytest.raises(StorageError, match=f"Invalid key_count_limit of {limit}"):
        await kv.list(limit=limit)


async def test_list_with_a_bad_cursor(kv: KVNamespaceBinding) -> None:
    with pytest.raises(StorageError, match="Invalid cursor"):
        await kv.list(cursor="***")


# --- persistence ------------------------------------------------------------------------


async def test_persisted_namespace_survives_reopening(tmp_path: Path, clock: FakeClock) -> None:
    first = open_kv(NS, tmp_path, clock)
    await first.put("k", "v", metadata={"m": 1})
    first.close()
    assert kv_path(tmp_path, NS) == tmp_path / "kv" / "CACHE.sqlite3"
    assert kv_path(tmp_path, NS).exists()

    second = open_kv(NS, tmp_path, clock)
    assert await second.getWithMetadata("k") == {"value": "v", "metadata": {"m": 1}}
    second.close()


async def test_namespace_id_names_the_file(tmp_path: Path, clock: FakeClock) -> None:
    ns = KVNamespace(binding="CACHE", id="0f2ac74b498b48028cb68387c421e279")
    binding = open_kv(ns, tmp_path, clock)
    await binding.put("k", "v")
    binding.close()
    assert (tmp_path / "kv" / "0f2ac74b498b48028cb68387c421e279.sqlite3").exists()


async def test_two_connections_share_one_persisted_namespace(tmp_path: Path, clock: FakeClock) -> None:
    a, b = open_kv(NS, tmp_path, clock), open_kv(NS, tmp_path, clock)
    await a.put("k", "from a")
    assert await b.get("k") == "from a"
    await b.delete("k")
    assert await a.get("k") is None
    a.close()
    b.close()


def test_another_process_sees_the_writes(tmp_path: Path) -> None:
    script = """
import asyncio, sys
from pathlib import Path
from workerlab.bindings import open_kv
from workerlab.clock import SystemClock
from workerlab.bindings.kv import KVNamespace

async def main():
    kv = open_kv(KVNamespace(binding="CACHE"), Path(sys.argv[1]), SystemClock())
    if sys.argv[2] == "put":
        await kv.put("shared", "from " + str(sys.argv[3]))
    else:
        print(await kv.get("shared"))
    kv.close()

asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script, str(tmp_path), "put", "writer"], check=True)
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), "get"], check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "from writer"


# --- bulk reads -------------------------------------------------------------------------


async def test_get_of_several_keys(kv: KVNamespaceBinding) -> None:
    await kv.put("a", '{"n": 1}', metadata={"m": "a"})
    await kv.put("b", '{"n": 2}')
    assert await kv.get(["a", "b", "missing"]) == {"a": '{"n": 1}', "b": '{"n": 2}', "missing": None}
    values = await kv.get(["a", "b"], "json")
    assert values["a"].n == 1
    with_metadata = await kv.getWithMetadata(["a", "missing"], {"type": "json"})
    assert with_metadata == {"a": {"value": {"n": 1}, "metadata": {"m": "a"}}, "missing": None}


async def test_get_of_several_keys_limits(kv: KVNamespaceBinding) -> None:
    with pytest.raises(StorageError, match=f"expected 1 to {KV_MAX_BULK_GET_KEYS} keys, found"):
        await kv.get([f"k{i}" for i in range(KV_MAX_BULK_GET_KEYS + 1)])
    with pytest.raises(TypeError, match="reads 'text' or 'json'"):
        await kv.get(["a"], "bytes")
    with pytest.raises(StorageError, match="Key names must not be empty"):
        await kv.get(["a", ""])


def test_an_unusable_persist_directory_is_a_clear_error(tmp_path: Path, clock: FakeClock) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match=r"cannot open the local database .*kv"):
        open_kv(NS, blocker, clock)
