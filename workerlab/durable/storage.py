"""``ctx.storage``: an object's key-value pairs, SQL, transactions and alarm.

As on Cloudflare's Python Workers, a storage call does its work when it is called and returns
something to await for the result: ``await ctx.storage.get("k")``, while an un-awaited
``ctx.storage.put(...)`` still stores. Each runs synchronously on the object's connection (see
:mod:`.sqlfile` for the one exception, a file another process holds), and so does a call made
while another event's ``transaction()`` is under way, once it ends. Options are Cloudflare's
(``startAfter``, ``allowConcurrency``...), as keyword arguments or a trailing dict.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from ..bindings.results import merge_options, require_int
from ..clock import to_epoch_ms
from ..errors import StorageError
from . import kv
from .alarms import AlarmBook
from .gate import InputGate
from .limits import MAX_VALUE_BYTES_KV, MAX_VALUE_BYTES_SQLITE
from .names import CloudflareNames
from .sql import SqlStorage, drop_user_schema
from .sqlfile import Ready
from .store import ObjectStore
from .transactions import UNCHANGED, Transaction, current_transaction

T = TypeVar("T")

#: How a class stores its data: ``new_sqlite_classes`` or ``new_classes`` in ``[[migrations]]``.
StorageKind = Literal["sqlite", "kv"]

_READ = ("allowConcurrency", "noCache")
_WRITE = ("allowConcurrency", "allowUnconfirmed", "noCache")
_LIST = ("start", "startAfter", "end", "prefix", "reverse", "limit", *_READ)
_ALARM_READ = ("allowConcurrency",)
_ALARM_WRITE = ("allowConcurrency", "allowUnconfirmed")
_MISSING: Any = object()


def _options(where: str, options: Any, kwargs: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    if options is None and not kwargs:
        return {}
    return merge_options(f"storage {where}", options, kwargs, allowed)


def _list_bounds(where: str, options: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`kv.list_range` from list()'s options, checked."""
    opts = _options(where, options, kwargs, _LIST)
    for name in ("start", "startAfter", "end", "prefix"):
        value = opts.get(name)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"storage {where}: {name} must be a str, found {type(value).__name__} {value!r}")
    if "start" in opts and "startAfter" in opts:
        raise TypeError(f"storage {where} cannot be called with both start and startAfter values")
    reverse = opts.get("reverse", False)
    if not isinstance(reverse, bool):
        raise TypeError(f"storage {where}: reverse must be a bool, found {type(reverse).__name__}")
    limit = opts.get("limit")
    if limit is not None:
        limit = require_int(f"storage {where}", "limit", limit)
        if limit < 1:
            raise TypeError(f"storage {where}: List limit must be positive (found {limit})")
    return {
        "start": opts.get("start"),
        "start_after": opts.get("startAfter"),
        "end": opts.get("end"),
        "prefix": opts.get("prefix"),
        "reverse": reverse,
        "limit": limit,
    }


