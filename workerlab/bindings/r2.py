"""R2: a bucket as a SQLite table of object metadata plus one blob file per object version.

Layout under ``<persist>/r2/<bucket_name>/``: ``objects.sqlite3`` and
``blobs/<2 hex>/<version>``. A blob's file name is the random version id of the
write that made it, never derived from the key, so no key (``..``, absolute paths,
NUL, very long keys) can name a path outside the bucket's folder.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import limits
from ..clock import Clock
from ..config.source import ConfigSource, keys
from ..errors import StorageError
from ..file_names import safe_file_name
from ..sql_text import prefix_end
from .database import Database
from .r2_objects import (
    CHECKSUM_ALGORITHMS,
    R2Object,
    R2ObjectBody,
    StoredObject,
    condition_holds,
    parse_condition,
    parse_custom_metadata,
    parse_http_metadata,
    parse_range,
)
from .results import JsObject, decode_cursor, encode_cursor, merge_options, require_int, to_bytes

R2_MAX_DELETE_KEYS = limits.R2_MAX_DELETE_KEYS
#: R2's storage classes; the first is the default.
STORAGE_CLASSES = ("Standard", "InfrequentAccess")
#: How often a read retries when another process replaced the object under it.
_READ_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    uploaded_ms INTEGER NOT NULL,
    http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL,
    checksums TEXT NOT NULL,
    storage_class TEXT NOT NULL
) WITHOUT ROWID;
"""


if TYPE_CHECKING:
    from .registry import BindingSite, Mode


@dataclass(frozen=True)
class R2Bucket:
    """A ``[[r2_buckets]]`` entry."""

    binding: str
    bucket_name: str


def r2_dir(persist_dir: Path, bucket: R2Bucket) -> Path:
    """A bucket's folder: ``<persist>/r2/<bucket_name>/``."""
    return persist_dir / "r2" / safe_file_name(bucket.bucket_name)


def open_r2(
    bucket: R2Bucket, persist_dir: Path | None, clock: Clock, *, durable: bool = False
) -> R2BucketBinding:
    """The ``env`` object of a ``[[r2_buckets]]`` binding; ``persist_dir`` None keeps it in memory."""
    if persist_dir is None:
        return R2BucketBinding(bucket.binding, Database(None, on_loop=True), MemoryBlobs(), clock)
    folder = r2_dir(persist_dir, bucket)
    db = Database(folder / "objects.sqlite3", durable=durable, on_loop=True)
    return R2BucketBinding(bucket.binding, db, FileBlobs(folder / "blobs", durable=durable), clock)


class Blobs(Protocol):
    """Object bodies by version id."""

    def write(self, version: str, data: bytes) -> None: ...
    def read(self, version: str) -> bytes: ...  # FileNotFoundError when gone
    def delete(self, version: str) -> None: ...


class MemoryBlobs:
    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def write(self, version: str, data: bytes) -> None:
        self._data[version] = data

    def read(self, version: str) -> bytes:
        try:
            return self._data[version]
        except KeyError:
            raise FileNotFoundError(version) from None

    def delete(self, version: str) -> None:
        self._data.pop(version, None)


class FileBlobs:
    """One file per version under ``root``; written to a temporary name, then renamed into place."""

    def __init__(self, root: Path, *, durable: bool = False) -> None:
        self.root = root
        self.durable = durable

    def path(self, version: str) -> Path:
        if len(version) != 32 or not all(c in "0123456789abcdef" for c in version):
            raise StorageError(f"R2 storage in {self.root} is corrupt: found version id {version!r}")
        return self.root / version[:2] / version

    def write(self, version: str, data: bytes) -> None:
        path = self.path(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{version}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            if self.durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    def read(self, version: str) -> bytes:
        return self.path(version).read_bytes()

    def delete(self, version: str) -> None:
        self.path(version).unlink(missing_ok=True)


def _short(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:57] + "...")


