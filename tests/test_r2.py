from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workerlab import limits
from workerlab.bindings import R2BucketBinding, R2Object, R2ObjectBody, open_r2
from workerlab.bindings.r2 import R2_MAX_DELETE_KEYS, R2Bucket, r2_dir
from workerlab.clock import FakeClock
from workerlab.errors import StorageError

BUCKET = R2Bucket(binding="BUCKET", bucket_name="files")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bucket(clock: FakeClock) -> Iterator[R2BucketBinding]:
    binding = open_r2(BUCKET, None, clock)
    yield binding
    binding.close()


@pytest.fixture
def disk_bucket(tmp_path: Path, clock: FakeClock) -> Iterator[R2BucketBinding]:
    binding = open_r2(BUCKET, tmp_path / "persist", clock)
    yield binding
    binding.close()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- put / get / head -------------------------------------------------------------------


async def test_put_returns_the_objects_metadata(bucket: R2BucketBinding, clock: FakeClock) -> None:
    obj = await bucket.put(
        "docs/a.txt", "hello", httpMetadata={"contentType": "text/plain"}, customMetadata={"owner": "ada"}
    )
    assert isinstance(obj, R2Object)
    md5 = hashlib.md5(b"hello").hexdigest()
    assert obj.key == "docs/a.txt"
    assert obj.size == 5
    assert obj.etag == md5
    assert obj.httpEtag == f'"{md5}"'
    assert obj.uploaded == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(obj.version) == 32
    assert obj.httpMetadata == {"contentType": "text/plain"}
    assert obj.customMetadata == {"owner": "ada"}
    assert obj.checksums.md5 == hashlib.md5(b"hello").digest()
    assert obj.storageClass == "Standard"
    assert not hasattr(obj, "text")


async def test_get_reads_the_body(bucket: R2BucketBinding) -> None:
    await bucket.put("doc.json", '{"a": {"b": 1}}', {"httpMetadata": {"contentType": "application/json"}})
    obj = await bucket.get("doc.json")
    assert isinstance(obj, R2ObjectBody)
    assert obj["httpMetadata"] == {"contentType": "application/json"}
    data = await obj.json()
    assert data.a.b == 1
    assert obj.bodyUsed is True

    assert await (await bucket.get("doc.json")).text() == '{"a": {"b": 1}}'
    assert await (await bucket.get("doc.json")).bytes() == b'{"a": {"b": 1}}'
    assert await (await bucket.get("doc.json")).arrayBuffer() == b'{"a": {"b": 1}}'


async def test_a_body_is_read_once(bucket: R2BucketBinding) -> None:
    await bucket.put("k", b"data")
    obj = await bucket.get("k")
    await obj.text()
    with pytest.raises(TypeError, match="already been read"):
        await obj.bytes()


async def test_missing_objects(bucket: R2BucketBinding) -> None:
    assert await bucket.get("nope") is None
    assert await bucket.head("nope") is None


async def test_head_is_metadata_without_a_body(bucket: R2BucketBinding) -> None:
    put = await bucket.put("k", b"\x00\x01\x02", customMetadata={"x": "y"})
    head = await bucket.head("k")
    assert head == put
    assert type(head) is R2Object


async def test_values_str_bytes_and_none(bucket: R2BucketBinding) -> None:
    await bucket.put("s", "é")
    await bucket.put("b", bytearray(b"\xff"))
    empty = await bucket.put("n", None)
    assert (await bucket.head("s")).size == 2
    assert await (await bucket.get("b")).bytes() == b"\xff"
    assert empty.size == 0
    with pytest.raises(TypeError, match="found dict"):
        await bucket.put("d", {"a": 1})


async def test_put_overwrites(bucket: R2BucketBinding, clock: FakeClock) -> None:
    first = await bucket.put("k", "one", customMetadata={"v": "1"})
    clock.advance(5)
    second = await bucket.put("k", "two")
    assert second.version != first.version
    assert second.uploaded == first.uploaded + timedelta(seconds=5)
    obj = await bucket.get("k")
    assert obj.customMetadata == {}
    assert await obj.text() == "two"


async def test_http_metadata_from_headers(bucket: R2BucketBinding) -> None:
    expires = datetime(2026, 2, 1, tzinfo=UTC)
    headers = _Headers(
        {"Content-Type": "image/png", "Cache-Control": "max-age=60", "Expires": expires, "X-Other": "ignored"}
    )
    obj = await bucket.put("img", b"png", httpMetadata=headers)
    assert obj.httpMetadata == {
        "contentType": "image/png",
        "cacheControl": "max-age=60",
        "cacheExpiry": expires,
    }

    out: dict[str, str] = {}
    obj.writeHttpMetadata(out)
    assert out == {
        "content-type": "image/png",
        "cache-control": "max-age=60",
        "expires": "Sun, 01 Feb 2026 00:00:00 GMT",
    }


