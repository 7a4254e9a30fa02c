"""Queues as the inspector shows them: counts, dead-letter relations, pages of messages by cursor,
and the actions: send, pause, resume, purge, redrive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_inspector_support import API, Inspected, inspected


async def queue(shop: Inspected, name: str) -> dict[str, Any]:
    queues = {q["name"]: q for q in (await shop.get("queues"))["queues"]}
    return queues[name]


async def send(shop: Inspected, name: str, body: Any, **options: Any) -> None:
    answer = await shop.post(f"queues/{name}/send", {"body": body, **options})
    assert answer.status_code == 200, answer.text


async def test_every_queue_with_its_counts_and_relations(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        jobs, dlq = (await shop.get("queues"))["queues"]
        assert (jobs["name"], dlq["name"]) == ("jobs", "jobs-dlq")
        assert jobs["consumer"] == {"worker": "shop", "max_retries": 1, "type": "worker"}
        assert jobs["dead_letter_queue"] == "jobs-dlq" and dlq["dead_letter_of"] == ["jobs"]
        assert jobs["producers"] == [{"worker": "shop", "binding": "JOBS"}]
        assert dlq["consumer"] is None
        assert (jobs["pending"], jobs["delayed"], jobs["in_flight"], jobs["paused"]) == (0, 0, 0, False)
        await send(shop, "jobs-dlq", {"n": 1})
        await send(shop, "jobs-dlq", {"n": 2}, delay_seconds=60)
        dlq = await queue(shop, "jobs-dlq")
        assert (dlq["pending"], dlq["ready"], dlq["delayed"]) == (2, 1, 1)


async def test_messages_page_by_page(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        for index in range(120):
            await send(shop, "jobs-dlq", {"n": index})
        await send(shop, "jobs-dlq", "later", content_type="text", delay_seconds=30)
        seen: list[Any] = []
        cursor = ""
        pages = 0
        while True:
            page = await shop.get(f"queues/jobs-dlq/messages?limit=50&cursor={cursor}")
            pages += 1
            seen += [m["body"] for m in page["messages"]]
            if page["cursor"] is None:
                break
            cursor = page["cursor"]
        assert pages == 3
        assert seen == [{"n": index} for index in range(120)] + ["later"]
        first = (await shop.get("queues/jobs-dlq/messages?limit=1"))["messages"][0]
        assert (first["state"], first["attempts"], first["content_type"]) == ("ready", 0, "json")
        assert first["preview"] == '{"n": 0}' and len(first["id"]) == 32
        last = (await shop.get("queues/jobs-dlq/messages?limit=500"))["messages"][-1]
        assert last["state"] == "delayed" and last["next_delivery"] == "2026-01-01T00:00:30+00:00"


async def test_bad_pages_and_unknown_queues_are_refused(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        bad = await shop.client.get(API + "queues/jobs/messages?cursor=nonsense")
        assert bad.status_code == 400 and "not a cursor" in bad.json()["error"]["message"]
        too_many = await shop.client.get(API + "queues/jobs/messages?limit=100000")
        assert too_many.status_code == 400
        unknown = await shop.client.get(API + "queues/nope/messages")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["message"] == (
            "No queue named 'nope' is configured or holds messages (queues: jobs, jobs-dlq)"
        )
        assert (await shop.post("queues/nope/purge")).status_code == 404


async def test_send_checks_what_it_sends(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        missing = await shop.post("queues/jobs/send", {})
        assert missing.status_code == 400 and '"body"' in missing.json()["error"]["message"]
        bad_type = await shop.post("queues/jobs/send", {"body": "x", "content_type": "v8"})
        assert bad_type.status_code == 400 and "json, text" in bad_type.json()["error"]["message"]
        too_late = await shop.post("queues/jobs/send", {"body": "x", "delay_seconds": 50_000})
        assert too_late.status_code == 400 and "43200" in too_late.json()["error"]["message"]


async def test_pause_keeps_messages_and_resume_delivers_them(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        paused = await shop.post("queues/jobs/pause")
        assert paused.json() == {"paused": True, "changed": True}
        await send(shop, "jobs", {"job": "held"})
        await shop.settle()
        jobs = await queue(shop, "jobs")
        assert (jobs["paused"], jobs["pending"]) == (True, 1)
        again = await shop.post("queues/jobs/pause")
        assert again.json() == {"paused": True, "changed": False}
        assert (await shop.post("queues/jobs/resume")).json() == {"paused": False, "changed": True}
        await shop.settle()
        jobs = await queue(shop, "jobs")
        assert (jobs["paused"], jobs["pending"]) == (False, 0)
        titles = [e["title"] for e in (await shop.get("timeline"))["entries"]]
        assert "Paused delivery of jobs" in titles and "Resumed delivery of jobs" in titles
        assert titles[-1] == "QUEUE jobs 1/1"


async def test_purge_deletes_every_message(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        for index in range(5):
            await send(shop, "jobs-dlq", index)
        answer = await shop.post("queues/jobs-dlq/purge")
        assert answer.json() == {"purged": 5}
        assert (await queue(shop, "jobs-dlq"))["pending"] == 0
        assert (await shop.get("queues/jobs-dlq/messages"))["messages"] == []


async def test_redrive_moves_dead_letters_back_with_their_ids(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        await shop.visit("/job?name=doomed&fail=1")
        await shop.settle()  # two failed attempts: to jobs-dlq
        (dead,) = (await shop.get("queues/jobs-dlq/messages"))["messages"]
        assert dead["body"] == {"job": "doomed", "fail": True}
        await shop.post("queues/jobs/pause")  # so that it waits in jobs instead of failing again
        moved = await shop.post("queues/jobs-dlq/redrive", {"to": "jobs"})
        assert moved.json() == {"moved": 1}
        (back,) = (await shop.get("queues/jobs/messages"))["messages"]
        assert (back["id"], back["attempts"]) == (dead["id"], 0)
        assert (await queue(shop, "jobs-dlq"))["pending"] == 0
        timeline = await shop.get(f"timeline?message={dead['id']}")
        assert [e["kind"] for e in timeline["entries"]] == ["batch", "batch", "dead_letter"]


async def test_redrive_refuses_what_would_lose_messages(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        nowhere = await shop.post("queues/jobs-dlq/redrive", {"to": "jbos"})
        assert nowhere.status_code == 400
        assert (
            nowhere.json()["error"]["message"]
            == "Cannot redrive to 'jbos': no such queue (queues: jobs, jobs-dlq)"
        )
        itself = await shop.post("queues/jobs-dlq/redrive", {"to": "jobs-dlq"})
        assert itself.status_code == 400 and "must differ" in itself.json()["error"]["message"]
        no_target = await shop.post("queues/jobs-dlq/redrive", {})
        assert no_target.status_code == 400 and '"to"' in no_target.json()["error"]["message"]
        bad_limit = await shop.post("queues/jobs-dlq/redrive", {"to": "jobs", "limit": "all"})
        assert bad_limit.status_code == 400


async def test_dropped_messages_of_a_queue(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        assert (await shop.get("queues/jobs/dropped"))["messages"] == []
