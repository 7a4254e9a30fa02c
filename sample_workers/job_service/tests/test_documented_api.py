"""The job service as its documentation shows it: each job type's payload, the answers of every
route, priority, Workers AI through the AI binding, and cancelling a job while it runs."""

from __future__ import annotations

import json

import pytest
from job_service_fakes import FAKE_AI, SITE, WEBHOOK_TARGET

CONFIG = "sample_workers/job_service/wrangler.toml"
pytestmark = pytest.mark.workerlab(config=CONFIG)
WITH_AI = pytest.mark.workerlab(config=CONFIG, bindings={"AI": FAKE_AI})


async def test_enqueue_as_documented(worker, api) -> None:
    status, body = await api.call(
        "POST",
        "/jobs",
        json={
            "type": "send-email",
            "payload": {"to": "user@example.com", "subject": "Test", "body": "Hello!"},
            "priority": 5,
            "maxAttempts": 3,
        },
    )
    assert status == 202
    assert body == {"success": True, "jobId": body["jobId"], "message": "Job enqueued successfully"}
    assert len(body["jobId"]) == 36  # a UUID


async def test_a_finished_job_as_documented(worker, api, outbound) -> None:
    job_id = await api.create("send-email")
    await worker.drain()

    job = await api.get(job_id)
    documented = {"id", "type", "status", "attempts", "maxAttempts", "result", "createdAt", "completedAt"}
    assert documented <= set(job)
    assert (job["type"], job["status"], job["attempts"], job["maxAttempts"]) == (
        "send-email",
        "completed",
        1,
        3,
    )
    assert job["result"]["sent"] is True


@pytest.mark.parametrize(
    ("job_type", "payload"),
    [
        (
            "send-email",
            {"to": "user@example.com", "subject": "Welcome!", "body": "Welcome to our service..."},
        ),
        ("generate-embedding", {"text": "Text to embed", "model": "@cf/baai/bge-base-en-v1.5"}),
        ("crawl-website", {"url": "https://example.com", "maxPages": 100}),
        (
            "generate-content",
            {"prompt": "Write a blog post about...", "model": "@cf/meta/llama-3.1-8b-instruct"},
        ),
        ("batch-import", {"items": [{"sku": "A-1"}, {"sku": "B-2"}], "namespace": "products"}),
        ("webhook-delivery", {"url": "https://api.example.com/webhook", "method": "POST", "body": {"a": 1}}),
    ],
)
@WITH_AI
async def test_every_documented_payload_is_accepted_and_runs(
    worker, api, outbound, fake_ai, job_type, payload
) -> None:
    status, body = await api.call("POST", "/jobs", json={"type": job_type, "payload": payload})
    assert status == 202, body
    await worker.drain()
    job = await api.get(body["jobId"])
    assert job["status"] == "completed", job.get("error")


async def test_a_webhook_goes_to_the_payloads_url_with_its_method_and_body(worker, api, outbound) -> None:
    job_id = await api.create(
        "webhook-delivery", payload={"url": WEBHOOK_TARGET, "method": "PUT", "body": {"order": 42}}
    )
    await worker.drain()

    request = outbound["target"].calls.last.request
    assert (request.method, json.loads(request.content)) == ("PUT", {"order": 42})
    assert request.headers["x-webhook-id"] == job_id
    assert (await api.get(job_id))["result"] == {
        "deliveredTo": WEBHOOK_TARGET,
        "method": "PUT",
        "status": 200,
    }


async def test_a_batch_import_of_items_upserts_them_into_the_namespace(worker, api) -> None:
    items = [{"id": "lamp", "price": 10}, {"sku": "no-id"}, {"sku": "no-id"}]
    job_id = await api.create("batch-import", payload={"items": items, "namespace": "products"})
    await worker.drain()

    result = (await api.get(job_id))["result"]
    assert (result["namespace"], result["imported"], result["skipped"]) == ("products", 3, 0)
    rows = (await worker.env.DB.prepare("SELECT source, record_id FROM imported_records").all())["results"]
    # An item without an id is keyed by its content: the same item twice is one row.
    assert len(rows) == 2 and {row["source"] for row in rows} == {"products"}


@WITH_AI
async def test_embeddings_and_content_come_from_the_ai_binding(worker, api, fake_ai) -> None:
    embedding_id = await api.create("generate-embedding", payload={"text": "hello"})
    content_id = await api.create("generate-content", payload={"prompt": "Write a haiku"})
    await worker.drain()

    assert (await api.get(embedding_id))["result"] == {
        "model": "@cf/baai/bge-base-en-v1.5",
        "dimensions": 3,
        "embedding": [0.25, -0.5, 1.0],
    }
    assert (await api.get(content_id))["result"] == {
        "model": "@cf/meta/llama-3.1-8b-instruct",
        "response": "A post about Write a haiku",
    }
    assert fake_ai.calls == [
        ("@cf/baai/bge-base-en-v1.5", {"text": ["hello"]}),
        ("@cf/meta/llama-3.1-8b-instruct", {"prompt": "Write a haiku"}),
    ]


