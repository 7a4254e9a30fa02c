"""D1: a SQLite database per binding, with D1's statements, results and errors."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..config.source import ConfigSource, keys
from ..errors import StorageError
from ..file_names import safe_file_name
from ..sql_text import Statement, split_sql
from ..sqlite_connections import is_locked
from .database import Database
from .results import JsObject, merge_options

if TYPE_CHECKING:
    from .registry import BindingSite, Mode

#: Default D1 migrations folder, relative to the config file's folder (wrangler's default).
DEFAULT_MIGRATIONS_DIR = "migrations"


@dataclass(frozen=True)
class D1Database:
    """A ``[[d1_databases]]`` entry; ``migrations_dir`` is absolute once loaded."""

    binding: str
    database_name: str
    database_id: str | None = None
    migrations_dir: Path = Path(DEFAULT_MIGRATIONS_DIR)  # absolute once loaded


#: SQLite's INTEGER range: a Python int outside it cannot be bound.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: What results say served them (Cloudflare names the backend version here).
SERVED_BY = "workerlab"

# sqlite3 authorizer action codes for statements D1 refuses (sqlite3.h).
_SQLITE_TRANSACTION = 22
_SQLITE_ATTACH = 24
_SQLITE_DETACH = 25
_SQLITE_SAVEPOINT = 32
_IN_BATCH = "use db.batch([...]) to run statements in one transaction"
_ONE_FILE = "a D1 database cannot reach other database files: bind each database it needs instead"
_VACUUM = "D1 manages the space of its databases itself (export a copy with wrangler d1 export)"
#: What each refused kind of statement is called, and what to do instead.
_REFUSED = {
    _SQLITE_TRANSACTION: ("BEGIN / COMMIT / ROLLBACK", _IN_BATCH),
    _SQLITE_SAVEPOINT: ("SAVEPOINT / RELEASE", _IN_BATCH),
    _SQLITE_ATTACH: ("ATTACH", _ONE_FILE),
    _SQLITE_DETACH: ("DETACH", _ONE_FILE),
}

logger = logging.getLogger("workerlab")
_REQUIRED: Any = ConfigSource.REQUIRED

BindValue = None | int | float | str | bytes


class D1Error(StorageError):
    """A D1 call failed; the message starts with D1's prefix and carries SQLite's message."""


class D1TypeError(D1Error, TypeError):
    """A value D1 cannot bind (``D1_TYPE_ERROR``)."""


def d1_path(persist_dir: Path, db: D1Database) -> Path:
    """Where a database lives: ``<persist>/d1/<database_name>.sqlite3``."""
    return persist_dir / "d1" / f"{safe_file_name(db.database_name)}.sqlite3"


def open_d1(
    db: D1Database, persist_dir: Path | None, clock: Clock, *, durable: bool = False
) -> D1DatabaseBinding:
    """The ``env`` object of a ``[[d1_databases]]`` binding; ``persist_dir`` None keeps it in memory."""
    path = None if persist_dir is None else d1_path(persist_dir, db)
    return D1DatabaseBinding(db.binding, Database(path, durable=durable, on_loop=True))


@dataclass(frozen=True)
class StatementResult:
    """What one statement produced: column names, rows, and D1's ``meta``."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    meta: JsObject

    def objects(self) -> list[JsObject]:
        return [JsObject(zip(self.columns, row, strict=True)) for row in self.rows]

    def d1_result(self) -> JsObject:
        return JsObject(success=True, meta=self.meta, results=self.objects())


