from __future__ import annotations

import pytest
from test_durable_support import Counter, Lab

from workerlab.durable import DurableObjectStorage, run_in_durable_object
from workerlab.durable.limits import MAX_SQL_BINDINGS, MAX_SQL_QUERY_BYTES
from workerlab.errors import StorageError

pytest_plugins = ["test_durable_support"]


@pytest.fixture
async def storage(lab: Lab) -> DurableObjectStorage:
    stub = lab.namespace(Counter).getByName("sql")
    return await run_in_durable_object(stub, lambda instance, ctx: ctx.storage)


@pytest.fixture
def people(storage: DurableObjectStorage) -> DurableObjectStorage:
    storage.sql.exec(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, photo BLOB);"
        "INSERT INTO people (name) VALUES ('ada'), ('bob'), ('cy')"
    )
    return storage


def test_rows_as_dicts_with_attribute_access(people: DurableObjectStorage) -> None:
    cursor = people.sql.exec("SELECT id, name FROM people WHERE id > ? ORDER BY id", 1)
    assert cursor.columnNames == ["id", "name"]
    rows = list(cursor)
    assert rows == [{"id": 2, "name": "bob"}, {"id": 3, "name": "cy"}]
    assert rows[0].name == "bob"
    assert cursor.rowsRead == 2 and cursor.rowsWritten == 0
    assert list(cursor) == []  # a cursor hands each row out once


def test_to_array_raw_and_next_share_the_cursors_position(people: DurableObjectStorage) -> None:
    cursor = people.sql.exec("SELECT name FROM people ORDER BY id")
    assert cursor.next() == {"done": False, "value": {"name": "ada"}}
    assert next(cursor.raw()) == ["bob"]
    assert cursor.toArray() == [{"name": "cy"}]
    assert cursor.next() == {"done": True}
    assert list(people.sql.exec("SELECT id, name FROM people ORDER BY id").raw()) == [
        [1, "ada"],
        [2, "bob"],
        [3, "cy"],
    ]


def test_one_wants_exactly_one_row(people: DurableObjectStorage) -> None:
    assert people.sql.exec("SELECT 'Hello' AS greeting").one().greeting == "Hello"
    with pytest.raises(StorageError, match="but got no results"):
        people.sql.exec("SELECT * FROM people WHERE id = 99").one()
    with pytest.raises(StorageError, match="but got multiple results"):
        people.sql.exec("SELECT * FROM people").one()


def test_writes_count_rows_written_and_returning_gives_rows(people: DurableObjectStorage) -> None:
    cursor = people.sql.exec("UPDATE people SET name = upper(name) WHERE id < 3")
    assert cursor.rowsWritten == 2 and cursor.toArray() == [] and cursor.columnNames == []
    inserted = people.sql.exec(
        "INSERT INTO people (name, photo) VALUES (?, ?) RETURNING id", "dee", b"\x00\x01"
    )
    assert inserted.one() == {"id": 4}
    assert people.sql.exec("SELECT photo FROM people WHERE id = 4").one().photo == b"\x00\x01"


def test_several_statements_bindings_go_to_the_last(people: DurableObjectStorage) -> None:
    cursor = people.sql.exec(
        "INSERT INTO people (name) VALUES ('eve'); SELECT count(*) AS n FROM people WHERE name = ?", "eve"
    )
    assert cursor.one().n == 1


def test_several_statements_run_all_or_none(people: DurableObjectStorage) -> None:
    with pytest.raises(StorageError, match="no such table: nowhere"):
        people.sql.exec("INSERT INTO people (name) VALUES ('zed'); INSERT INTO nowhere VALUES (1)")
    assert people.sql.exec("SELECT count(*) AS n FROM people WHERE name = 'zed'").one().n == 0


def test_sql_errors_carry_sqlites_message_and_code(people: DurableObjectStorage) -> None:
    with pytest.raises(StorageError, match=r"syntax error: SQLITE_ERROR \(in 'SELEC 1'\)"):
        people.sql.exec("SELEC 1")
    with pytest.raises(StorageError, match="wrong number of bindings"):
        people.sql.exec("SELECT ?, ?", 1)
    with pytest.raises(TypeError, match="binding 1 is a dict"):
        people.sql.exec("SELECT ?", {"a": 1})
    with pytest.raises(TypeError, match="64 bits"):
        people.sql.exec("SELECT ?", 2**70)


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN",
        "BEGIN TRANSACTION",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT sp",
        "RELEASE sp",
        "END",
        "begin immediate",
    ],
)
def test_transaction_statements_point_to_transaction(storage: DurableObjectStorage, statement: str) -> None:
    with pytest.raises(StorageError, match=r"use ctx\.storage\.transaction\(fn\).*SQLITE_AUTH"):
        storage.sql.exec(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM _cf_KV",
        "select key from _CF_kv",
        "DELETE FROM _cf_KV",
        "INSERT INTO _cf_KV VALUES ('a', x'4e')",
        "UPDATE _cf_KV SET value = x'4e'",
        "DROP TABLE _cf_KV",
        "CREATE TABLE _cf_mine (x)",
        "CREATE INDEX i ON _cf_KV (value)",
        "ALTER TABLE _cf_KV RENAME TO stolen",
    ],
)
def test_the_runtimes_tables_are_out_of_reach(storage: DurableObjectStorage, statement: str) -> None:
    storage.put("secret", 1)
    with pytest.raises(StorageError, match="not authorized: tables whose names start with _cf_"):
        storage.sql.exec(statement)