class DurableObjectStorage(CloudflareNames):
    """The storage of one object (``ctx.storage``)."""

    _not_emulated = frozenset({"getBookmarkForTime", "getCurrentBookmark", "onNextSessionRestoreBookmark"})

    def __init__(
        self,
        *,
        kind: StorageKind,
        object_id: str,
        object_name: str | None,
        open_store: Callable[[], ObjectStore],
        store_exists: Callable[[], bool],
        alarms: AlarmBook,
        gate: InputGate,
        has_alarm_handler: bool,
    ) -> None:
        self._kind = kind
        self._max_value_bytes = MAX_VALUE_BYTES_SQLITE if kind == "sqlite" else MAX_VALUE_BYTES_KV
        self._id = object_id
        self._name = object_name
        self._open_store = open_store
        self._store_exists = store_exists
        self._store: ObjectStore | None = None
        self._alarms = alarms
        self._gate = gate
        self._has_alarm_handler = has_alarm_handler
        self._sql: SqlStorage | None = None
        self._kv: SyncKvStorage | None = None

    # --- the object's database ------------------------------------------------------------

    def _opened(self) -> ObjectStore:
        """The object's database, opened again if its object was evicted meanwhile."""
        store = self._store
        if store is None or store.closed:
            store = self._store = self._open_store()
        return store

    def _run(self, fn: Callable[[Any], T]) -> Awaitable[T]:
        """``fn(conn)`` now, unless another event's transaction is under way: then once it ends."""
        store = self._opened()
        if store.transaction is not None:
            txn = current_transaction.get()
            if txn is None or txn.root is not store.transaction:
                return asyncio.ensure_future(self._after_transaction(store, fn))
        return store.file.run(fn)

    def _read(self, fn: Callable[[Any], T], empty: T) -> Awaitable[T]:
        """Like :meth:`_run` for a read, which finds nothing in a database never written (and so
        does not create one: an object that only reads leaves no file behind)."""
        if (self._store is None or self._store.closed) and not self._store_exists():
            return Ready(empty)
        return self._run(fn)

    async def _after_transaction(self, store: ObjectStore, fn: Callable[[Any], T]) -> T:
        while store.transaction is not None:
            await store.no_transaction.wait()
        return await store.file.run(fn)

    def _transaction_here(self) -> Transaction | None:
        """The transaction under way in this context on this object, if any."""
        txn = current_transaction.get()
        store = self._store
        if txn is None or store is None or txn.root is not store.transaction or txn.rolled_back:
            return None
        return txn

    @property
    def in_transaction(self) -> bool:
        return self._store is not None and self._store.transaction is not None

    def detach(self) -> None:
        """Forget the open database (its object is evicted); a later call opens it again."""
        self._store = None

    # --- key-value ------------------------------------------------------------------------

    def get(self, keys: Any, options: Any = None, /, **kwargs: Any) -> Awaitable[Any]:
        """The value of a key (None when missing); for a list of keys, a dict of those found, in
        key order."""
        _options("get()", options, kwargs, _READ)
        if isinstance(keys, list | tuple):
            names = kv.check_keys(keys, "get()")
            return self._read(lambda conn: kv.get_many(conn, names), {})
        key = kv.check_key(keys, "get()")
        return self._read(lambda conn: kv.get_one(conn, key), None)

    def put(self, key: Any, value: Any = _MISSING, options: Any = None, /, **kwargs: Any) -> Awaitable[None]:
        """Store ``value`` under ``key``, or every pair of a dict (``put({key: value, ...})``)."""
        if isinstance(key, Mapping):
            if value is not _MISSING:
                options = value  # put(entries, options)
            _options("put()", options, kwargs, _WRITE)
            names = kv.check_keys(list(key), "put()")
            entries = [
                (name, kv.encode_value(item, name, "put()", self._max_value_bytes))
                for name, item in zip(names, key.values(), strict=True)
            ]
            return self._run(lambda conn: kv.put_many(conn, entries))
        if value is _MISSING:
            raise TypeError("storage put() called with no value (pass put(key, value) or put({key: value}))")
        _options("put()", options, kwargs, _WRITE)
        name = kv.check_key(key, "put()")
        data = kv.encode_value(value, name, "put()", self._max_value_bytes)
        return self._run(lambda conn: kv.put_one(conn, name, data))

    def delete(self, keys: Any, options: Any = None, /, **kwargs: Any) -> Awaitable[bool | int]:
        """Delete a key (whether it existed), or a list of keys (how many existed)."""
        _options("delete()", options, kwargs, _WRITE)
        if isinstance(keys, list | tuple):
            names = kv.check_keys(keys, "delete()")
            return self._run(lambda conn: kv.delete_many(conn, names))
        key = kv.check_key(keys, "delete()")
        return self._run(lambda conn: kv.delete_one(conn, key))

    def deleteAll(self, options: Any = None, /, **kwargs: Any) -> Awaitable[None]:
        """Delete every key-value pair (and, for a SQLite backed class, every SQL table). The
        alarm stays."""
        _options("deleteAll()", options, kwargs, _WRITE)
        if self._transaction_here() is not None:
            raise StorageError("storage deleteAll() cannot be called within a transaction")
        return self._run(self._delete_all)

    def _delete_all(self, conn: Any) -> None:
        with kv.atomic(conn):
            kv.delete_all(conn)
            if self._kind == "sqlite":
                drop_user_schema(conn)

    def list(self, options: Any = None, /, **kwargs: Any) -> Awaitable[dict[str, Any]]:
        """The pairs in key order (``reverse``: descending), from ``start`` (or after
        ``startAfter``) to before ``end``, with ``prefix``, at most ``limit`` of them."""
        bounds = _list_bounds("list()", options, kwargs)
        return self._read(lambda conn: kv.list_range(conn, **bounds), {})

    def sync(self) -> Awaitable[None]:
        """Resolves once every write made so far is stored (each is, when its call returns)."""
        return self._read(lambda conn: None, None)

    # --- transactions ---------------------------------------------------------------------

    async def transaction(self, closure: Callable[[Any], Any], options: Any = None, /, **kwargs: Any) -> Any:
        """Run ``closure(txn)``: its storage calls (through ``txn`` or ``ctx.storage``, SQL
        included) commit together when it returns, and none does when it raises or calls
        ``txn.rollback()``. Returns what it returned."""
        if not callable(closure):
            raise TypeError(f"storage transaction() expects a function, found {type(closure).__name__}")
        _options("transaction()", options, kwargs, ())
        store = self._opened()
        parent = current_transaction.get()
        if parent is not None and store.transaction is not None and parent.root is store.transaction:
            parent.check("transaction")
            nested = Transaction(store, parent)
            nested.begin(store.file.conn)  # a savepoint: the outermost holds the write lock
            return await self._transact(nested, closure)
        while store.transaction is not None:
            await store.no_transaction.wait()
        txn = Transaction(store, None)
        store.transaction = txn
        store.no_transaction.clear()
        self._gate.close()
        try:
            await store.file.run(txn.begin)
            result = await self._transact(txn, closure)
        finally:
            store.transaction = None
            store.no_transaction.set()
            self._gate.open()
        if txn.alarm is not UNCHANGED:
            await self._apply_alarm(txn.alarm)
        return result

    async def _transact(self, txn: Transaction, closure: Callable[[Any], Any]) -> Any:
        token = current_transaction.set(txn)
        try:
            result = closure(TransactionStorage(self, txn))
            if inspect.isawaitable(result):
                result = await result
        except BaseException:
            txn.end(commit=False)
            raise
        finally:
            current_transaction.reset(token)
        txn.end(commit=True)
        return result

    def transactionSync(self, fn: Callable[[], T]) -> T:
        """Run the plain function ``fn()`` in a transaction (SQLite backed classes); what it
        raises rolls it back."""
        self._require_sqlite("transactionSync()")
        if not callable(fn):
            raise TypeError(f"storage transactionSync() expects a function, found {type(fn).__name__}")

        def run(conn: Any) -> T:
            with kv.atomic(conn):
                result = fn()
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError(
                        "transactionSync() takes a plain function; for async work use transaction()"
                    )
                return result

        return self._opened().file.call_blocking(run)

    # --- alarm ----------------------------------------------------------------------------

    def getAlarm(self, options: Any = None, /, **kwargs: Any) -> Awaitable[int | None]:
        """The alarm's time in epoch ms, or None when none is set (and while it runs)."""
        _options("getAlarm()", options, kwargs, _ALARM_READ)
        txn = self._transaction_here()
        pending = UNCHANGED if txn is None else txn.pending_alarm()
        return Ready(self._alarms.get(self._id) if pending is UNCHANGED else pending)

    def setAlarm(
        self, scheduled_time: int | float | datetime, options: Any = None, /, **kwargs: Any
    ) -> Awaitable[None]:
        """Set the object's one alarm (replacing any other) to epoch ms or a datetime."""
        _options("setAlarm()", options, kwargs, _ALARM_WRITE)
        if not self._has_alarm_handler:
            raise TypeError(
                f"setAlarm(): class {self._alarms.class_name} has no alarm() method; define "
                "async def alarm(self, alarm_info) for the runtime to call when the alarm is due"
            )
        when_ms = to_epoch_ms(scheduled_time, "setAlarm()'s time")
        if when_ms <= 0:
            raise TypeError(f"setAlarm() cannot be called with an alarm time <= 0 (found {when_ms})")
        return self._change_alarm(when_ms)

    def deleteAlarm(self, options: Any = None, /, **kwargs: Any) -> Awaitable[None]:
        """Remove the object's alarm, if one is set (a run under way is not stopped)."""
        _options("deleteAlarm()", options, kwargs, _ALARM_WRITE)
        return self._change_alarm(None)

    def _change_alarm(self, when_ms: int | None) -> Awaitable[None]:
        txn = self._transaction_here()
        if txn is not None:
            txn.alarm = when_ms  # reaches the index when the outermost transaction commits
            return Ready(None)
        return self._apply_alarm(when_ms)

    def _apply_alarm(self, when_ms: int | None) -> Awaitable[None]:
        if when_ms is None:
            return self._alarms.delete(self._id, self._gate)
        return self._alarms.set(self._id, self._name, when_ms, self._gate)

    # --- SQL (SQLite backed classes) ------------------------------------------------------

    def _require_sqlite(self, what: str) -> None:
        if self._kind != "sqlite":
            raise StorageError(
                f"ctx.storage.{what} exists only for SQLite backed Durable Object classes: class "
                f"{self._alarms.class_name} is key-value backed (new_classes); declare it in "
                "new_sqlite_classes of a [[migrations]] entry to use SQL"
            )

    @property
    def sql(self) -> SqlStorage:
        """The object's SQL database (SQLite backed classes)."""
        self._require_sqlite("sql")
        if self._sql is None:
            self._sql = SqlStorage(
                lambda fn: self._opened().file.call_blocking(fn), lambda: self._opened().guard
            )
        return self._sql

    @property
    def kv(self) -> SyncKvStorage:
        """The synchronous key-value API (SQLite backed classes)."""
        self._require_sqlite("kv")
        if self._kv is None:
            self._kv = SyncKvStorage(self)
        return self._kv

    def __repr__(self) -> str:
        return f"<DurableObjectStorage of {self._alarms.class_name} {self._id[:8]}>"


