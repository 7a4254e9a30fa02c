"""KV, D1 and R2 as the inspector shows them; the D1 console reads and never writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_inspector_support import API, inspected

from workerlab.inspector import readonly_sql
from workerlab.inspector.readonly_sql import MAX_RESULT_ROWS


async def test_kv_namespaces_keys_and_values(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        assert (await shop.get("kv"))["namespaces"] == [{"worker": "shop", "binding": "CACHE"}]
        keys = await shop.get("kv/shop/CACHE/keys")
        assert [k["name"] for k in keys["keys"]] == ["greeting", "user:1"]
        assert keys["keys"][0]["metadata"] == {"lang": "en"}
        assert keys["complete"] is True and keys["cursor"] is None
        page = await shop.get("kv/shop/CACHE/keys?limit=1")
        assert [k["name"] for k in page["keys"]] == ["greeting"] and page["cursor"]
        rest = await shop.get(f"kv/shop/CACHE/keys?limit=1&cursor={page['cursor']}")
        assert [k["name"] for k in rest["keys"]] == ["user:1"]
        assert [k["name"] for k in (await shop.get("kv/shop/CACHE/keys?prefix=user:"))["keys"]] == ["user:1"]
        value = await shop.get("kv/shop/CACHE/value?key=greeting")
        assert value == {"key": "greeting", "metadata": {"lang": "en"}, "size": 5, "text": "hello"}


async def test_kv_errors_say_what_is_missing(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        missing = await shop.client.get(API + "kv/shop/CACHE/value?key=nope")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
        unknown = await shop.client.get(API + "kv/shop/NOPE/keys")
        assert unknown.status_code == 404
        assert (
            unknown.json()["error"]["message"] == "The worker shop has no KV namespace binding named 'NOPE'"
        )
        other_worker = await shop.client.get(API + "kv/ghost/CACHE/keys")
        assert "No worker named 'ghost' is loaded (loaded: shop)" in other_worker.json()["error"]["message"]
        too_many = await shop.client.get(API + "kv/shop/CACHE/keys?limit=5000")
        assert too_many.status_code == 400 and "limit must be from 1 to 1000" in too_many.text


async def test_d1_tables_and_rows(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        for _ in range(3):
            await shop.visit("/seed")
        tables = {t["name"]: t for t in (await shop.get("d1/shop/DB/tables"))["tables"]}
        assert set(tables) == {"d1_migrations", "orders"}
        orders = tables["orders"]
        assert orders["rows"] == 3
        assert [(c["name"], c["type"], c["primary_key"]) for c in orders["columns"]] == [
            ("id", "INTEGER", True),
            ("item", "TEXT", False),
            ("quantity", "INTEGER", False),
        ]
        page = await shop.get("d1/shop/DB/tables/orders/rows?limit=2")
        assert page["columns"] == ["id", "item", "quantity"]
        assert page["rows"] == [[1, "tea", 2], [2, "tea", 2]] and page["next_offset"] == 2
        last = await shop.get("d1/shop/DB/tables/orders/rows?limit=2&offset=2")
        assert last["rows"] == [[3, "tea", 2]] and last["next_offset"] is None
        missing = await shop.client.get(API + "d1/shop/DB/tables/nope/rows")
        assert missing.status_code == 404


COUNT_TO_5000 = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 5000) SELECT i FROM n"


async def test_the_console_reads(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        answer = await shop.post("d1/shop/DB/query", {"sql": "SELECT item, quantity * 10 AS n FROM orders"})
        assert answer.status_code == 200
        assert answer.json()["columns"] == ["item", "n"] and answer.json()["rows"] == [["tea", 20]]
        pragma = await shop.post("d1/shop/DB/query", {"sql": "PRAGMA table_info(orders)"})
        assert pragma.status_code == 200 and len(pragma.json()["rows"]) == 3
        many = await shop.post(
            "d1/shop/DB/query",
            {"sql": COUNT_TO_5000},
        )
        assert len(many.json()["rows"]) == MAX_RESULT_ROWS and many.json()["truncated"] is True


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("INSERT INTO orders (item, quantity) VALUES ('x', 1)", "INSERT"),
        ("UPDATE orders SET quantity = 0", "UPDATE"),
        ("DELETE FROM orders", "DELETE"),
        ("DROP TABLE orders", "DROP"),
        ("CREATE TABLE evil (x)", "CREATE"),
        ("CREATE INDEX orders_item ON orders (item)", "CREATE"),
        ("ALTER TABLE orders ADD COLUMN y", "ALTER TABLE"),
        ("ATTACH DATABASE '/tmp/other.db' AS other", "ATTACH"),
        ("PRAGMA user_version = 7", "PRAGMA"),
        ("PRAGMA query_only = 0", "PRAGMA"),
        ("BEGIN", "TRANSACTION"),
        ("REPLACE INTO orders (id, item, quantity) VALUES (1, 'x', 1)", "INSERT"),
    ],
)
async def test_the_console_refuses_writes(tmp_path: Path, sql: str, refused: str) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        answer = await shop.post("d1/shop/DB/query", {"sql": sql})
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "read-only"
        assert error["message"].startswith(f"The SQL console only reads: {refused} is refused")
        rows = await shop.get("d1/shop/DB/tables/orders/rows")
        assert rows["rows"] == [[1, "tea", 2]]
        assert (await shop.get("d1/shop/DB/tables"))["tables"][1]["columns"][-1]["name"] == "quantity"


async def test_the_console_runs_one_statement_at_a_time(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        answer = await shop.post("d1/shop/DB/query", {"sql": "SELECT 1; DELETE FROM orders"})
        assert answer.status_code == 400
        assert "one statement at a time" in answer.json()["error"]["message"]
        assert len((await shop.get("d1/shop/DB/tables/orders/rows"))["rows"]) == 1
        empty = await shop.post("d1/shop/DB/query", {"sql": "  "})
        assert empty.status_code == 400


async def test_a_database_kept_in_memory_is_said_so(tmp_path: Path) -> None:
    async with inspected(None) as shop:
        answer = await shop.client.get(API + "d1/shop/DB/tables")
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "in-memory"


async def test_r2_folders_objects_and_metadata(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        top = await shop.get("r2/shop/FILES/objects?delimiter=/")
        assert top["prefixes"] == ["receipts/"]
        assert [o["key"] for o in top["objects"]] == ["page.html"]
        inside = await shop.get("r2/shop/FILES/objects?delimiter=/&prefix=receipts/")
        assert [(o["key"], o["size"]) for o in inside["objects"]] == [("receipts/1.txt", 9)]
        head = await shop.get("r2/shop/FILES/object?key=receipts/1.txt")
        assert head["http_metadata"] == {"contentType": "text/plain"}
        assert head["storage_class"] == "Standard" and len(head["etag"]) == 32


async def test_an_r2_download_is_an_attachment_that_cannot_run_in_the_page(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        download = await shop.client.get(API + "r2/shop/FILES/download?key=page.html")
        assert download.status_code == 200
        assert download.content == b"<script>alert(1)</script>"
        assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''page.html"
        assert "sandbox" in download.headers.get_list("content-security-policy")
        assert download.headers["x-content-type-options"] == "nosniff"
        missing = await shop.client.get(API + "r2/shop/FILES/download?key=nope")
        assert missing.status_code == 404


async def test_a_query_that_runs_too_long_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readonly_sql, "MAX_QUERY_S", 0.05)
    forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    async with inspected(tmp_path) as shop:
        answer = await shop.post("d1/shop/DB/query", {"sql": forever})
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == "The query ran longer than 0.05 s and was stopped"