class SQLRunner:
    """Runs statements on one :class:`Database` the way D1 does, with D1's errors."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._user_sql = False
        self._refused: tuple[str, str] | None = None
        with db.lock:
            self._page_size = db.conn.execute("PRAGMA page_size").fetchone()[0]
            db.on_connect(lambda conn: conn.set_authorizer(self._authorize))

    def _authorize(self, action: int, *_: Any) -> int:
        if self._user_sql and action in _REFUSED:
            self._refused = _REFUSED[action]
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def run(self, sql: str, params: Sequence[BindValue] = ()) -> StatementResult:
        """One statement; the caller holds ``db.lock`` (and a transaction, for a batch)."""
        conn = self.db.conn
        changes_before = conn.total_changes
        schema_before = conn.execute("PRAGMA schema_version").fetchone()[0]
        # Elapsed time is a measurement, not a point in time: the fake clock would say 0.
        started = time.perf_counter()
        self._user_sql, self._refused = True, None
        try:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
        except (sqlite3.Error, OverflowError) as e:
            if is_locked(e):
                raise  # another process holds the database: the caller waits for it off the loop
            raise self.error(e, sql) from None
        finally:
            self._user_sql = False
        duration_ms = (time.perf_counter() - started) * 1000
        columns = [d[0] for d in cursor.description] if cursor.description else []
        changes = conn.total_changes - changes_before
        schema_changed = conn.execute("PRAGMA schema_version").fetchone()[0] != schema_before
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        meta = JsObject(
            served_by=SERVED_BY,
            served_by_primary=True,
            timings=JsObject(sql_duration_ms=duration_ms),
            duration=duration_ms,
            changes=changes,
            last_row_id=cursor.lastrowid or 0,
            changed_db=changes > 0 or schema_changed,
            size_after=page_count * self._page_size,
            # SQLite does not report rows scanned through Python: rows returned is the closest count.
            rows_read=len(rows),
            rows_written=changes,
        )
        return StatementResult(columns, rows, meta)

    def error(self, e: BaseException, sql: str = "") -> D1Error:
        """D1's error for a SQLite failure: ``D1_ERROR: <SQLite's message>: <SQLite's code>``."""
        if self._refused is not None:
            statements, instead = self._refused
            if sql.lstrip().upper().startswith("VACUUM"):  # SQLite attaches a database to vacuum
                statements, instead = "VACUUM", _VACUUM
            return D1Error(
                f"D1_ERROR: {statements} statements are not allowed in D1 ({e}); {instead}: SQLITE_AUTH"
            )
        if isinstance(e, OverflowError):
            return D1TypeError(f"D1_TYPE_ERROR: {e} (D1 stores integers in 64 bits)")
        if isinstance(e, sqlite3.ProgrammingError) and "bindings" in str(e):
            return D1Error(f"D1_ERROR: Wrong number of parameter bindings for SQL query. ({e})")
        code = getattr(e, "sqlite_errorname", None)
        return D1Error(f"D1_ERROR: {e}: {code}" if code else f"D1_ERROR: {e}")

    def execute_script(self, sql: str) -> list[StatementResult]:
        """Every statement of a script, each on its own (``exec``); D1_EXEC_ERROR names the line."""
        with self.db.lock:
            return [self.run_script_statement(statement) for statement in split_sql(sql)]

    def run_script_statement(
        self, statement: Statement, _conn: sqlite3.Connection | None = None
    ) -> StatementResult:
        """One statement of a script; its error is D1_EXEC_ERROR naming the line."""
        try:
            return self.run(statement.sql)
        except D1Error as e:
            detail = str(e).removeprefix("D1_ERROR: ")
            raise D1Error(
                f"D1_EXEC_ERROR: Error in line {statement.line}: {statement.sql}: {detail}"
            ) from None


def _bind_value(value: Any, index: int) -> BindValue:
    if value is None or isinstance(value, str | float | bytes):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise D1TypeError(f"D1_TYPE_ERROR: integer {value} at parameter {index} does not fit in 64 bits")
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise D1TypeError(
        f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value {value!r} at parameter "
        f"{index}; D1 binds None, bool, int, float, str and bytes"
    )


