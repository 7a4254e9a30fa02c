from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workerlab.bindings import D1DatabaseBinding, D1Error, D1TypeError, open_d1
from workerlab.bindings.d1 import D1Database, d1_path
from workerlab.clock import FakeClock
from workerlab.errors import StorageError
from workerlab.sql_text import split_sql

DB = D1Database(binding="DB", database_name="app")


@pytest.fixture
def db() -> Iterator[D1DatabaseBinding]:
    binding = open_d1(DB, None, FakeClock())
    yield binding
    binding.close()


@pytest.fixture
async def users(db: D1DatabaseBinding) -> D1DatabaseBinding:
    await db.exec(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER, avatar BLOB);\n"
        "INSERT INTO users (name, age) VALUES ('ada', 36), ('bob', 25);"
    )
    return db


async def _names(db: D1DatabaseBinding) -> list[str]:
    return [row["name"] for row in (await db.prepare("SELECT name FROM users ORDER BY id").all()).results]


# --- statements -------------------------------------------------------------------------


async def test_all_returns_rows_as_dicts_with_attribute_access(users: D1DatabaseBinding) -> None:
    res = await users.prepare("SELECT id, name, age FROM users ORDER BY id").all()
    assert res.success is True
    assert res["results"] == [{"id": 1, "name": "ada", "age": 36}, {"id": 2, "name": "bob", "age": 25}]
    assert res.results[1].name == "bob"
    assert res.meta.rows_read == 2
    assert res.meta.changes == 0
    assert res.meta.changed_db is False


async def test_run_meta_of_an_insert(users: D1DatabaseBinding) -> None:
    res = await users.prepare("INSERT INTO users (name, age) VALUES (?, ?)").bind("cy", 41).run()
    assert res.success is True
    assert res.results == []
    meta = res.meta
    assert meta.changes == 1
    assert meta.last_row_id == 3
    assert meta.rows_written == 1
    assert meta.changed_db is True
    assert meta.size_after > 0
    assert meta.duration >= 0
    assert meta.timings.sql_duration_ms == meta.duration
    assert {"served_by", "duration", "changes", "last_row_id", "changed_db", "size_after"} <= set(meta)
    assert {"rows_read", "rows_written"} <= set(meta)


async def test_ddl_changes_the_database(db: D1DatabaseBinding) -> None:
    res = await db.prepare("CREATE TABLE t (x)").run()
    assert res.meta.changed_db is True
    assert res.meta.changes == 0


async def test_first_row_column_and_missing(users: D1DatabaseBinding) -> None:
    stmt = users.prepare("SELECT name, age FROM users WHERE age > ? ORDER BY age")
    assert await stmt.bind(20).first() == {"name": "bob", "age": 25}
    assert await stmt.bind(20).first("name") == "bob"
    assert await stmt.bind(99).first() is None
    assert await stmt.bind(99).first("name") is None


async def test_first_of_a_column_the_row_lacks(users: D1DatabaseBinding) -> None:
    with pytest.raises(D1Error, match=r"D1_COLUMN_NOTFOUND: Column not found \(email\)"):
        await users.prepare("SELECT name FROM users").first("email")


async def test_raw_with_and_without_column_names(users: D1DatabaseBinding) -> None:
    stmt = users.prepare("SELECT id, name FROM users ORDER BY id")
    assert await stmt.raw() == [[1, "ada"], [2, "bob"]]
    assert await stmt.raw(columnNames=True) == [["id", "name"], [1, "ada"], [2, "bob"]]
    assert await stmt.raw({"columnNames": True}) == [["id", "name"], [1, "ada"], [2, "bob"]]


async def test_raw_column_names_without_rows(users: D1DatabaseBinding) -> None:
    assert await users.prepare("SELECT id FROM users WHERE 0").raw(columnNames=True) == [["id"]]


# --- bind -------------------------------------------------------------------------------


async def test_bind_returns_a_new_statement(users: D1DatabaseBinding) -> None:
    stmt = users.prepare("SELECT name FROM users WHERE id = ?")
    one, two = stmt.bind(1), stmt.bind(2)
    assert await one.first("name") == "ada"
    assert await two.first("name") == "bob"
    assert one is not stmt


async def test_bind_types(db: D1DatabaseBinding) -> None:
    await db.exec("CREATE TABLE v (n, i, f, s, b, t, fl, ba)")
    values = (None, 7, 1.5, "text", b"\x00\x01", True, False, bytearray(b"xy"))
    await db.prepare("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, ?)").bind(*values).run()
    row = await db.prepare("SELECT * FROM v").first()
    assert row == {"n": None, "i": 7, "f": 1.5, "s": "text", "b": b"\x00\x01", "t": 1, "fl": 0, "ba": b"xy"}