class _Headers:
    """A minimal Headers-like object (not a dict)."""

    def __init__(self, values: dict[str, object]) -> None:
        self._values = values

    def items(self) -> list[tuple[str, object]]:
        return list(self._values.items())


async def test_metadata_types_are_checked(bucket: R2BucketBinding) -> None:
    with pytest.raises(TypeError, match="unknown field 'content_type'"):
        await bucket.put("k", "v", httpMetadata={"content_type": "text/plain"})
    with pytest.raises(TypeError, match=r"customMetadata\['n'\] must be a str, found int"):
        await bucket.put("k", "v", customMetadata={"n": 1})
    assert await bucket.head("k") is None


async def test_checksums_are_verified(bucket: R2BucketBinding) -> None:
    digest = hashlib.sha256(b"data").hexdigest()
    obj = await bucket.put("k", b"data", sha256=digest)
    assert obj.checksums.sha256 == bytes.fromhex(digest)
    await bucket.put("k2", b"data", md5=hashlib.md5(b"data").digest())
    with pytest.raises(StorageError, match="MD5 checksum you specified did not match"):
        await bucket.put("k3", b"data", md5=hashlib.md5(b"other").hexdigest())
    assert await bucket.head("k3") is None


# --- conditions and ranges --------------------------------------------------------------


async def test_put_only_if(bucket: R2BucketBinding) -> None:
    first = await bucket.put("k", "one")
    assert await bucket.put("k", "two", onlyIf={"etagMatches": "not-the-etag"}) is None
    assert await (await bucket.get("k")).text() == "one"
    assert await bucket.put("k", "two", onlyIf={"etagMatches": first.etag}) is not None
    assert await bucket.put("new", "x", onlyIf={"etagDoesNotMatch": "*"}) is not None
    assert await bucket.put("new", "y", onlyIf={"etagDoesNotMatch": "*"}) is None


async def test_get_only_if_unmet_returns_the_object_without_body(
    bucket: R2BucketBinding, clock: FakeClock
) -> None:
    put = await bucket.put("k", "v")
    obj = await bucket.get("k", onlyIf={"etagDoesNotMatch": put.etag})
    assert type(obj) is R2Object
    later = clock.now_s() + 10
    assert (
        type(await bucket.get("k", onlyIf={"uploadedAfter": datetime.fromtimestamp(later, UTC)})) is R2Object
    )
    assert type(await bucket.get("k", onlyIf={"if-none-match": '"other"'})) is R2ObjectBody


async def test_ranges(bucket: R2BucketBinding) -> None:
    await bucket.put("k", b"0123456789")
    part = await bucket.get("k", range={"offset": 2, "length": 3})
    assert await part.bytes() == b"234"
    assert part.range == {"offset": 2, "length": 3}
    assert part.size == 10
    assert await (await bucket.get("k", range={"suffix": 4})).bytes() == b"6789"
    assert await (await bucket.get("k", range={"offset": 8})).bytes() == b"89"
    assert await (await bucket.get("k", {"range": _Headers({"Range": "bytes=1-2"})})).bytes() == b"12"
    with pytest.raises(StorageError, match="range is not satisfiable"):
        await bucket.get("k", range={"offset": 10})


# --- delete -----------------------------------------------------------------------------


async def test_delete_one_or_many(bucket: R2BucketBinding) -> None:
    for key in "abcd":
        await bucket.put(key, key)
    await bucket.delete("a")
    await bucket.delete(["b", "c", "missing"])
    assert [o.key for o in (await bucket.list()).objects] == ["d"]


async def test_delete_limit(bucket: R2BucketBinding) -> None:
    with pytest.raises(StorageError, match=f"at most {R2_MAX_DELETE_KEYS} keys"):
        await bucket.delete([f"k{i}" for i in range(R2_MAX_DELETE_KEYS + 1)])


async def test_delete_and_overwrite_remove_the_old_body_files(
    disk_bucket: R2BucketBinding, tmp_path: Path
) -> None:
    blobs = r2_dir(tmp_path / "persist", BUCKET) / "blobs"
    await disk_bucket.put("k", "one")
    await disk_bucket.put("k", "two")
    assert len(_files(blobs)) == 1
    await disk_bucket.delete("k")
    assert _files(blobs) == []


# --- list -------------------------------------------------------------------------------


async def test_list_in_key_order_with_prefix(bucket: R2BucketBinding) -> None:
    for key in ["b/2", "a", "b/1", "b/10", "c"]:
        await bucket.put(key, "v")
    res = await bucket.list(prefix="b/")
    assert [o.key for o in res.objects] == ["b/1", "b/10", "b/2"]
    assert res.truncated is False
    assert res["cursor"] == ""  # the last page
    assert res.delimitedPrefixes == []


