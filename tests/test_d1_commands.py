from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from workerlab.bindings import open_d1
from workerlab.bindings.d1 import D1Database, D1Error
from workerlab.bindings.d1_commands import MIGRATIONS_TABLE, apply_migrations, execute_sql, find_d1
from workerlab.clock import FakeClock
from workerlab.config import WorkerConfig
from workerlab.errors import ConfigError


def _config(root: Path, *databases: D1Database) -> WorkerConfig:
    return WorkerConfig(path=root / "wrangler.toml", name="w", main=root / "worker.py", bindings=databases)


APP = D1Database(binding="DB", database_name="app")


@pytest.fixture
def project(tmp_path: Path) -> WorkerConfig:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_users.sql").write_text(
        "-- users\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    )
    (migrations / "0002_seed.sql").write_text(
        "INSERT INTO users (name) VALUES ('ada');\nINSERT INTO users (name) VALUES ('bob');\n"
    )
    (migrations / "notes.txt").write_text("not a migration")
    return _config(tmp_path, APP)


def test_apply_runs_each_migration_once_in_name_order(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    assert apply_migrations(project, "DB", persist) == ["0001_users.sql", "0002_seed.sql"]
    assert apply_migrations(project, "DB", persist) == []

    (project.root / "migrations" / "0003_more.sql").write_text("INSERT INTO users (name) VALUES ('cy');")
    assert apply_migrations(project, "DB", persist) == ["0003_more.sql"]
    assert execute_sql(project, "DB", persist, "SELECT name FROM users ORDER BY id") == [
        {"name": "ada"},
        {"name": "bob"},
        {"name": "cy"},
    ]


def test_applied_migrations_are_recorded(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    apply_migrations(project, "DB", persist, clock=FakeClock())
    rows = execute_sql(
        project, "DB", persist, f"SELECT id, name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY id"
    )
    assert rows == [
        {"id": 1, "name": "0001_users.sql", "applied_at": "2026-01-01 00:00:00"},
        {"id": 2, "name": "0002_seed.sql", "applied_at": "2026-01-01 00:00:00"},
    ]


def test_a_failing_migration_leaves_no_trace(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    (project.root / "migrations" / "0003_bad.sql").write_text(
        "INSERT INTO users (name) VALUES ('cy');\nINSERT INTO nope VALUES (1);\n"
    )
    with pytest.raises(
        D1Error, match=r"0003_bad.sql failed at line 2: D1_ERROR: no such table: nope"
    ) as caught:
        apply_migrations(project, "DB", persist)
    assert "0001_users.sql, 0002_seed.sql" in str(caught.value)
    names = execute_sql(project, "DB", persist, f"SELECT name FROM {MIGRATIONS_TABLE}")
    assert [r["name"] for r in names] == ["0001_users.sql", "0002_seed.sql"]
    assert execute_sql(project, "DB", persist, "SELECT COUNT(*) AS n FROM users") == [{"n": 2}]

    (project.root / "migrations" / "0003_bad.sql").write_text("INSERT INTO users (name) VALUES ('cy');")
    assert apply_migrations(project, "DB", persist) == ["0003_bad.sql"]


async def test_migrations_reach_the_database_dev_uses(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    apply_migrations(project, "DB", persist)
    db = open_d1(APP, persist, FakeClock())
    assert await db.prepare("SELECT COUNT(*) AS n FROM users").first("n") == 2
    await db.prepare("INSERT INTO users (name) VALUES ('from dev')").run()
    db.close()
    assert execute_sql(project, "DB", persist, "SELECT name FROM users WHERE id = 3") == [
        {"name": "from dev"}
    ]


def test_concurrent_appliers_apply_each_file_once(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(apply_migrations(project, "DB", persist)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(name for names in results for name in names) == ["0001_users.sql", "0002_seed.sql"]
    assert execute_sql(project, "DB", persist, "SELECT COUNT(*) AS n FROM users") == [{"n": 2}]


def test_database_name_also_finds_the_binding(project: WorkerConfig) -> None:
    assert find_d1(project, "app") is APP


def test_unknown_binding_lists_the_d1_bindings(tmp_path: Path) -> None:
    config = _config(tmp_path, APP, D1Database(binding="LOGS", database_name="logs"))
    with pytest.raises(
        ConfigError, match=r"no D1 database bound as 'NOPE'.*DB \(database_name 'app'\), LOGS"
    ):
        apply_migrations(config, "NOPE", tmp_path / "state")
    with pytest.raises(ConfigError, match="declares no"):
        execute_sql(_config(tmp_path), "DB", tmp_path / "state", "SELECT 1")


def test_missing_migrations_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"migrations folder of D1 binding DB does not exist.*migrations"):
        apply_migrations(_config(tmp_path, APP), "DB", tmp_path / "state")


def test_absolute_migrations_dir(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "0001.sql").write_text("CREATE TABLE t (x);")
    db = D1Database(binding="DB", database_name="app", migrations_dir=folder)
    assert apply_migrations(_config(tmp_path / "project", db), "DB", tmp_path / "state") == ["0001.sql"]


def test_execute_returns_rows_of_every_statement(project: WorkerConfig, tmp_path: Path) -> None:
    persist = tmp_path / "state"
    rows = execute_sql(
        project, "DB", persist, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2); SELECT x FROM t;"
    )
    assert rows == [{"x": 1}, {"x": 2}]
    assert execute_sql(project, "DB", persist, "DELETE FROM t") == []


def test_execute_sql_error(project: WorkerConfig, tmp_path: Path) -> None:
    with pytest.raises(D1Error, match="no such table: nope"):
        execute_sql(project, "DB", tmp_path / "state", "SELECT * FROM nope")


# --- through the command line ------------------------------------------------------------


@pytest.fixture
def cli_project(tmp_path: Path) -> Path:
    (tmp_path / "worker.py").write_text("async def fetch(request, env, ctx):\n    return None\n")
    (tmp_path / "wrangler.toml").write_text(
        'name = "w"\nmain = "worker.py"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "app"\n'
    )
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_init.sql").write_text(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT);\n"
        "INSERT INTO items (label) VALUES ('first');\n"
    )
    return tmp_path


def test_cli_migrations_apply_then_execute(cli_project: Path) -> None:
    from workerlab.cli import main

    runner = CliRunner()
    config = str(cli_project / "wrangler.toml")
    applied = runner.invoke(main, ["d1", "migrations", "apply", "DB", "-c", config])
    assert applied.exit_code == 0, applied.output
    assert "0001_init.sql" in applied.output
    assert (cli_project / ".workerlab" / "state" / "d1" / "app.sqlite3").exists()

    again = runner.invoke(main, ["d1", "migrations", "apply", "DB", "-c", config])
    assert again.exit_code == 0
    assert "0001_init.sql" not in again.output

    executed = runner.invoke(
        main, ["d1", "execute", "DB", "-c", config, "--command", "SELECT label FROM items"]
    )
    assert executed.exit_code == 0, executed.output
    assert "first" in executed.output


def test_cli_persist_to_and_unknown_binding(cli_project: Path, tmp_path: Path) -> None:
    from workerlab.cli import main

    runner = CliRunner()
    config = str(cli_project / "wrangler.toml")
    persist = tmp_path / "elsewhere"
    result = runner.invoke(
        main,
        [
            "d1",
            "execute",
            "DB",
            "-c",
            config,
            "--persist-to",
            str(persist),
            "--command",
            "CREATE TABLE t (x)",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (persist / "d1" / "app.sqlite3").exists()

    unknown = runner.invoke(main, ["d1", "execute", "NOPE", "-c", config, "--command", "SELECT 1"])
    assert unknown.exit_code != 0
    assert "NOPE" in unknown.output and "DB" in unknown.output
    assert "Traceback" not in unknown.output
