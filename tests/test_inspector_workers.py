"""The workers page's API: each worker, its handlers, crons, consumers and bindings."""

from __future__ import annotations

from pathlib import Path

from test_inspector_support import SHOP_CONFIG, inspected


async def test_the_loaded_workers_and_their_bindings(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        (worker,) = (await shop.get("workers"))["workers"]
        assert worker["name"] == "shop" and worker["primary"] is True
        assert worker["config"] == str(SHOP_CONFIG)
        assert worker["handlers"] == ["fetch", "queue", "scheduled"]
        assert worker["crons"] == ["*/5 * * * *", "0 3 * * 1"]
        assert [(c["queue"], c["max_retries"], c["dead_letter_queue"]) for c in worker["consumers"]] == [
            ("jobs", 1, "jobs-dlq")
        ]
        kinds = {b["binding"]: (b["kind"], b["resource"], b["mode"]) for b in worker["bindings"]}
        assert kinds["CACHE"] == ("KV Namespace", "cache", "local")
        assert kinds["DB"] == ("D1 Database", "shop", "local")
        assert kinds["FILES"] == ("R2 Bucket", "files", "local")
        assert kinds["JOBS"] == ("Queue", "jobs", "local")
        assert kinds["COUNTER"][0] == "Durable Object"
        assert kinds["EXPORT"][0] == "Workflow"
        assert not any(b["overridden"] for b in worker["bindings"])