async def test_the_key_value_table_is_listed_but_guarded(storage: DurableObjectStorage) -> None:
    await storage.put("k", 1)
    tables = [row.name for row in storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert "_cf_KV" in tables
    # The runtime's own statements stay out of reach even when user SQL has the same text.
    with pytest.raises(StorageError, match="not authorized"):
        storage.sql.exec("SELECT value FROM _cf_KV WHERE key = ?", "k")
    assert await storage.get("k") == 1


@pytest.mark.parametrize(
    ("statement", "match"),
    [
        ("ATTACH DATABASE '/tmp/other.db' AS other", "ATTACH and DETACH are not allowed"),
        ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode is not allowed"),
        ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys is not allowed"),
        ("PRAGMA writable_schema = 1", "PRAGMA writable_schema is not allowed"),
    ],
)
def test_attach_and_unsafe_pragmas_are_refused(
    storage: DurableObjectStorage, statement: str, match: str
) -> None:
    with pytest.raises(StorageError, match=match):
        storage.sql.exec(statement)


def test_schema_pragmas_work_and_foreign_keys_are_enforced(people: DurableObjectStorage) -> None:
    sql = people.sql
    assert [row.name for row in sql.exec("PRAGMA table_info(people)")] == ["id", "name", "photo"]
    assert sql.exec("PRAGMA foreign_keys").one().foreign_keys == 1
    sql.exec("CREATE TABLE pets (owner INTEGER REFERENCES people(id))")
    with pytest.raises(StorageError, match="FOREIGN KEY constraint failed"):
        sql.exec("INSERT INTO pets VALUES (99)")


def test_limits_on_query_size_and_bindings(storage: DurableObjectStorage) -> None:
    storage.sql.exec("SELECT " + ", ".join(["?"] * MAX_SQL_BINDINGS), *range(MAX_SQL_BINDINGS))
    with pytest.raises(StorageError, match=f"at most {MAX_SQL_BINDINGS} bound parameters"):
        storage.sql.exec("SELECT 1", *range(MAX_SQL_BINDINGS + 1))
    with pytest.raises(StorageError, match=f"at most {MAX_SQL_QUERY_BYTES} bytes"):
        storage.sql.exec("SELECT 1 -- " + "x" * MAX_SQL_QUERY_BYTES)
    with pytest.raises(StorageError, match="no statement"):
        storage.sql.exec("  ; -- nothing")


async def test_database_size_grows_with_data(storage: DurableObjectStorage) -> None:
    before = storage.sql.databaseSize
    assert before > 0
    storage.sql.exec("CREATE TABLE blobs (b BLOB)")
    for _ in range(20):
        storage.sql.exec("INSERT INTO blobs VALUES (?)", b"x" * 10_000)
    assert storage.sql.databaseSize > before + 150_000


async def test_delete_all_drops_sql_tables_and_pairs_together(people: DurableObjectStorage) -> None:
    people.sql.exec("CREATE TABLE pets (owner INTEGER REFERENCES people(id)); INSERT INTO pets VALUES (1)")
    people.sql.exec("CREATE VIEW names AS SELECT name FROM people")
    await people.put("k", 1)
    await people.deleteAll()
    tables = [row.name for row in people.sql.exec("SELECT name FROM sqlite_master")]
    assert tables == ["_cf_KV"]
    assert await people.list() == {}
    people.sql.exec("CREATE TABLE people (id INTEGER PRIMARY KEY)")  # the names are free again


def test_cursor_and_sql_names_follow_cloudflare(people: DurableObjectStorage) -> None:
    cursor = people.sql.exec("SELECT 1 AS one")
    with pytest.raises(AttributeError, match="'toArray'"):
        cursor.to_array()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="'databaseSize'"):
        _ = people.sql.database_size  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        len(cursor)  # type: ignore[arg-type]