class D1PreparedStatement:
    """A statement from ``db.prepare(sql)``; ``bind(*values)`` returns a new, bound one."""

    __slots__ = ("_binding", "_params", "sql")

    def __init__(self, binding: D1DatabaseBinding, sql: str, params: tuple[BindValue, ...] = ()) -> None:
        self._binding = binding
        self.sql = sql
        self._params = params

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self.sql!r} params={list(self._params)!r}>"

    def bind(self, *values: Any) -> D1PreparedStatement:
        """A copy of this statement with ``values`` bound to its ``?`` / ``?NNN`` parameters."""
        return D1PreparedStatement(
            self._binding, self.sql, tuple(_bind_value(v, i) for i, v in enumerate(values, start=1))
        )

    async def _run(self) -> StatementResult:
        runner = self._binding._runner
        return await runner.db.run(lambda _conn: runner.run(self.sql, self._params))

    async def all(self) -> JsObject:
        """``{success, meta, results}`` with every row as a dict."""
        return (await self._run()).d1_result()

    async def run(self) -> JsObject:
        """The same result as :meth:`all` (D1 returns rows from ``run()`` too)."""
        return (await self._run()).d1_result()

    async def first(self, column: str | None = None) -> Any:
        """The first row (None without rows), or that row's ``column``.

        A ``column`` the row lacks is ``D1_COLUMN_NOTFOUND``, as on D1.
        """
        result = await self._run()
        if not result.rows:
            return None
        row = result.objects()[0]
        if column is None:
            return row
        if column not in row:
            raise D1Error(
                f"D1_COLUMN_NOTFOUND: Column not found ({column}); "
                f"the columns are: {', '.join(result.columns)}"
            )
        return row[column]

    async def raw(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> list[list[Any]]:
        """Rows as lists; with ``columnNames=True`` the first list holds the column names."""
        opts = merge_options("D1 raw()", options, kwargs, ("columnNames",))
        result = await self._run()
        rows = [list(row) for row in result.rows]
        if opts.get("columnNames"):
            rows.insert(0, list(result.columns))
        return rows


class D1DatabaseBinding:
    """A D1 database as a worker sees it: ``prepare``, ``batch``, ``exec``, ``withSession``."""

    def __init__(self, binding: str, db: Database) -> None:
        self.binding = binding
        self._runner = SQLRunner(db)

    def __repr__(self) -> str:
        return f"<D1Database {self.binding}>"

    def close(self) -> None:
        self._runner.db.close()

    @property
    def database(self) -> Database:
        """The open local database behind the binding (for migrations)."""
        return self._runner.db

    def prepare(self, sql: str) -> D1PreparedStatement:
        """A statement to bind and run."""
        if not isinstance(sql, str):
            raise TypeError(f"D1 prepare(): expected the SQL as a str, found {type(sql).__name__}")
        return D1PreparedStatement(self, sql)

    async def batch(self, statements: Iterable[D1PreparedStatement]) -> list[JsObject]:
        """Run statements in one transaction: all of them, or (on any error) none of them."""
        statements = list(statements)
        for i, statement in enumerate(statements):
            if not isinstance(statement, D1PreparedStatement) or statement._binding is not self:
                raise TypeError(
                    f"D1 batch(): item {i} must be a statement from {self.binding}.prepare(), "
                    f"found {type(statement).__name__}"
                )
        if not statements:
            return []
        runner = self._runner

        def run_all(_conn: sqlite3.Connection) -> list[JsObject]:
            with runner.db.transaction():
                return [runner.run(s.sql, s._params).d1_result() for s in statements]

        return await runner.db.run(run_all)

    async def exec(self, sql: str) -> JsObject:
        """Run a script of statements without parameters: ``{count, duration}``."""
        if not isinstance(sql, str):
            raise TypeError(f"D1 exec(): expected the SQL as a str, found {type(sql).__name__}")
        runner = self._runner
        results: list[StatementResult] = []
        for statement in split_sql(sql):
            # One at a time: each statement commits on its own, so none runs twice after a wait.
            results.append(await runner.db.run(partial(runner.run_script_statement, statement)))
        return JsObject(count=len(results), duration=sum(r.meta["duration"] for r in results))

    def withSession(self, constraintOrBookmark: str | None = None) -> D1DatabaseSession:
        """A session (D1 read replication); locally there is only the primary."""
        return D1DatabaseSession(self)


class D1DatabaseSession:
    """``db.withSession()``: the same database, plus ``getBookmark()``."""

    def __init__(self, db: D1DatabaseBinding) -> None:
        self._db = db
        self._used = False

    def prepare(self, sql: str) -> D1PreparedStatement:
        self._used = True
        return self._db.prepare(sql)

    async def batch(self, statements: Iterable[D1PreparedStatement]) -> list[JsObject]:
        self._used = True
        return await self._db.batch(statements)

    def getBookmark(self) -> str | None:
        """None before the session ran anything, as on D1; then an opaque bookmark."""
        if not self._used:
            return None
        with self._db._runner.db.lock:
            version = self._db._runner.db.conn.execute("PRAGMA data_version").fetchone()[0]
        return f"{version:016x}"


class _D1Kind:
    section = "d1_databases"
    label = "D1 Database"
    spec = D1Database
    _keys = keys(
        """binding database_name database_id preview_database_id migrations_table migrations_dir
        database_internal_env remote experimental_remote"""
    )

    def parse(self, src: ConfigSource, value: Any, key: str) -> list[tuple[D1Database, str]]:
        databases = []
        for item, at in src.entries(value, key, self._keys):
            database_id = src.string(item, "database_id", at, default=None)
            # wrangler accepts either name or id; without a name, the id names the local database.
            name = src.string(item, "database_name", at, default=database_id or _REQUIRED)
            folder = src.string(item, "migrations_dir", at, default=DEFAULT_MIGRATIONS_DIR)
            binding = src.string(item, "binding", at)
            databases.append((D1Database(binding, name, database_id, (src.root / folder).resolve()), at))
        return databases

    async def open(self, spec: D1Database, site: BindingSite) -> D1DatabaseBinding:
        """The database, with its pending migrations applied (as `workerlab dev` and the harness want)."""
        from .d1_commands import apply_pending, migration_files

        session = site.session

        def make() -> D1DatabaseBinding:
            return open_d1(spec, session.persist_dir, session.clock, durable=session.durable)

        binding: D1DatabaseBinding = session.shared(("d1", spec.database_name), make)
        if spec.migrations_dir.is_dir():
            files = migration_files(site.config, spec)
            database = binding.database
            for name in await database.run(lambda _conn: apply_pending(database, files, session.clock)):
                logger.info("Applied D1 migration %s to %s (local)", name, spec.binding)
        return binding

    def describe(self, spec: D1Database, site: BindingSite) -> tuple[str, Mode]:
        return spec.database_name, "local"


KIND = _D1Kind()