async def test_list_pages_with_limit_and_cursor(bucket: R2BucketBinding) -> None:
    keys = [f"k{i:02d}" for i in range(7)]
    for key in keys:
        await bucket.put(key, "v")
    seen: list[str] = []
    res = await bucket.list({"limit": 3})
    while True:
        seen += [o.key for o in res.objects]
        if not res.truncated:
            break
        res = await bucket.list(limit=3, cursor=res.cursor)
    assert seen == keys


async def test_list_with_delimiter(bucket: R2BucketBinding) -> None:
    for key in ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/top.jpg", "readme"]:
        await bucket.put(key, "v")
    res = await bucket.list(prefix="photos/", delimiter="/")
    assert [o.key for o in res.objects] == ["photos/top.jpg"]
    assert res.delimitedPrefixes == ["photos/2024/", "photos/2025/"]

    top = await bucket.list(delimiter="/")
    assert top.delimitedPrefixes == ["photos/"]
    assert [o.key for o in top.objects] == ["readme"]


async def test_delimited_prefixes_count_toward_the_limit(bucket: R2BucketBinding) -> None:
    for key in ["a/1", "a/2", "b/1", "c", "d/1"]:
        await bucket.put(key, "v")
    items: list[str] = []
    res = await bucket.list(delimiter="/", limit=2)
    pages = 1
    while True:
        assert len(res.objects) + len(res.delimitedPrefixes) <= 2
        items += res.delimitedPrefixes + [o.key for o in res.objects]
        if not res.truncated:
            break
        res = await bucket.list(delimiter="/", limit=2, cursor=res.cursor)
        pages += 1
    assert sorted(items) == ["a/", "b/", "c", "d/"]
    assert pages == 2


async def test_list_start_after_and_include(bucket: R2BucketBinding) -> None:
    for key in "abc":
        await bucket.put(key, "v", httpMetadata={"contentType": "text/plain"}, customMetadata={"k": key})
    res = await bucket.list(startAfter="a")
    assert [o.key for o in res.objects] == ["b", "c"]
    assert "customMetadata" not in res.objects[0]
    assert "httpMetadata" not in res.objects[0]
    res = await bucket.list(include=["customMetadata", "httpMetadata"])
    assert res.objects[0].customMetadata == {"k": "a"}
    assert res.objects[0].httpMetadata == {"contentType": "text/plain"}


@pytest.mark.parametrize("limit", [0, limits.R2_MAX_LIST_LIMIT + 1])
async def test_list_limit_out_of_range(bucket: R2BucketBinding, limit: int) -> None:
    with pytest.raises(
        StorageError, match=f"limit must be from 1 to {limits.R2_MAX_LIST_LIMIT}, found {limit}"
    ):
        await bucket.list(limit=limit)


async def test_list_with_a_bad_cursor(bucket: R2BucketBinding) -> None:
    with pytest.raises(StorageError, match="invalid cursor"):
        await bucket.list(cursor="%%%")


# --- keys and the filesystem ------------------------------------------------------------


async def test_key_length_limit(bucket: R2BucketBinding) -> None:
    longest = "k" * limits.R2_MAX_KEY_BYTES
    await bucket.put(longest, "v")
    assert await (await bucket.get(longest)).text() == "v"
    for bad, found in [
        ("k" * (limits.R2_MAX_KEY_BYTES + 1), f"{limits.R2_MAX_KEY_BYTES + 1} bytes"),
        ("", "0 bytes"),
    ]:
        with pytest.raises(StorageError, match=f"object name is not valid.*found {found}"):
            await bucket.put(bad, "v")
        with pytest.raises(StorageError, match="object name is not valid"):
            await bucket.get(bad)