async def test_ordered_parameters(users: D1DatabaseBinding) -> None:
    stmt = users.prepare("SELECT ?2 || ?1 AS joined").bind("a", "b")
    assert await stmt.first("joined") == "ba"


@pytest.mark.parametrize("value", [{"a": 1}, [1], object(), 2**63])
async def test_unsupported_bind_values(db: D1DatabaseBinding, value: object) -> None:
    stmt = db.prepare("SELECT ?")
    with pytest.raises(D1TypeError, match="D1_TYPE_ERROR") as caught:
        stmt.bind(value)
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, StorageError)


async def test_wrong_number_of_bindings(users: D1DatabaseBinding) -> None:
    with pytest.raises(D1Error, match="D1_ERROR: Wrong number of parameter bindings"):
        await users.prepare("SELECT * FROM users WHERE id = ? AND name = ?").bind(1).all()


# --- errors -----------------------------------------------------------------------------


async def test_sql_errors_carry_sqlites_message(db: D1DatabaseBinding) -> None:
    with pytest.raises(D1Error, match=r"^D1_ERROR: no such table: nope: SQLITE_ERROR$") as caught:
        await db.prepare("SELECT * FROM nope").all()
    assert isinstance(caught.value, StorageError)
    with pytest.raises(D1Error, match='near "SELEC": syntax error'):
        await db.prepare("SELEC 1").run()


async def test_constraint_errors(users: D1DatabaseBinding) -> None:
    with pytest.raises(D1Error, match=r"UNIQUE constraint failed: users\.name: SQLITE_CONSTRAINT"):
        await users.prepare("INSERT INTO users (name) VALUES ('ada')").run()


async def test_transaction_statements_are_refused(db: D1DatabaseBinding) -> None:
    with pytest.raises(D1Error, match=r"BEGIN / COMMIT / ROLLBACK statements are not allowed.*batch"):
        await db.prepare("BEGIN TRANSACTION").run()
    with pytest.raises(D1Error, match="SAVEPOINT"):
        await db.prepare("SAVEPOINT sp").run()
    # the connection is still usable, outside any transaction
    await db.exec("CREATE TABLE t (x)")
    assert (await db.batch([db.prepare("INSERT INTO t VALUES (1)")]))[0].meta.changes == 1


async def test_attach_is_refused(db: D1DatabaseBinding, tmp_path: Path) -> None:
    with pytest.raises(D1Error, match="ATTACH statements are not allowed") as refused:
        await db.prepare("ATTACH DATABASE ? AS other").bind(str(tmp_path / "x.db")).run()
    assert "bind each database it needs" in str(refused.value) and "batch" not in str(refused.value)
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("sql", ["VACUUM", "vacuum INTO '{path}'"])
async def test_vacuum_is_refused_as_vacuum(db: D1DatabaseBinding, tmp_path: Path, sql: str) -> None:
    with pytest.raises(
        D1Error, match=r"^D1_ERROR: VACUUM statements are not allowed in D1 .*manages the space"
    ):
        await db.prepare(sql.format(path=tmp_path / "copy.db")).run()
    assert not (tmp_path / "copy.db").exists()


# --- batch ------------------------------------------------------------------------------


async def test_batch_returns_one_result_per_statement(users: D1DatabaseBinding) -> None:
    insert = users.prepare("INSERT INTO users (name, age) VALUES (?, ?)")
    results = await users.batch(
        [insert.bind("cy", 1), insert.bind("di", 2), users.prepare("SELECT COUNT(*) AS n FROM users")]
    )
    assert [r.meta.last_row_id for r in results[:2]] == [3, 4]
    assert results[2].results == [{"n": 4}]


async def test_batch_rolls_back_when_a_statement_fails(users: D1DatabaseBinding) -> None:
    insert = users.prepare("INSERT INTO users (name, age) VALUES (?, ?)")
    with pytest.raises(D1Error, match="UNIQUE constraint failed"):
        await users.batch(
            [
                insert.bind("cy", 1),
                users.prepare("UPDATE users SET age = age + 1"),
                insert.bind("ada", 2),  # duplicate name
                insert.bind("never", 3),
            ]
        )
    assert await _names(users) == ["ada", "bob"]
    assert await users.prepare("SELECT age FROM users WHERE name = 'ada'").first("age") == 36