class TransactionStorage(CloudflareNames):
    """The ``txn`` a ``transaction()`` closure receives: storage calls inside the transaction,
    and ``rollback()``."""

    __slots__ = ("_storage", "_txn")

    def __init__(self, storage: DurableObjectStorage, txn: Transaction) -> None:
        self._storage = storage
        self._txn = txn

    def rollback(self) -> None:
        """Undo every storage call of this transaction; the closure goes on, and returns its value."""
        self._txn.rollback()

    def get(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        self._txn.check("get")
        return self._storage.get(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
        self._txn.check("put")
        return self._storage.put(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Awaitable[bool | int]:
        self._txn.check("delete")
        return self._storage.delete(*args, **kwargs)

    def list(self, *args: Any, **kwargs: Any) -> Awaitable[dict[str, Any]]:
        self._txn.check("list")
        return self._storage.list(*args, **kwargs)

    def getAlarm(self, *args: Any, **kwargs: Any) -> Awaitable[int | None]:
        self._txn.check("getAlarm")
        return self._storage.getAlarm(*args, **kwargs)

    def setAlarm(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
        self._txn.check("setAlarm")
        return self._storage.setAlarm(*args, **kwargs)

    def deleteAlarm(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
        self._txn.check("deleteAlarm")
        return self._storage.deleteAlarm(*args, **kwargs)


class SyncKvStorage(CloudflareNames):
    """``ctx.storage.kv``: the key-value pairs, synchronously (SQLite backed classes)."""

    __slots__ = ("_storage",)

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage

    def _call(self, fn: Callable[[Any], T]) -> T:
        return self._storage._opened().file.call_blocking(fn)

    def get(self, key: Any) -> Any:
        name = kv.check_key(key, "kv.get()")
        return self._call(lambda conn: kv.get_one(conn, name))

    def put(self, key: Any, value: Any) -> None:
        name = kv.check_key(key, "kv.put()")
        data = kv.encode_value(value, name, "kv.put()", self._storage._max_value_bytes)
        self._call(lambda conn: kv.put_one(conn, name, data))

    def delete(self, key: Any) -> bool:
        name = kv.check_key(key, "kv.delete()")
        return self._call(lambda conn: kv.delete_one(conn, name))

    def list(self, options: Any = None, /, **kwargs: Any) -> builtins.list[tuple[str, Any]]:
        """The pairs as (key, value), in key order; the options of ``storage.list()``."""
        bounds = _list_bounds("kv.list()", options, kwargs)
        return builtins.list(self._call(lambda conn: kv.list_range(conn, **bounds)).items())