class R2BucketBinding:
    """An R2 bucket as a worker sees it: ``put``, ``get``, ``head``, ``delete``, ``list``."""

    def __init__(self, binding: str, db: Database, blobs: Blobs, clock: Clock) -> None:
        self.binding = binding
        self._db = db
        self._blobs = blobs
        self._clock = clock
        with db.lock:
            db.conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"<R2Bucket {self.binding}>"

    def close(self) -> None:
        self._db.close()

    def _check_key(self, op: str, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"R2 {op}(): key must be a str, found {type(key).__name__}")
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            size = -1
        if not 1 <= size <= limits.R2_MAX_KEY_BYTES:
            found = "a lone surrogate" if size < 0 else f"{size} bytes"
            raise StorageError(
                f"{op}: The specified object name is not valid. (10020): expected 1 to "
                f"{limits.R2_MAX_KEY_BYTES} bytes of UTF-8, found {found} "
                f"(key {_short(key)}, bucket {self.binding})"
            )
        return key

    def _stored(self, key: str) -> StoredObject | None:
        row = self._db.conn.execute(
            f"SELECT {StoredObject.COLUMNS} FROM objects WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StoredObject(*row)

    # --- put --------------------------------------------------------------------------

    async def put(
        self, key: str, value: Any, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> R2Object | None:
        """Store ``value`` (str, bytes or None) under ``key``; the new object's metadata.

        Options: ``httpMetadata``, ``customMetadata``, one checksum (``md5``, ``sha1``,
        ``sha256``, ``sha384``, ``sha512``) to verify, ``onlyIf``, ``storageClass``. With
        ``onlyIf`` unmet nothing is stored and the result is None.
        """
        allowed = ("httpMetadata", "customMetadata", "onlyIf", "storageClass", *CHECKSUM_ALGORITHMS)
        opts = merge_options("R2 put()", options, kwargs, allowed)
        self._check_key("put", key)
        data = b"" if value is None else to_bytes("R2 put()", value)
        http = parse_http_metadata(opts.get("httpMetadata", {}))
        custom = parse_custom_metadata(opts.get("customMetadata", {}))
        condition = parse_condition(opts["onlyIf"], "R2 put(): onlyIf") if "onlyIf" in opts else {}
        storage_class = opts.get("storageClass", STORAGE_CLASSES[0])
        if storage_class not in STORAGE_CLASSES:
            raise TypeError(
                f"R2 put(): storageClass must be one of {', '.join(STORAGE_CLASSES)}, found {storage_class!r}"
            )
        checksums = {"md5": hashlib.md5(data).hexdigest()}
        self._verify_checksums(key, data, opts, checksums)
        version = uuid.uuid4().hex
        stored = StoredObject(
            key=key,
            version=version,
            size=len(data),
            etag=checksums["md5"],
            uploaded_ms=self._clock.now_ms(),
            http_metadata=json.dumps(http),
            custom_metadata=json.dumps(custom, ensure_ascii=False),
            checksums=json.dumps(checksums),
            storage_class=storage_class,
        )
        # The body is in place before its row commits, so a reader never finds a row without a body.
        self._blobs.write(version, data)

        def write(_conn: sqlite3.Connection) -> tuple[bool, StoredObject | None]:
            with self._db.transaction() as conn:
                previous = self._stored(key)
                if not condition_holds(condition, previous):
                    return False, previous
                conn.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (stored.key, stored.version, stored.size, stored.etag, stored.uploaded_ms,
                     stored.http_metadata, stored.custom_metadata, stored.checksums, stored.storage_class),
                )  # fmt: skip
                return True, previous

        try:
            written, previous = await self._db.run(write)
        except BaseException:
            self._blobs.delete(version)
            raise
        if not written:
            self._blobs.delete(version)
            return None
        if previous is not None:
            self._blobs.delete(previous.version)
        return stored.to_object()

    def _verify_checksums(
        self, key: str, data: bytes, opts: Mapping[str, Any], checksums: dict[str, str]
    ) -> None:
        given = [name for name in CHECKSUM_ALGORITHMS if name in opts]
        if len(given) > 1:
            raise TypeError(f"R2 put(): give at most one checksum, found {', '.join(given)}")
        for name in given:
            expected = opts[name]
            if isinstance(expected, bytes | bytearray | memoryview):
                expected = bytes(expected).hex()
            if not isinstance(expected, str):
                raise TypeError(
                    f"R2 put(): {name} must be a hex str or bytes, found {type(expected).__name__}"
                )
            actual = hashlib.new(name, data).hexdigest()
            if expected.lower() != actual:
                raise StorageError(
                    f"put: The {name.upper()} checksum you specified did not match what we received. "
                    f"(10037): "
                    f"expected {expected}, computed {actual} (key {_short(key)}, bucket {self.binding})"
                )
            checksums[name] = actual

    # --- get / head -------------------------------------------------------------------

    async def get(
        self, key: str, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> R2ObjectBody | R2Object | None:
        """The object with its body, None if missing.

        Options: ``range`` (``{offset, length}``, ``{suffix}`` or Headers) and ``onlyIf``; with
        ``onlyIf`` unmet the result is the object's metadata without a body, as on R2.
        """
        opts = merge_options("R2 get()", options, kwargs, ("range", "onlyIf"))
        self._check_key("get", key)
        condition = parse_condition(opts["onlyIf"], "R2 get(): onlyIf") if "onlyIf" in opts else {}
        missing: str | None = None
        for _ in range(_READ_ATTEMPTS):
            stored = await self._db.run(lambda _conn: self._stored(key))
            if stored is None:
                return None
            if not condition_holds(condition, stored):
                return stored.to_object()
            if stored.version == missing:
                raise StorageError(
                    f"get: the body of object {_short(key)} (version {missing}) is missing from the "
                    f"storage of bucket {self.binding}"
                )
            try:
                body = self._blobs.read(stored.version)
            except FileNotFoundError:
                missing = stored.version  # replaced or deleted by another process between the two reads
                continue
            range_ = None
            if "range" in opts:
                offset, length = parse_range(opts["range"], stored.size, key)
                body = body[offset : offset + length]
                range_ = JsObject(offset=offset, length=length)
            return stored.to_body(body, range_)
        raise StorageError(
            f"get: object {_short(key)} in bucket {self.binding} kept changing while being read; try again"
        )

    async def head(self, key: str) -> R2Object | None:
        """The object's metadata without its body, None if missing."""
        self._check_key("head", key)
        stored = await self._db.run(lambda _conn: self._stored(key))
        return None if stored is None else stored.to_object()

    # --- delete -----------------------------------------------------------------------

    async def delete(self, keys: str | Iterable[str]) -> None:
        """Remove one key or a list of keys (missing keys are not an error)."""
        key_list = [keys] if isinstance(keys, str) else list(keys)
        if len(key_list) > R2_MAX_DELETE_KEYS:
            raise StorageError(
                f"delete: expected at most {R2_MAX_DELETE_KEYS} keys per call, found {len(key_list)} "
                f"(bucket {self.binding})"
            )
        for key in key_list:
            self._check_key("delete", key)

        def remove(_conn: sqlite3.Connection) -> builtins.list[str]:
            versions: builtins.list[str] = []
            with self._db.transaction() as conn:
                for key in key_list:
                    row = conn.execute(
                        "DELETE FROM objects WHERE key = ? RETURNING version", (key,)
                    ).fetchone()
                    if row is not None:
                        versions.append(row[0])
            return versions

        for version in await self._db.run(remove):
            self._blobs.delete(version)

    # --- list -------------------------------------------------------------------------

    async def list(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> JsObject:
        """Objects in key order: ``{objects, truncated, cursor, delimitedPrefixes}``.

        Options: ``prefix``, ``limit`` (1..1000), ``cursor``, ``delimiter``, ``startAfter``,
        ``include`` (``["httpMetadata", "customMetadata"]``: listed objects carry those
        fields only when asked, as on R2). ``cursor`` is ``""`` when not ``truncated``.
        """
        allowed = ("prefix", "limit", "cursor", "delimiter", "startAfter", "include")
        opts = merge_options("R2 list()", options, kwargs, allowed)
        prefix = self._str_option("prefix", opts.get("prefix", ""))
        delimiter = self._str_option("delimiter", opts.get("delimiter", ""))
        limit = require_int("R2 list()", "limit", opts.get("limit", limits.R2_MAX_LIST_LIMIT))
        if not 1 <= limit <= limits.R2_MAX_LIST_LIMIT:
            raise StorageError(
                f"list: limit must be from 1 to {limits.R2_MAX_LIST_LIMIT}, found {limit} "
                f"(bucket {self.binding})"
            )
        include = tuple(opts.get("include", ()))
        for name in include:
            if name not in ("httpMetadata", "customMetadata"):
                raise TypeError(
                    f"R2 list(): include may hold 'httpMetadata' and 'customMetadata', found {name!r}"
                )
        if "cursor" in opts:
            cursor = decode_cursor(opts["cursor"])
            if cursor is None:
                raise StorageError(
                    f"list: invalid cursor {opts['cursor']!r}: expected a cursor returned by an earlier "
                    f"list() of bucket {self.binding}"
                )
            lower, inclusive = cursor, True
        elif "startAfter" in opts:
            lower, inclusive = self._str_option("startAfter", opts["startAfter"]), False
        else:
            lower, inclusive = prefix, True
        if lower < prefix:
            lower, inclusive = prefix, True
        end = prefix_end(prefix)

        def collect(
            _conn: sqlite3.Connection,
        ) -> tuple[builtins.list[R2Object], builtins.list[str], str | None]:
            lower_key, after = lower, not inclusive
            objects: builtins.list[R2Object] = []
            prefixes: builtins.list[str] = []
            while True:
                rows = self._page(lower_key, not after, end, limit + 1)
                restarted = False
                for row in rows:
                    stored = StoredObject(*row)
                    if len(objects) + len(prefixes) == limit:
                        return objects, prefixes, stored.key
                    group = self._group(stored.key, prefix, delimiter)
                    if group is None:
                        objects.append(stored.to_object(include=include))
                        lower_key, after = stored.key, True
                        continue
                    prefixes.append(group)
                    group_end = prefix_end(group)
                    if group_end is None:
                        return objects, prefixes, None
                    lower_key, after, restarted = group_end, False, True
                    break
                if not restarted and len(rows) <= limit:
                    return objects, prefixes, None

        objects, prefixes, next_key = await self._db.run(collect)
        cursor = "" if next_key is None else encode_cursor(next_key)
        return JsObject(
            objects=objects, truncated=next_key is not None, cursor=cursor, delimitedPrefixes=prefixes
        )

    def _page(
        self, lower: str, inclusive: bool, end: str | None, count: int
    ) -> builtins.list[tuple[Any, ...]]:
        sql = f"SELECT {StoredObject.COLUMNS} FROM objects WHERE key {'>=' if inclusive else '>'} ?"
        params: builtins.list[Any] = [lower]
        if end is not None:
            sql += " AND key < ?"
            params.append(end)
        sql += " ORDER BY key LIMIT ?"
        params.append(count)
        return self._db.conn.execute(sql, params).fetchall()

    @staticmethod
    def _group(key: str, prefix: str, delimiter: str) -> str | None:
        if not delimiter:
            return None
        cut = key.find(delimiter, len(prefix))
        return None if cut < 0 else key[: cut + len(delimiter)]

    def _str_option(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"R2 list(): {name} must be a str, found {type(value).__name__}")
        return value


class _R2Kind:
    section = "r2_buckets"
    label = "R2 Bucket"
    spec = R2Bucket
    _keys = keys("binding bucket_name preview_bucket_name jurisdiction remote experimental_remote")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[R2Bucket, str]]:
        return [
            (R2Bucket(src.string(item, "binding", at), src.string(item, "bucket_name", at)), at)
            for item, at in src.entries(value, key, self._keys)
        ]

    async def open(self, spec: R2Bucket, site: BindingSite) -> R2BucketBinding:
        session = site.session

        def make() -> R2BucketBinding:
            return open_r2(spec, session.persist_dir, session.clock, durable=session.durable)

        binding: R2BucketBinding = session.shared(("r2", spec.bucket_name), make)
        return binding

    def describe(self, spec: R2Bucket, site: BindingSite) -> tuple[str, Mode]:
        return spec.bucket_name, "local"


KIND = _R2Kind()
