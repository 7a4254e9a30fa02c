"""What ``workerlab d1 migrations apply`` and ``workerlab d1 execute`` do, on the files ``dev`` uses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..config import WorkerConfig
from ..errors import ConfigError
from ..sql_text import split_sql
from .d1 import D1Database, D1Error, SQLRunner, StatementResult, d1_path
from .database import Database

#: The table that records applied migrations (wrangler's name and columns).
MIGRATIONS_TABLE = "d1_migrations"

_MIGRATIONS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)
"""


def find_d1(config: WorkerConfig, binding: str) -> D1Database:
    """The D1 database bound as ``binding`` (its ``database_name`` works too, as in wrangler)."""
    databases = config.bindings_of(D1Database)
    for db in databases:
        if binding in (db.binding, db.database_name):
            return db
    if databases:
        known = ", ".join(f"{db.binding} (database_name {db.database_name!r})" for db in databases)
        found = f"the D1 bindings are: {known}"
    else:
        found = "it declares no [[d1_databases]]"
    raise ConfigError(f"{config.path}: no D1 database bound as {binding!r}; {found}")


def migrations_dir(config: WorkerConfig, db: D1Database) -> Path:
    """The folder of ``db``'s migration files (relative paths are relative to the config file)."""
    return db.migrations_dir if db.migrations_dir.is_absolute() else config.root / db.migrations_dir


def migration_files(config: WorkerConfig, db: D1Database) -> list[Path]:
    """``<migrations_dir>/*.sql`` in name order."""
    folder = migrations_dir(config, db)
    if not folder.is_dir():
        raise ConfigError(
            f"{config.path}: the migrations folder of D1 binding {db.binding} does not exist: expected a "
            f"folder of .sql files at {folder} (set migrations_dir in [[d1_databases]] to change it)"
        )
    return sorted((p for p in folder.glob("*.sql") if p.is_file()), key=lambda p: p.name)


def _applied(database: Database) -> set[str]:
    return {name for (name,) in database.conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}


def apply_migrations(
    config: WorkerConfig,
    binding: str,
    persist_dir: Path,
    *,
    clock: Clock | None = None,
    durable: bool = False,
) -> list[str]:
    """Apply the migrations not yet applied to the local database, in name order; return their names."""
    db = find_d1(config, binding)
    files = migration_files(config, db)
    database = Database(d1_path(persist_dir, db), durable=durable)
    try:
        return apply_pending(database, files, clock or SystemClock())
    finally:
        database.close()


def apply_pending(database: Database, files: list[Path], clock: Clock) -> list[str]:
    """Apply those of ``files`` not yet recorded in ``d1_migrations`` to an open database.

    Each file runs in its own transaction together with its ``d1_migrations`` record, so a
    failing file leaves no trace and the ones before it stay applied. Processes running at
    the same time apply each file once.
    """
    runner = SQLRunner(database)
    applied_now: list[str] = []
    with database.lock:
        database.conn.execute(_MIGRATIONS_SCHEMA)
        done = _applied(database)
    for path in files:
        if path.name in done:
            continue
        statements = split_sql(path.read_text(encoding="utf-8"))
        with database.transaction() as conn:
            if path.name in _applied(database):  # another process applied it meanwhile
                continue
            for statement in statements:
                try:
                    runner.run(statement.sql)
                except D1Error as e:
                    before = ", ".join(applied_now) or "none"
                    raise D1Error(
                        f"migration {path} failed at line {statement.line}: {e}; nothing of this file "
                        f"was applied (applied before it in this run: {before})"
                    ) from None
            applied_at = datetime.fromtimestamp(clock.now_s(), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
            conn.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                (path.name, applied_at),
            )
        applied_now.append(path.name)
    return applied_now


def execute_sql(
    config: WorkerConfig, binding: str, persist_dir: Path, sql: str, *, durable: bool = False
) -> list[dict[str, Any]]:
    """Run ``sql`` (one or more statements) on the local database; the rows they produced, in order."""
    tables = execute_sql_tables(config, binding, persist_dir, sql, durable=durable)
    return [row for table in tables for row in table]


def execute_sql_tables(
    config: WorkerConfig, binding: str, persist_dir: Path, sql: str, *, durable: bool = False
) -> list[list[dict[str, Any]]]:
    """Run ``sql`` on the local database; the rows of each statement that returns columns.

    All or nothing: when a statement fails, the ones before it are rolled back.
    """
    results = execute_statements(config, binding, persist_dir, sql, durable=durable)
    return [[dict(zip(r.columns, row, strict=True)) for row in r.rows] for r in results if r.columns]


def execute_statements(
    config: WorkerConfig, binding: str, persist_dir: Path, sql: str, *, durable: bool = False
) -> list[StatementResult]:
    """Run ``sql`` on the local database, all or nothing; each statement's result."""
    db = find_d1(config, binding)
    database = Database(d1_path(persist_dir, db), durable=durable)
    try:
        with database.transaction():
            return SQLRunner(database).execute_script(sql)
    finally:
        database.close()
