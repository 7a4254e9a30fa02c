"""The key-value pairs of one object: a table of its SQLite file, and the checks Cloudflare makes.

Keys are str, values structured clones in the tagged encoding of :mod:`workerlab.clone`. The
table is ``_cf_KV``: user SQL cannot read or write tables whose names start with ``_cf_`` (see
:mod:`.sql`), as on Cloudflare, where the key-value API keeps its pairs in a hidden table of the
object's database too. Every function here takes the connection and runs synchronously.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ..bindings.results import JsObject
from ..clone import decode_clone, encode_clone
from ..errors import StorageError
from ..sql_text import prefix_end
from .limits import MAX_KEY_BYTES, MAX_KEYS_PER_CALL

#: The table of the key-value pairs (the ``_cf_`` prefix keeps user SQL out).
KV_TABLE = "_cf_KV"

SCHEMA = f"CREATE TABLE IF NOT EXISTS {KV_TABLE} (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
_GET = f"SELECT value FROM {KV_TABLE} WHERE key = ?"
_PUT = f"INSERT OR REPLACE INTO {KV_TABLE} (key, value) VALUES (?, ?)"
_DELETE = f"DELETE FROM {KV_TABLE} WHERE key = ?"
_DELETE_ALL = f"DELETE FROM {KV_TABLE}"


def check_key(key: Any, where: str) -> str:
    """``key`` if it is a str of at most :data:`MAX_KEY_BYTES` UTF-8 bytes."""
    if not isinstance(key, str):
        raise TypeError(f"storage {where}: a key must be a str, found {type(key).__name__} {key!r}")
    # Four bytes per character at most: short keys need no encoding to be measured.
    if len(key) * 4 > MAX_KEY_BYTES:
        size = len(key.encode("utf-8", "surrogatepass"))
        if size > MAX_KEY_BYTES:
            raise StorageError(
                f"storage {where}: Keys cannot be larger than {MAX_KEY_BYTES} bytes. A key of size "
                f"{size} was provided (starting {key[:40]!r})."
            )
    return key


def check_keys(keys: Sequence[Any], where: str) -> list[str]:
    """``keys`` checked one by one, and at most :data:`MAX_KEYS_PER_CALL` of them."""
    if len(keys) > MAX_KEYS_PER_CALL:
        raise StorageError(
            f"storage {where}: Maximum number of keys is {MAX_KEYS_PER_CALL}. {len(keys)} keys were provided."
        )
    return [check_key(key, where) for key in keys]


def encode_value(value: Any, key: str, where: str, max_bytes: int) -> bytes:
    """``value`` in the stored encoding, refused past ``max_bytes``."""
    data = encode_clone(value, f"storage {where} of key {key[:60]!r}")
    if len(data) > max_bytes:
        raise StorageError(
            f"storage {where}: Values cannot be larger than {max_bytes} bytes (the limit of this "
            f"class's storage). A value of size {len(data)} was provided for key {key[:60]!r}."
        )
    return data


def read_value(data: bytes, key: str) -> Any:
    """A stored value as the platform hands it back: dicts allow attribute access."""
    try:
        value = decode_clone(data)
    except ValueError as error:
        raise StorageError(f"the stored value of key {key[:60]!r} is damaged: {error}") from None
    return platform_value(value) if isinstance(value, dict | list) else value


def platform_value(value: Any) -> Any:
    if isinstance(value, dict):
        return JsObject((key, platform_value(item)) for key, item in value.items())
    if isinstance(value, list):
        return [platform_value(item) for item in value]
    return value


# --- queries (conn first; each runs in whatever transaction is open) ------------------------


def get_one(conn: sqlite3.Connection, key: str) -> Any:
    row = conn.execute(_GET, (key,)).fetchone()
    return None if row is None else read_value(row[0], key)


def get_many(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, Any]:
    """The keys that exist, in key order."""
    found: dict[str, Any] = {}
    for key in sorted(set(keys)):
        row = conn.execute(_GET, (key,)).fetchone()
        if row is not None:
            found[key] = read_value(row[0], key)
    return found


def put_one(conn: sqlite3.Connection, key: str, data: bytes) -> None:
    conn.execute(_PUT, (key, data))


def put_many(conn: sqlite3.Connection, entries: Sequence[tuple[str, bytes]]) -> None:
    with atomic(conn):
        conn.executemany(_PUT, entries)


def delete_one(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute(_DELETE, (key,)).rowcount > 0


def delete_many(conn: sqlite3.Connection, keys: Iterable[str]) -> int:
    """How many of ``keys`` existed."""
    count = 0
    with atomic(conn):
        for key in set(keys):
            count += conn.execute(_DELETE, (key,)).rowcount
    return count


def delete_all(conn: sqlite3.Connection) -> None:
    conn.execute(_DELETE_ALL)


def list_range(
    conn: sqlite3.Connection,
    *,
    start: str | None,
    start_after: str | None,
    end: str | None,
    prefix: str | None,
    reverse: bool,
    limit: int | None,
) -> dict[str, Any]:
    """The pairs in key order (descending when ``reverse``) within the bounds given."""
    params: list[Any] = []
    for bound in (start, start_after, end):
        if bound is not None:
            params.append(bound)
    upper = None
    if prefix:
        params.append(prefix)
        upper = prefix_end(prefix)
        if upper is not None:
            params.append(upper)
    if limit is not None:
        params.append(limit)
    query = _list_query(
        start is not None,
        start_after is not None,
        end is not None,
        bool(prefix),
        upper is not None,
        reverse,
        limit is not None,
    )
    return {key: read_value(value, key) for key, value in conn.execute(query, params)}


@functools.lru_cache(maxsize=128)
def _list_query(
    start: bool, after: bool, end: bool, prefix: bool, prefix_upper: bool, reverse: bool, limit: bool
) -> str:
    conditions = [
        text
        for wanted, text in (
            (start, "key >= ?"),
            (after, "key > ?"),
            (end, "key < ?"),
            (prefix, "key >= ?"),
            (prefix_upper, "key < ?"),
        )
        if wanted
    ]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = " ORDER BY key DESC" if reverse else " ORDER BY key"
    return f"SELECT key, value FROM {KV_TABLE}{where}{order}{' LIMIT ?' if limit else ''}"


class atomic:
    """All statements inside commit together, or none (a savepoint inside an open transaction)."""

    __slots__ = ("_conn", "_nested")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._nested = False

    def __enter__(self) -> None:
        self._nested = self._conn.in_transaction
        self._conn.execute("SAVEPOINT _cf_atomic" if self._nested else "BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        conn = self._conn
        if kind is None:
            conn.execute("RELEASE _cf_atomic" if self._nested else "COMMIT")
        elif not self._nested:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        else:
            conn.execute("ROLLBACK TO _cf_atomic")
            conn.execute("RELEASE _cf_atomic")