async def test_without_workers_ai_an_ai_job_fails_at_once_saying_why(worker, api) -> None:
    job_id = await api.create("generate-content", maxAttempts=3)
    await worker.drain()

    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert "generate-content: Workers AI (@cf/meta/llama-3.1-8b-instruct)" in job["error"]
    assert "has no local equivalent" in job["error"]
    assert "retrying cannot help" in job["error"]


async def test_a_crawl_follows_the_sites_own_links_and_records_each_page(worker, api, outbound) -> None:
    job_id = await api.create("crawl-website", payload={"url": SITE, "maxPages": 5})
    await worker.drain()

    result = (await api.get(job_id))["result"]
    assert result["pagesCrawled"] == 2
    assert [(page["url"], page["title"]) for page in result["pages"]] == [
        (f"{SITE}/", "Example"),
        (f"{SITE}/about", "About us"),
    ]
    rows = (await worker.env.DB.prepare("SELECT url, status FROM crawled_pages ORDER BY url").all())[
        "results"
    ]
    assert [(row["url"], row["status"]) for row in rows] == [(f"{SITE}/", 200), (f"{SITE}/about", 200)]


async def test_a_crawl_stops_at_max_pages(worker, api, outbound) -> None:
    job_id = await api.create("crawl-website", payload={"url": SITE, "maxPages": 1})
    await worker.drain()
    assert (await api.get(job_id))["result"]["pagesCrawled"] == 1


async def test_waiting_high_priority_jobs_go_before_ordinary_ones(worker, api, outbound) -> None:
    ordinary = [await api.create("send-email", delaySeconds=60) for _ in range(3)]
    urgent = await api.create("send-email", delaySeconds=60, priority=9)

    await worker.drain()

    keys = [call.request.headers["idempotency-key"] for call in outbound["email"].calls]
    assert keys[0] == f"{urgent}-1"
    assert sorted(keys[1:]) == sorted(f"{job_id}-1" for job_id in ordinary)
    assert [m.body["jobId"] for m in worker.queues["jobs-high"].acked] == [urgent]


@WITH_AI
async def test_a_job_cancelled_while_it_runs_is_never_marked_completed(worker, api, fake_ai) -> None:
    job_id = await api.create("generate-content")

    async def cancel_meanwhile() -> None:
        assert (await api.get(job_id))["status"] == "processing"
        assert await api.call("DELETE", f"/jobs/{job_id}") == (
            200,
            {"success": True, "message": "Job cancelled"},
        )

    fake_ai.during = cancel_meanwhile
    await worker.drain()

    job = await api.get(job_id)
    assert job["status"] == "cancelled"
    assert "result" not in job
    assert worker.queues["jobs"].pending == []


async def test_retry_and_cancel_answer_as_documented(worker, api, outbound) -> None:
    outbound["email"].respond(500)
    job_id = await api.create("send-email", maxAttempts=1)
    await worker.drain()

    assert await api.call("POST", f"/jobs/{job_id}/retry") == (
        202,
        {"success": True, "message": "Job retry queued"},
    )
    assert await api.call("DELETE", f"/jobs/{job_id}") == (200, {"success": True, "message": "Job cancelled"})


async def test_stats_show_rates_as_percentages_and_as_numbers(worker, api, outbound) -> None:
    outbound["email"].respond(422)
    for _ in range(2):
        await api.create("generate-report")
    await api.create("send-email")
    await worker.drain()

    stats = (await api.call("GET", "/stats"))[1]["stats"]
    assert (stats["total"], stats["completed"], stats["failed"]) == (3, 2, 1)
    assert (stats["completionRate"], stats["failureRate"]) == ("66.67%", "33.33%")
    assert (stats["completionPercent"], stats["failurePercent"]) == (66.67, 33.33)


async def test_a_monthly_report_as_the_sdk_examples_ask_for_it(worker, api) -> None:
    job_id = await api.create(
        "generate-report", payload={"reportType": "monthly", "month": "2026-01", "userId": "user-123"}
    )
    await worker.drain()
    result = (await api.get(job_id))["result"]
    assert (result["report"], result["month"]) == ("monthly", "2026-01")
    assert result["rows"] == [{"type": "generate-report", "status": "processing", "count": 1}]