async def test_batch_of_nothing(db: D1DatabaseBinding) -> None:
    assert await db.batch([]) == []


async def test_batch_refuses_other_things(db: D1DatabaseBinding) -> None:
    with pytest.raises(TypeError, match=r"item 0 must be a statement from DB\.prepare"):
        await db.batch(["SELECT 1"])  # type: ignore[list-item]
    other = open_d1(D1Database(binding="OTHER", database_name="other"), None, FakeClock())
    with pytest.raises(TypeError, match="item 0"):
        await db.batch([other.prepare("SELECT 1")])
    other.close()


# --- exec -------------------------------------------------------------------------------


async def test_exec_runs_a_script(db: D1DatabaseBinding) -> None:
    res = await db.exec(
        """
        -- a comment; with a semicolon
        CREATE TABLE t (x TEXT);
        INSERT INTO t VALUES ('a;b'), ("c");
        /* block; comment */
        CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO t VALUES ('after'); END;
        """
    )
    assert res.count == 3
    assert res.duration >= 0
    rows = await db.prepare("SELECT x FROM t").raw()
    assert rows == [["a;b"], ["c"]]


async def test_exec_error_names_the_line(db: D1DatabaseBinding) -> None:
    with pytest.raises(
        D1Error, match=r"^D1_EXEC_ERROR: Error in line 2: INSERT INTO nope VALUES \(1\): no such"
    ):
        await db.exec("CREATE TABLE t (x);\nINSERT INTO nope VALUES (1);")


# --- sessions ---------------------------------------------------------------------------


async def test_with_session(users: D1DatabaseBinding) -> None:
    session = users.withSession("first-primary")
    assert session.getBookmark() is None
    assert await session.prepare("SELECT COUNT(*) AS n FROM users").first("n") == 2
    assert isinstance(session.getBookmark(), str)


# --- persistence ------------------------------------------------------------------------


async def test_persisted_database_is_one_sqlite_file(tmp_path: Path) -> None:
    first = open_d1(DB, tmp_path, FakeClock())
    await first.exec("CREATE TABLE t (x); INSERT INTO t VALUES (42);")
    first.close()
    assert d1_path(tmp_path, DB) == tmp_path / "d1" / "app.sqlite3"

    second = open_d1(DB, tmp_path, FakeClock())
    assert await second.prepare("SELECT x FROM t").first("x") == 42
    second.close()


async def test_two_connections_share_the_database(tmp_path: Path) -> None:
    a, b = open_d1(DB, tmp_path, FakeClock()), open_d1(DB, tmp_path, FakeClock())
    await a.exec("CREATE TABLE t (x)")
    await b.batch([b.prepare("INSERT INTO t VALUES (1)"), b.prepare("INSERT INTO t VALUES (2)")])
    assert await a.prepare("SELECT SUM(x) AS s FROM t").first("s") == 3
    a.close()
    b.close()


async def test_unsafe_database_names_stay_inside_the_d1_folder(tmp_path: Path) -> None:
    db = D1Database(binding="DB", database_name="../../escape")
    binding = open_d1(db, tmp_path / "persist", FakeClock())
    await binding.exec("CREATE TABLE t (x)")
    binding.close()
    path = d1_path(tmp_path / "persist", db)
    assert path.parent == tmp_path / "persist" / "d1"
    assert path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["persist"]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("SELECT '--x; y' AS a; SELECT 'it''s;' ;", [("SELECT '--x; y' AS a", 1), ("SELECT 'it''s;'", 1)]),
        (
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n  DELETE FROM c;\nEND;\nSELECT 1",
            [
                ("CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n  DELETE FROM c;\nEND", 1),
                ("SELECT 1", 5),
            ],
        ),
        ("/* only; a comment */ ;  -- and; another\n", []),
        ('SELECT [a;b] FROM "t;x" WHERE `c;d` = 1', [('SELECT [a;b] FROM "t;x" WHERE `c;d` = 1', 1)]),
        ("\n\nSELECT 1 -- trailing", [("SELECT 1 -- trailing", 3)]),
    ],
)
def test_scripts_split_into_statements(script: str, expected: list[tuple[str, int]]) -> None:
    assert [(s.sql, s.line) for s in split_sql(script)] == expected


async def test_exec_of_only_comments(db: D1DatabaseBinding) -> None:
    assert (await db.exec("-- nothing to do\n")).count == 0
