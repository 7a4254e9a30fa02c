"""``ctx.storage.sql``: SQL on an object's own SQLite database (SQLite backed classes only).

``exec(query, *bindings)`` runs now and returns a :class:`SqlStorageCursor`. A query may hold
several statements (separated by ``;``): they run together, all or none; the bindings belong to
the last one, whose rows the cursor holds. What Cloudflare refuses is refused here, by an
authorizer rather than by reading the SQL: transaction statements (``transaction()`` is the
way), the runtime's ``_cf_`` tables, ``ATTACH``, and pragmas outside a safe list.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..bindings.results import JsObject
from ..errors import StorageError
from ..sql_text import split_sql
from .kv import atomic
from .limits import MAX_SQL_BINDINGS, MAX_SQL_QUERY_BYTES
from .names import CloudflareNames

#: Pragmas user SQL may run (reading the schema, checking the database, foreign key settings).
ALLOWED_PRAGMAS = frozenset(
    {
        "case_sensitive_like",
        "data_version",
        "defer_foreign_keys",
        "foreign_key_check",
        "foreign_key_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "legacy_alter_table",
        "optimize",
        "quick_check",
        "recursive_triggers",
        "reverse_unordered_selects",
        "table_info",
        "table_list",
        "table_xinfo",
    }
)
#: Pragmas user SQL may read but not set.
READ_ONLY_PRAGMAS = frozenset({"foreign_keys", "page_count", "page_size"})

_RESERVED_PREFIX = "_cf_"
_TRANSACTION_HINT = (
    "SQL transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) are not allowed in "
    "sql.exec(): use ctx.storage.transaction(fn) (or transactionSync(fn)), which commits when fn "
    "returns and rolls back when it raises"
)
# Which argument of an authorizer call names the table, per action.
_TABLE_ARGUMENT = {
    sqlite3.SQLITE_READ: 0,
    sqlite3.SQLITE_UPDATE: 0,
    sqlite3.SQLITE_INSERT: 0,
    sqlite3.SQLITE_DELETE: 0,
    sqlite3.SQLITE_CREATE_TABLE: 0,
    sqlite3.SQLITE_CREATE_TEMP_TABLE: 0,
    sqlite3.SQLITE_DROP_TABLE: 0,
    sqlite3.SQLITE_DROP_TEMP_TABLE: 0,
    sqlite3.SQLITE_ANALYZE: 0,
    sqlite3.SQLITE_ALTER_TABLE: 1,
    sqlite3.SQLITE_CREATE_INDEX: 1,
    sqlite3.SQLITE_CREATE_TEMP_INDEX: 1,
    sqlite3.SQLITE_DROP_INDEX: 1,
    sqlite3.SQLITE_DROP_TEMP_INDEX: 1,
    sqlite3.SQLITE_CREATE_TRIGGER: 1,
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER: 1,
    sqlite3.SQLITE_DROP_TRIGGER: 1,
    sqlite3.SQLITE_DROP_TEMP_TRIGGER: 1,
}


class SqlGuard:
    """The authorizer of an object's connection: checks user SQL, lets the runtime's own through."""

    __slots__ = ("active", "refused")

    def __init__(self) -> None:
        self.active = False  # True while user SQL is being prepared and run
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, *_: str | None) -> int:
        if not self.active:
            return sqlite3.SQLITE_OK
        reason = self._reason(action, arg1, arg2)
        if reason is None:
            return sqlite3.SQLITE_OK
        self.refused = reason
        return sqlite3.SQLITE_DENY

    def _reason(self, action: int, arg1: str | None, arg2: str | None) -> str | None:
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            return _TRANSACTION_HINT
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return "ATTACH and DETACH are not allowed: an object reaches only its own database"
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in ALLOWED_PRAGMAS or (name in READ_ONLY_PRAGMAS and arg2 is None):
                return None
            allowed = ", ".join(sorted(ALLOWED_PRAGMAS | READ_ONLY_PRAGMAS))
            return f"PRAGMA {arg1} is not allowed in a Durable Object (allowed: {allowed})"
        index = _TABLE_ARGUMENT.get(action)
        table = (arg1, arg2)[index] if index is not None else None
        if table is not None and table.lower().startswith(_RESERVED_PREFIX.lower()):
            return (
                f"access to {table} is not authorized: tables whose names start with "
                f"{_RESERVED_PREFIX} belong to the runtime (the key-value API keeps its pairs there)"
            )
        return None


Bind = None | int | float | str | bytes


def _binding(value: Any, index: int) -> Bind:
    if value is None or isinstance(value, int | float | str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(
        f"sql.exec(): binding {index} is a {type(value).__name__}; SQL values are None, int, float, "
        "str or bytes (store other values as JSON text)"
    )


class SqlStorage(CloudflareNames):
    """``ctx.storage.sql`` of one object."""

    def __init__(
        self,
        run: Callable[[Callable[[sqlite3.Connection], Any]], Any],
        guard: Callable[[], SqlGuard],
    ) -> None:
        self._run = run  # runs fn(conn) synchronously on the object's connection
        self._guard = guard

    def exec(self, query: str, *bindings: Any) -> SqlStorageCursor:
        """Run ``query`` (one or more statements) now; the cursor holds the last one's rows."""
        if not isinstance(query, str):
            raise TypeError(f"sql.exec() expects the query as a str, found {type(query).__name__}")
        size = len(query.encode("utf-8", "surrogatepass")) if len(query) * 4 > MAX_SQL_QUERY_BYTES else 0
        if size > MAX_SQL_QUERY_BYTES:
            raise StorageError(f"sql.exec(): queries are at most {MAX_SQL_QUERY_BYTES} bytes; found {size}")
        if len(bindings) > MAX_SQL_BINDINGS:
            raise StorageError(
                f"sql.exec(): at most {MAX_SQL_BINDINGS} bound parameters per query; found {len(bindings)}"
            )
        params = [_binding(value, index + 1) for index, value in enumerate(bindings)]
        statements = [s.sql for s in split_sql(query)] if ";" in query else [query]
        if not statements:
            raise StorageError("sql.exec(): the query holds no statement")
        guard = self._guard()
        return self._run(lambda conn: _execute(conn, guard, statements, params, query))  # type: ignore[no-any-return]

    @property
    def databaseSize(self) -> int:
        """The size of the object's database, in bytes."""

        def size(conn: sqlite3.Connection) -> int:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page_bytes = conn.execute("PRAGMA page_size").fetchone()[0]
            return int((pages - free) * page_bytes)

        return self._run(size)  # type: ignore[no-any-return]


