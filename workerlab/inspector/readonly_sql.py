"""Reading a SQLite file without any way to change it: the D1 page's tables, rows and SQL console.

Two locks, each enough on its own: the file is opened read-only (``mode=ro``), and an authorizer
lets a statement read, select, call functions and recurse, nothing else (a PRAGMA only when it
asks or describes a table, never when it sets). A query runs in a thread on its own connection,
so a slow one never holds the event loop or the worker's connection; it stops after ``MAX_QUERY_S``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import UserError

T = TypeVar("T")

#: Longest a console query may run before it is interrupted.
MAX_QUERY_S = 5.0
#: Rows a query returns at most; more are cut and the result says so.
MAX_RESULT_ROWS = 1_000
#: SQLite VM instructions between two looks at the query's deadline.
_PROGRESS_STEPS = 10_000

#: Authorizer actions a read needs.
_READING = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)

#: PRAGMAs whose argument names what to describe (a table, an index), not a value to set.
_DESCRIBING = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)

_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"})
_SCHEMA_CHANGES = {
    sqlite3.SQLITE_INSERT: "CREATE",
    sqlite3.SQLITE_DELETE: "DROP",
    sqlite3.SQLITE_UPDATE: "a schema change",
}


class ReadOnlyError(UserError):
    """A statement the read-only console refuses, or one that failed."""

    code = "read-only"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    #: More rows matched than ``MAX_RESULT_ROWS``.
    truncated: bool
    duration_ms: float


class _Guard:
    """The authorizer: reads pass, everything else is refused and remembered for the message."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, *_: str | None) -> int:
        if action in _READING or (action == sqlite3.SQLITE_PRAGMA and (arg2 is None or arg1 in _DESCRIBING)):
            return sqlite3.SQLITE_OK
        if self.refused is None:
            # CREATE and DROP are seen first as writes to sqlite_schema, and stop there.
            schema_change = _SCHEMA_CHANGES.get(action) if arg1 in _SCHEMA_TABLES else None
            self.refused = schema_change or _ACTION_NAMES.get(action, f"action {action}")
        return sqlite3.SQLITE_DENY


_ACTION_NAMES = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_").replace("_", " ")
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE", "SQLITE_DROP", "SQLITE_ALTER"))
    or name
    in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_PRAGMA",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_REINDEX",
        "SQLITE_ANALYZE",
    )
}


def _connect(path: Path) -> tuple[sqlite3.Connection, _Guard]:
    if not path.is_file():
        raise ReadOnlyError(f"{path}: no database file yet (nothing has been written to it)")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    connection.execute("PRAGMA query_only = 1")
    guard = _Guard()
    connection.set_authorizer(guard)
    return connection, guard


def _query(connection: sqlite3.Connection, guard: _Guard, sql: str, params: tuple[Any, ...]) -> QueryResult:
    started = time.monotonic()
    deadline = started + MAX_QUERY_S
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), _PROGRESS_STEPS)
    try:
        cursor = connection.execute(sql, params)
        rows = cursor.fetchmany(MAX_RESULT_ROWS + 1)
    except sqlite3.Error as error:
        if guard.refused is not None:
            raise ReadOnlyError(
                f"The SQL console only reads: {guard.refused} is refused (write with your worker, or "
                f"with `workerlab d1 execute`)"
            ) from None
        if isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error):
            raise ReadOnlyError(f"The query ran longer than {MAX_QUERY_S:g} s and was stopped") from None
        raise ReadOnlyError(f"SQLite refused the query: {error}") from None
    columns = [d[0] for d in cursor.description] if cursor.description else []
    duration_ms = (time.monotonic() - started) * 1000
    return QueryResult(columns, rows[:MAX_RESULT_ROWS], len(rows) > MAX_RESULT_ROWS, duration_ms)


async def read(path: Path, work: Callable[[Callable[..., QueryResult]], T]) -> T:
    """``work(query)`` in a thread, where ``query(sql, *params)`` runs one read on ``path``."""

    def run() -> T:
        connection, guard = _connect(path)
        try:
            return work(lambda sql, *params: _query(connection, guard, sql, params))
        finally:
            connection.close()

    return await asyncio.to_thread(run)


async def console(path: Path, sql: str) -> QueryResult:
    """One statement typed into the console, read-only."""
    if not sql.strip():
        raise ReadOnlyError("Type a statement to run, e.g. SELECT * FROM sqlite_schema")
    return await read(path, lambda query: query(sql))


def quoted(name: str) -> str:
    """``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def describe_tables(
    query: Callable[..., QueryResult], *, hidden_prefix: str | None = None
) -> list[dict[str, Any]]:
    """Every table and view (but SQLite's own, and those starting with ``hidden_prefix``): its name,
    type, row count and columns."""
    schema = query(
        "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    tables = []
    for name, kind in schema.rows:
        if hidden_prefix and name.startswith(hidden_prefix):
            continue
        columns = query(f"PRAGMA table_info({quoted(name)})")
        count = query(f"SELECT count(*) FROM {quoted(name)}")
        tables.append(
            {
                "name": name,
                "type": kind,
                "rows": count.rows[0][0],
                "columns": [{"name": c[1], "type": c[2], "primary_key": bool(c[5])} for c in columns.rows],
            }
        )
    return tables
