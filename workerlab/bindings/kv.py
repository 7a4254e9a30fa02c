"""Workers KV: a namespace in one SQLite file, with Cloudflare's limits and exact expiry."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import limits
from ..clock import Clock
from ..config.source import ConfigSource, keys
from ..errors import StorageError
from ..file_names import safe_file_name
from ..sql_text import prefix_end
from .database import Database
from .results import JsObject, decode_cursor, encode_cursor, merge_options, parse_json, require_int, to_bytes

if TYPE_CHECKING:
    from .registry import BindingSite, Mode


@dataclass(frozen=True)
class KVNamespace:
    """A ``[[kv_namespaces]]`` entry."""

    binding: str
    id: str | None = None


_VALUE_TYPES: tuple[str, ...] = ("text", "json", "arrayBuffer", "bytes")
_BULK_VALUE_TYPES = ("text", "json")

KV_MAX_BULK_GET_KEYS = limits.KV_MAX_BULK_GET_KEYS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expiration INTEGER,  -- epoch seconds; NULL never expires
    metadata TEXT        -- JSON; NULL when none was given
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expiration ON kv (expiration) WHERE expiration IS NOT NULL;
"""

_LIVE = "(expiration IS NULL OR expiration > ?)"


def kv_path(persist_dir: Path, ns: KVNamespace) -> Path:
    """Where a namespace lives: ``<persist>/kv/<id or binding>.sqlite3``."""
    return persist_dir / "kv" / f"{safe_file_name(ns.id or ns.binding)}.sqlite3"


def open_kv(
    ns: KVNamespace, persist_dir: Path | None, clock: Clock, *, durable: bool = False
) -> KVNamespaceBinding:
    """The ``env`` object of a ``[[kv_namespaces]]`` binding; ``persist_dir`` None keeps it in memory."""
    path = None if persist_dir is None else kv_path(persist_dir, ns)
    return KVNamespaceBinding(ns.binding, Database(path, durable=durable, on_loop=True), clock)


def _short(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:57] + "...")