def _execute(
    conn: sqlite3.Connection, guard: SqlGuard, statements: Sequence[str], params: list[Bind], query: str
) -> SqlStorageCursor:
    written_before = conn.total_changes
    guard.refused = None
    try:
        with atomic(conn) if len(statements) > 1 else contextlib.nullcontext():
            for statement in statements[:-1]:
                _run_user_statement(conn, guard, statement, [])
            columns, rows = _run_user_statement(conn, guard, statements[-1], params)
    except (sqlite3.Error, OverflowError) as error:
        raise _sql_error(error, guard.refused, query) from None
    written = conn.total_changes - written_before
    # SQLite does not tell how many rows a statement scanned: count what it returned or changed.
    return SqlStorageCursor(columns, rows, rows_read=max(len(rows), written), rows_written=written)


def _run_user_statement(
    conn: sqlite3.Connection, guard: SqlGuard, statement: str, params: list[Bind]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    guard.active = True
    try:
        # A trailing space: user SQL never has the text of a runtime statement, so it never
        # reuses one prepared (and authorized) for the runtime from the statement cache.
        cursor = conn.execute(statement + " ", params)
        rows = cursor.fetchall()
    finally:
        guard.active = False
    return [column[0] for column in cursor.description or ()], rows


def drop_user_schema(conn: sqlite3.Connection) -> None:
    """Drop every table, view and trigger user SQL made (``deleteAll()`` of a SQLite backed class)."""
    rows = conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"
    ).fetchall()
    # The tables go all at once: a foreign key between two of them must not stop the first drop.
    conn.execute("PRAGMA defer_foreign_keys = ON")
    for kind, name in rows:
        quoted = '"' + name.replace('"', '""') + '"'
        conn.execute(f"DROP {kind.upper()} IF EXISTS {quoted}")


def _sql_error(error: Exception, refused: str | None, query: str) -> Exception:
    shown = query if len(query) <= 200 else query[:197] + "..."
    if refused is not None:
        return StorageError(f"sql.exec(): {refused}: SQLITE_AUTH (in {shown!r})")
    if isinstance(error, OverflowError):
        return TypeError(f"sql.exec(): {error} (SQLite stores integers in 64 bits)")
    if isinstance(error, sqlite3.ProgrammingError) and "bindings" in str(error):
        return StorageError(f"sql.exec(): wrong number of bindings for the query: {error}")
    code = getattr(error, "sqlite_errorname", None)
    return StorageError(f"{error}: {code} (in {shown!r})" if code else f"{error} (in {shown!r})")


class SqlStorageCursor(CloudflareNames):
    """The rows of one ``sql.exec()``: iterate them as dicts (with attribute access), or take them
    with ``toArray()``, ``one()`` or ``raw()``; each row is handed out once, as a JS cursor does."""

    __slots__ = ("_position", "_rows", "columnNames", "rowsRead", "rowsWritten")

    def __init__(
        self, columns: list[str], rows: list[tuple[Any, ...]], *, rows_read: int, rows_written: int
    ) -> None:
        self.columnNames = columns
        self._rows = rows
        self._position = 0
        self.rowsRead = rows_read
        self.rowsWritten = rows_written

    def _take(self) -> tuple[Any, ...] | None:
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def _object(self, row: tuple[Any, ...]) -> JsObject:
        return JsObject(zip(self.columnNames, row, strict=True))

    def __iter__(self) -> Iterator[JsObject]:
        return self

    def __next__(self) -> JsObject:
        row = self._take()
        if row is None:
            raise StopIteration
        return self._object(row)

    def next(self) -> JsObject:
        """The JS iterator step: ``{done, value}``."""
        row = self._take()
        if row is None:
            return JsObject(done=True)
        return JsObject(done=False, value=self._object(row))

    def toArray(self) -> list[JsObject]:
        """The rows not yet taken, as dicts."""
        return list(self)

    def one(self) -> JsObject:
        """The only row; an error when there are none or several."""
        left = len(self._rows) - self._position
        if left != 1:
            found = "no results" if left == 0 else f"multiple results ({left})"
            raise StorageError(f"Expected exactly one result from SQL query, but got {found}.")
        return next(self)

    def raw(self) -> Iterator[list[Any]]:
        """The rows not yet taken, as lists of values (in ``columnNames`` order)."""
        while (row := self._take()) is not None:
            yield list(row)

    def __repr__(self) -> str:
        return f"<SqlStorageCursor columns={self.columnNames} rows={len(self._rows)}>"