ESCAPING_KEYS = [
    "../../outside",
    "../../../../../../../../tmp/escape",
    "/absolute/path",
    "..",
    ".",
    "a/../../b",
    "nul\x00byte",
    "C:\\Windows\\system32",
    "~/home",
    "x" * limits.R2_MAX_KEY_BYTES,
    "é" * (limits.R2_MAX_KEY_BYTES // 2),
    "blobs/../objects.sqlite3",
]


async def test_no_key_reaches_outside_the_bucket_folder(disk_bucket: R2BucketBinding, tmp_path: Path) -> None:
    folder = r2_dir(tmp_path / "persist", BUCKET)
    for i, key in enumerate(ESCAPING_KEYS):
        await disk_bucket.put(key, f"value {i}")
    for i, key in enumerate(ESCAPING_KEYS):
        assert await (await disk_bucket.get(key)).text() == f"value {i}"

    assert [p.name for p in tmp_path.iterdir()] == ["persist"]
    assert [p.name for p in (tmp_path / "persist").iterdir()] == ["r2"]
    for path in _files(tmp_path):
        assert path.is_relative_to(folder)
        assert path.parent.parent.name == "blobs" or path.parent == folder
    blobs = _files(folder / "blobs")
    assert len(blobs) == len(ESCAPING_KEYS)
    assert all(len(p.name) == 32 and int(p.name, 16) >= 0 for p in blobs)

    listed = [o.key for o in (await disk_bucket.list()).objects]
    assert listed == sorted(ESCAPING_KEYS)
    await disk_bucket.delete(ESCAPING_KEYS)
    assert _files(folder / "blobs") == []


async def test_unsafe_bucket_names_stay_inside_the_r2_folder(tmp_path: Path, clock: FakeClock) -> None:
    bucket = R2Bucket(binding="B", bucket_name="../../up")
    binding = open_r2(bucket, tmp_path / "persist", clock)
    await binding.put("k", "v")
    binding.close()
    assert r2_dir(tmp_path / "persist", bucket).parent == tmp_path / "persist" / "r2"
    assert [p.name for p in tmp_path.iterdir()] == ["persist"]


# --- persistence ------------------------------------------------------------------------


async def test_objects_survive_reopening(tmp_path: Path, clock: FakeClock) -> None:
    first = open_r2(BUCKET, tmp_path, clock)
    put = await first.put("k", b"bytes", customMetadata={"a": "b"})
    first.close()
    assert (tmp_path / "r2" / "files" / "objects.sqlite3").exists()

    second = open_r2(BUCKET, tmp_path, clock)
    obj = await second.get("k")
    assert obj == put
    assert await obj.bytes() == b"bytes"
    second.close()


async def test_two_connections_share_a_bucket(tmp_path: Path, clock: FakeClock) -> None:
    a, b = open_r2(BUCKET, tmp_path, clock), open_r2(BUCKET, tmp_path, clock)
    await a.put("k", "from a")
    assert await (await b.get("k")).text() == "from a"
    await b.put("k", "from b")
    assert await (await a.get("k")).text() == "from b"
    await a.delete("k")
    assert await b.head("k") is None
    a.close()
    b.close()


async def test_a_body_replaced_under_a_reader_is_read_again(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, writer = open_r2(BUCKET, tmp_path, clock), open_r2(BUCKET, tmp_path, clock)
    await writer.put("k", "old")
    blobs = reader._blobs
    read = blobs.read

    def racing_read(version: str) -> bytes:
        # Another process replaces the object between the reader's row read and its file read.
        monkeypatch.setattr(blobs, "read", read)
        replace = writer.put("k", "new")
        with pytest.raises(StopIteration):
            replace.send(None)  # put() never suspends: drive it to completion here
        return read(version)

    monkeypatch.setattr(blobs, "read", racing_read)
    assert await (await reader.get("k")).text() == "new"
    reader.close()
    writer.close()


async def test_a_missing_body_is_reported(disk_bucket: R2BucketBinding, tmp_path: Path) -> None:
    put = await disk_bucket.put("k", "v")
    for path in _files(r2_dir(tmp_path / "persist", BUCKET) / "blobs"):
        os.remove(path)
    with pytest.raises(StorageError, match=f"body of object 'k' \\(version {put.version}\\) is missing"):
        await disk_bucket.get("k")


# --- list against a model ---------------------------------------------------------------


def _model_listing(keys: set[str], prefix: str, delimiter: str) -> tuple[list[str], list[str]]:
    objects: list[str] = []
    prefixes: list[str] = []
    for key in sorted(k for k in keys if k.startswith(prefix)):
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut < 0:
            objects.append(key)
        elif key[: cut + len(delimiter)] not in prefixes:
            prefixes.append(key[: cut + len(delimiter)])
    return objects, prefixes


@settings(max_examples=40, deadline=None)
@given(
    keys=st.sets(st.text(alphabet="ab/", min_size=1, max_size=5), max_size=12),
    prefix=st.text(alphabet="ab/", max_size=2),
    delimiter=st.sampled_from(["", "/", "b/"]),
    limit=st.integers(min_value=1, max_value=4),
)
def test_paging_through_list_matches_a_model(keys: set[str], prefix: str, delimiter: str, limit: int) -> None:
    async def page_through() -> tuple[list[str], list[str]]:
        bucket = open_r2(BUCKET, None, FakeClock())
        for key in keys:
            await bucket.put(key, "v")
        objects: list[str] = []
        prefixes: list[str] = []
        options = {"prefix": prefix, "delimiter": delimiter or None, "limit": limit}
        res = await bucket.list(options)
        while True:
            assert len(res.objects) + len(res.delimitedPrefixes) <= limit
            objects += [o.key for o in res.objects]
            prefixes += res.delimitedPrefixes
            if not res.truncated:
                break
            res = await bucket.list(options, cursor=res.cursor)
        bucket.close()
        return objects, prefixes

    assert asyncio.run(page_through()) == _model_listing(keys, prefix, delimiter)
