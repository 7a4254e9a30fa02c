"""`workerlab d1 migrations apply` and `workerlab d1 execute`, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFIG = """
name = "d1-cli"
main = "worker.py"
[[d1_databases]]
binding = "DB"
database_name = "app"
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "wrangler.toml").write_text(CONFIG)
    (tmp_path / "worker.py").write_text("async def fetch(request):\n    pass\n")
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_users.sql").write_text("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n")
    (migrations / "0002_seed.sql").write_text("INSERT INTO users (name) VALUES ('ada'), ('grace');\n")
    return tmp_path


def workerlab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workerlab", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_migrations_apply_once_each_in_name_order(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    first = workerlab(cwd, "d1", "migrations", "apply", "DB")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["Applied 0001_users.sql", "Applied 0002_seed.sql"]
    again = workerlab(cwd, "d1", "migrations", "apply", "DB")
    assert again.returncode == 0
    assert again.stdout.strip() == "No migrations to apply."
    assert (cwd / ".workerlab" / "state" / "d1" / "app.sqlite3").is_file()


def test_execute_prints_the_rows(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    workerlab(cwd, "d1", "migrations", "apply", "DB")
    result = workerlab(cwd, "d1", "execute", "DB", "--command", "SELECT name FROM users ORDER BY id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["name", "-----", "ada", "grace"]


def test_persist_to_is_honoured(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    state = tmp_path / "elsewhere"
    assert workerlab(cwd, "d1", "migrations", "apply", "DB", "--persist-to", str(state)).returncode == 0
    assert (state / "d1" / "app.sqlite3").is_file()


def test_unknown_binding_is_one_clear_line(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    result = workerlab(cwd, "d1", "execute", "NOPE", "--command", "SELECT 1")
    assert result.returncode != 0
    assert "NOPE" in result.stderr and "DB" in result.stderr
    assert "Traceback" not in result.stderr


def test_sql_error_carries_sqlites_message_without_a_traceback(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    result = workerlab(cwd, "d1", "execute", "DB", "--command", "SELECT * FROM missing_table")
    assert result.returncode != 0
    assert "no such table: missing_table" in result.stderr
    assert "Traceback" not in result.stderr


def test_execute_is_all_or_nothing(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    workerlab(cwd, "d1", "migrations", "apply", "DB")
    failed = workerlab(
        cwd, "d1", "execute", "DB", "--command", "INSERT INTO users (name) VALUES ('x'); SELEC 1"
    )
    assert failed.returncode != 0
    assert "line 1" in failed.stderr and "SELEC 1" in failed.stderr
    count = workerlab(cwd, "d1", "execute", "DB", "--command", "SELECT count(*) AS n FROM users")
    assert count.stdout.split() == ["n", "-", "2"]


def test_execute_prints_one_table_per_statement(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    workerlab(cwd, "d1", "migrations", "apply", "DB")
    sql = "SELECT name FROM users ORDER BY id; SELECT count(*) AS n FROM users"
    result = workerlab(cwd, "d1", "execute", "DB", "--command", sql)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n\n")[0].split() == ["name", "-----", "ada", "grace"]
    assert result.stdout.split("\n\n")[1].split() == ["n", "-", "2"]


def test_wranglers_forms_local_file_and_json(tmp_path: Path) -> None:
    import json

    cwd = project(tmp_path)
    assert workerlab(cwd, "d1", "migrations", "apply", "DB", "--local").returncode == 0
    (cwd / "query.sql").write_text("SELECT count(*) AS n FROM users;\nSELECT name FROM users WHERE id = 1;\n")
    result = workerlab(cwd, "d1", "execute", "DB", "--local", "--file", "query.sql", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [entry["results"] for entry in document] == [[{"n": 2}], [{"name": "ada"}]]
    assert all(entry["success"] is True and "meta" in entry for entry in document)


def test_remote_is_refused_and_the_sql_comes_from_exactly_one_place(tmp_path: Path) -> None:
    cwd = project(tmp_path)
    remote = workerlab(cwd, "d1", "execute", "DB", "--remote", "--command", "SELECT 1")
    assert remote.returncode == 2
    assert "--remote works on Cloudflare's D1, which workerlab does not reach" in remote.stderr
    assert "Traceback" not in remote.stderr
    both = workerlab(cwd, "d1", "execute", "DB", "--command", "SELECT 1", "--file", "x.sql")
    assert both.returncode == 2 and "exactly one of --command SQL or --file PATH" in both.stderr
    missing = workerlab(cwd, "d1", "execute", "DB", "--file", "nope.sql")
    assert missing.returncode == 2 and "--file nope.sql: cannot read it" in missing.stderr
    applying = workerlab(cwd, "d1", "migrations", "apply", "DB", "--remote")
    assert applying.returncode == 2 and "--remote" in applying.stderr