class KVNamespaceBinding:
    """A KV namespace as a worker sees it: ``get``, ``getWithMetadata``, ``put``, ``delete``, ``list``."""

    def __init__(self, binding: str, db: Database, clock: Clock) -> None:
        self.binding = binding
        self._db = db
        self._clock = clock
        with db.lock:
            db.conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"<KVNamespace {self.binding}>"

    def close(self) -> None:
        self._db.close()

    # --- reads ----------------------------------------------------------------------

    async def get(
        self,
        key: str | builtins.list[str] | tuple[str, ...],
        options: str | Mapping[str, Any] | None = None,
        /,
        **kwargs: Any,
    ) -> Any:
        """The value of ``key`` as ``type`` (``"text"``, ``"json"``, ``"bytes"``).

        None when the key is missing or expired. Given a list of keys (a bulk read, text or
        json only), a dict of each key to its value or None.
        """
        if not isinstance(key, list | tuple):
            return (await self._read_one(key, options, kwargs))[0]
        return {
            k: None if entry is None else entry[0]
            for k, entry in (await self._read_many(key, options, kwargs)).items()
        }

    async def getWithMetadata(
        self,
        key: str | builtins.list[str] | tuple[str, ...],
        options: str | Mapping[str, Any] | None = None,
        /,
        **kwargs: Any,
    ) -> Any:
        """``{value, metadata}`` of ``key``; both None when it is missing or expired.

        Given a list of keys, a dict of each key to its ``{value, metadata}``, or None when missing.
        """
        if not isinstance(key, list | tuple):
            value, metadata = await self._read_one(key, options, kwargs)
            return JsObject(value=value, metadata=metadata)
        return {
            k: None if entry is None else JsObject(value=entry[0], metadata=entry[1])
            for k, entry in (await self._read_many(key, options, kwargs)).items()
        }

    def _value_type(self, options: str | Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str:
        if isinstance(options, str):
            options = {"type": options}
        opts = merge_options("KV get()", options, kwargs, ("type", "cacheTtl"))
        value_type = opts.get("type", "text")
        if value_type not in _VALUE_TYPES:
            raise TypeError(
                f"KV get(): unknown type {value_type!r}; "
                f"expected one of: {', '.join(map(repr, _VALUE_TYPES))}"
            )
        return str(value_type)

    async def _read_one(
        self, key: Any, options: str | Mapping[str, Any] | None, kwargs: Mapping[str, Any]
    ) -> tuple[Any, Any]:
        value_type = self._value_type(options, kwargs)
        entry = (await self._fetch([key])).get(key)
        return (None, None) if entry is None else self._decode_entry(key, entry, value_type)

    async def _read_many(
        self,
        keys: builtins.list[str] | tuple[str, ...],
        options: str | Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> dict[str, tuple[Any, Any] | None]:
        value_type = self._value_type(options, kwargs)
        keys = builtins.list(keys)
        if value_type not in _BULK_VALUE_TYPES:
            raise TypeError(f"KV get() of several keys reads 'text' or 'json', found type {value_type!r}")
        if not 1 <= len(keys) <= KV_MAX_BULK_GET_KEYS:
            raise StorageError(
                f"KV GET_BULK failed: 400 expected 1 to {KV_MAX_BULK_GET_KEYS} keys, found {len(keys)} "
                f"(namespace {self.binding})"
            )
        found = await self._fetch(keys, op="GET_BULK")
        return {k: None if k not in found else self._decode_entry(k, found[k], value_type) for k in keys}

    async def _fetch(self, keys: builtins.list[str], op: str = "GET") -> dict[str, tuple[bytes, str | None]]:
        for key in keys:
            self._check_key(op, key)
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT key, value, metadata FROM kv WHERE key IN ({marks}) AND {_LIVE}"
        params = (*keys, self._clock.now_s())
        rows = await self._db.run(lambda conn: conn.execute(sql, params).fetchall())
        return {key: (bytes(raw), metadata) for key, raw, metadata in rows}

    def _decode_entry(self, key: str, entry: tuple[bytes, str | None], value_type: str) -> tuple[Any, Any]:
        raw, metadata = entry
        return self._decode(key, raw, value_type), None if metadata is None else parse_json(metadata)

    def _decode(self, key: str, raw: bytes, value_type: str) -> Any:
        if value_type in ("bytes", "arrayBuffer"):
            return raw
        text = raw.decode("utf-8", errors="replace")
        if value_type == "text":
            return text
        try:
            return parse_json(text)
        except ValueError as e:
            raise StorageError(
                f"KV GET failed: the value of key {_short(key)} in namespace {self.binding} "
                f"is not valid JSON ({e}); read it with type 'text'"
            ) from None

    # --- writes ---------------------------------------------------------------------

    async def put(
        self, key: str, value: str | bytes, options: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> None:
        """Store ``value`` (str or bytes) under ``key``.

        Options: ``expiration`` (epoch seconds), ``expirationTtl`` (seconds from now) and
        ``metadata`` (anything JSON can carry).
        """
        opts = merge_options("KV put()", options, kwargs, ("expiration", "expirationTtl", "metadata"))
        self._check_key("PUT", key)
        data = to_bytes("KV put()", value)
        if len(data) > limits.KV_MAX_VALUE_BYTES:
            raise self._failed(
                "PUT", 413, f"Value length of {len(data)} exceeds limit of {limits.KV_MAX_VALUE_BYTES}.", key
            )
        now_s = self._clock.now_s()
        expiration = self._expiration(key, opts, now_s)
        metadata = self._metadata(key, opts)

        def write(_conn: sqlite3.Connection) -> None:
            with self._db.transaction() as conn:
                conn.execute("DELETE FROM kv WHERE expiration <= ?", (now_s,))
                conn.execute(
                    "INSERT OR REPLACE INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?)",
                    (key, data, expiration, metadata),
                )

        await self._db.run(write)

    def _expiration(self, key: str, opts: Mapping[str, Any], now_s: float) -> int | None:
        minimum = limits.KV_MIN_EXPIRATION_TTL_S
        if "expirationTtl" in opts:
            ttl_s = require_int("KV put()", "expirationTtl", opts["expirationTtl"])
            if ttl_s < minimum:
                raise self._failed(
                    "PUT",
                    400,
                    f"Invalid expiration_ttl of {ttl_s}. Expiration TTL must be at least {minimum}.",
                    key,
                )
            return int(now_s) + ttl_s
        if "expiration" in opts:
            expiration_s = require_int("KV put()", "expiration", opts["expiration"])
            if expiration_s < now_s + minimum:
                raise self._failed(
                    "PUT",
                    400,
                    f"Invalid expiration of {expiration_s}. Expiration times must be at least "
                    f"{minimum} seconds in the future (now is {int(now_s)}).",
                    key,
                )
            return expiration_s
        return None

    def _metadata(self, key: str, opts: Mapping[str, Any]) -> str | None:
        if "metadata" not in opts:
            return None
        try:
            text = json.dumps(opts["metadata"], separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"KV put(): metadata must be serializable as JSON ({e})") from None
        size = len(text.encode("utf-8"))
        if size > limits.KV_MAX_METADATA_BYTES:
            raise self._failed(
                "PUT", 413, f"Metadata length of {size} exceeds limit of {limits.KV_MAX_METADATA_BYTES}.", key
            )
        return text

    async def delete(self, key: str) -> None:
        """Remove ``key`` (a missing key is not an error)."""
        self._check_key("DELETE", key)
        await self._db.run(lambda conn: conn.execute("DELETE FROM kv WHERE key = ?", (key,)))

    # --- list -----------------------------------------------------------------------

    async def list(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> JsObject:
        """Keys in key order: ``{keys: [{name, expiration?, metadata?}], list_complete, cursor}``.

        ``cursor`` is ``""`` once ``list_complete`` is true.
        """
        opts = merge_options("KV list()", options, kwargs, ("prefix", "limit", "cursor"))
        prefix = opts.get("prefix", "")
        if not isinstance(prefix, str):
            raise TypeError(f"KV list(): prefix must be a str, found {type(prefix).__name__}")
        limit = require_int("KV list()", "limit", opts.get("limit", limits.KV_MAX_LIST_LIMIT))
        if not 1 <= limit <= limits.KV_MAX_LIST_LIMIT:
            raise StorageError(
                f"KV LIST failed: 400 Invalid key_count_limit of {limit}. "
                f"Expected an integer from 1 to {limits.KV_MAX_LIST_LIMIT} (namespace {self.binding})."
            )
        after = None
        if "cursor" in opts:
            after = decode_cursor(opts["cursor"])
            if after is None:
                raise StorageError(
                    f"KV LIST failed: 400 Invalid cursor {opts['cursor']!r}: expected a cursor returned by "
                    f"an earlier list() of namespace {self.binding}."
                )
        sql = f"SELECT key, expiration, metadata FROM kv WHERE {_LIVE} AND key >= ?"
        params: builtins.list[Any] = [self._clock.now_s(), prefix]
        end = prefix_end(prefix)
        if end is not None:
            sql += " AND key < ?"
            params.append(end)
        if after is not None:
            sql += " AND key > ?"
            params.append(after)
        sql += " ORDER BY key LIMIT ?"
        params.append(limit + 1)
        rows = await self._db.run(lambda conn: conn.execute(sql, params).fetchall())
        keys = []
        for name, expiration, metadata in rows[:limit]:
            entry = JsObject(name=name)
            if expiration is not None:
                entry["expiration"] = expiration
            if metadata is not None:
                entry["metadata"] = parse_json(metadata)
            keys.append(entry)
        complete = len(rows) <= limit
        # The last page's cursor is "" (Cloudflare's KV API says so too), so res["cursor"] always works.
        cursor = "" if complete else encode_cursor(keys[-1]["name"])
        return JsObject(keys=keys, list_complete=complete, cursor=cursor)

    # --- validation -----------------------------------------------------------------

    def _check_key(self, op: str, key: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"KV {op.lower()}(): key must be a str, found {type(key).__name__}")
        if key == "":
            raise self._failed(op, 400, "Key names must not be empty.", key)
        if key in (".", ".."):
            raise self._failed(op, 400, f'Illegal key name "{key}". Please use a different name.', key)
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise self._failed(
                op, 400, "Key names must be valid UTF-8 (found a lone surrogate).", key
            ) from None
        if size > limits.KV_MAX_KEY_BYTES:
            raise self._failed(
                op,
                414,
                f"UTF-8 encoded length of {size} exceeds key length limit of {limits.KV_MAX_KEY_BYTES}.",
                key,
            )

    def _failed(self, op: str, status: int, detail: str, key: str) -> StorageError:
        return StorageError(
            f"KV {op} failed: {status} {detail} (key {_short(key)}, namespace {self.binding})"
        )


class _KVKind:
    section = "kv_namespaces"
    label = "KV Namespace"
    spec = KVNamespace
    _keys = keys("binding id preview_id remote experimental_remote")

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[KVNamespace, str]]:
        return [
            (KVNamespace(src.string(item, "binding", at), src.string(item, "id", at, None)), at)
            for item, at in src.entries(value, key, self._keys)
        ]

    async def open(self, spec: KVNamespace, site: BindingSite) -> KVNamespaceBinding:
        session = site.session

        def make() -> KVNamespaceBinding:
            return open_kv(spec, session.persist_dir, session.clock, durable=session.durable)

        binding: KVNamespaceBinding = session.shared(("kv", spec.id or spec.binding), make)
        return binding

    def describe(self, spec: KVNamespace, site: BindingSite) -> tuple[str, Mode]:
        return spec.id or spec.binding, "local"


KIND = _KVKind()
