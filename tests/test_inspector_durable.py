"""Durable Objects as the inspector shows them: namespaces, objects, one object's storage and alarm,
read from its file without waking it."""

from __future__ import annotations

from pathlib import Path

from test_inspector_support import API, inspected


async def test_namespaces_objects_and_storage(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/seed")
        await shop.visit("/seed")
        (namespace,) = (await shop.get("durable-objects"))["namespaces"]
        assert namespace == {
            "worker": "shop",
            "binding": "COUNTER",
            "class_name": "Counter",
            "defined_by": "shop",
            "storage": "sqlite",
            "objects": 1,
        }
        (counter,) = (await shop.get("durable-objects/shop/COUNTER/objects"))["objects"]
        assert counter["name"] == "main" and len(counter["id"]) == 64
        assert counter["alarm"] == {"scheduled_ms": 1_900_000_000_000, "retry_count": 0}
        shown = await shop.get(f"durable-objects/shop/COUNTER/objects/{counter['id']}")
        assert shown["class_name"] == "Counter" and shown["name"] == "main"
        assert [(p["key"], p["value"]) for p in shown["pairs"]] == [("count", 2)]
        assert shown["more_pairs"] is False
        (hits,) = shown["tables"]
        assert (hits["name"], hits["rows"]) == ("hits", 2)
        assert shown["alarm"]["scheduled_ms"] == 1_900_000_000_000


async def test_an_unknown_object_is_a_404(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        answer = await shop.client.get(API + "durable-objects/shop/COUNTER/objects/" + "0" * 64)
        assert answer.status_code == 404
        assert (await shop.get("durable-objects/shop/COUNTER/objects"))["objects"] == []
