"""Jobs through the queue: success, retries with backoff, maxAttempts, dead letters, cancel and retry."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from workerlab.config import load_config

CONFIG = "sample_workers/job_service/wrangler.toml"
pytestmark = pytest.mark.workerlab(config=CONFIG)

JOBS_CONSUMER = next(
    c for c in load_config(Path(__file__).parents[1] / "wrangler.toml").consumers if c.queue == "jobs"
)


# --- success path --------------------------------------------------------------------------


@pytest.mark.workerlab(config=CONFIG, vars={"EMAIL_API_KEY": "key-123"})
async def test_an_email_job_is_sent_and_completed(worker, api, outbound) -> None:
    job_id = await api.create("send-email")
    await worker.advance(JOBS_CONSUMER.max_batch_timeout_s)

    job = await api.get(job_id)
    assert job["status"] == "completed"
    assert job["attempts"] == 1
    assert job["result"] == {"sent": True, "to": "user@example.com", "providerMessageId": "msg_1"}
    assert job["completedAt"] == "2026-01-01T00:00:01.000Z"
    assert "error" not in job
    [call] = outbound["email"].calls
    assert json.loads(call.request.content) == {
        "from": "jobs@example.com",
        "to": "user@example.com",
        "subject": "Welcome!",
        "text": "Welcome to our service...",
    }
    assert call.request.headers["authorization"] == "Bearer key-123"
    assert call.request.headers["idempotency-key"] == f"{job_id}-1"
    assert [m.body["jobId"] for m in worker.queues["jobs"].acked] == [job_id]


@pytest.mark.workerlab(config=CONFIG, vars={"WEBHOOK_SECRET": "s3cret"})
async def test_an_event_is_delivered_signed_to_the_configured_receiver(worker, api, outbound) -> None:
    job_id = await api.create("webhook-delivery", payload={"event": "order.created", "data": {"orderId": 42}})
    await worker.drain()

    assert (await api.get(job_id))["result"] == {
        "deliveredTo": worker.env.WEBHOOK_URL,
        "method": "POST",
        "status": 204,
    }
    request = outbound["webhook"].calls.last.request
    assert json.loads(request.content) == {"id": job_id, "event": "order.created", "data": {"orderId": 42}}
    assert request.headers["x-webhook-event"] == "order.created"
    assert request.headers["x-webhook-id"] == job_id
    expected = hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-webhook-signature"] == f"sha256={expected}"


async def test_a_batch_import_upserts_valid_records_and_reports_the_rest(worker, api) -> None:
    records = [{"id": 1, "name": "Ada"}, {"id": True}, "not an object", {"id": 1, "name": "Ada L."}]
    job_id = await api.create("batch-import", payload={"source": "crm", "records": records})
    await worker.drain()

    job = await api.get(job_id)
    assert job["status"] == "completed"
    assert (job["result"]["namespace"], job["result"]["imported"], job["result"]["skipped"]) == ("crm", 2, 2)
    assert [p["index"] for p in job["result"]["problems"]] == [1, 2]
    rows = (await worker.env.DB.prepare("SELECT record_id, data FROM imported_records").all())["results"]
    assert [(r["record_id"], json.loads(r["data"])["name"]) for r in rows] == [("1", "Ada L.")]


async def test_a_batch_import_without_a_valid_record_fails_at_once(worker, api) -> None:
    job_id = await api.create("batch-import", payload={"namespace": "crm", "items": [7, "x"]}, maxAttempts=5)
    await worker.drain()

    job = await api.get(job_id)
    assert job["status"] == "failed"
    assert job["attempts"] == 1
    assert "retrying cannot help" in job["error"]


async def test_a_report_summarises_the_job_records(worker, api, outbound) -> None:
    await api.create("send-email")
    await api.create("send-email")
    await worker.drain()
    report_id = await api.create("generate-report", payload={"report": "job-activity", "days": 1})
    daily_id = await api.create("generate-report", payload={"report": "daily-volume"})
    await worker.drain()

    assert (await api.get(report_id))["result"] == {
        "report": "job-activity",
        "days": 1,
        "rows": [
            {"type": "generate-report", "status": "pending", "count": 1},
            {"type": "generate-report", "status": "processing", "count": 1},
            {"type": "send-email", "status": "completed", "count": 2},
        ],
    }
    daily = (await api.get(daily_id))["result"]["rows"]
    assert daily == [{"day": "2026-01-01", "created": 4, "completed": 3, "failed": 0}]


async def test_a_delayed_job_waits_for_its_delay(worker, api, outbound) -> None:
    job_id = await api.create("send-email", delaySeconds=60)

    await worker.advance(59)
    assert (await api.get(job_id))["status"] == "pending"
    assert not outbound["email"].called
    await worker.advance(1 + JOBS_CONSUMER.max_batch_timeout_s)
    assert (await api.get(job_id))["status"] == "completed"


async def test_higher_priority_goes_first_within_a_batch(worker, api, outbound) -> None:
    for priority in (1, 4, 3):
        await api.create("webhook-delivery", payload={"event": f"p{priority}", "data": {}}, priority=priority)
    await worker.drain()

    assert len(worker.queues["jobs"].deliveries) == 3
    events = [call.request.headers["x-webhook-event"] for call in outbound["webhook"].calls]
    assert events == ["p4", "p3", "p1"]


# --- retry path ----------------------------------------------------------------------------


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(worker, api, outbound) -> None:
    outbound["email"].side_effect = [
        httpx.Response(503, text="busy"),
        httpx.ConnectError("connection refused"),
        httpx.Response(200, json={"id": "msg_9"}),
    ]
    job_id = await api.create("send-email")

    await worker.advance(JOBS_CONSUMER.max_batch_timeout_s)
    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert job["error"].startswith(
        "Attempt 1 of 3 failed: send-email: https://email.example.com/v1/messages answered 503"
    )
    assert job["error"].endswith("(next attempt in 10 s)")

    # The first backoff is 10 s: nothing before it, the second attempt right after it.
    await worker.advance(9)
    assert outbound["email"].call_count == 1
    await worker.advance(1 + JOBS_CONSUMER.max_batch_timeout_s)
    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("pending", 2)
    assert "could not reach" in job["error"]
    assert job["error"].endswith("(next attempt in 20 s)")

    await worker.advance(19)
    assert outbound["email"].call_count == 2
    await worker.advance(1 + JOBS_CONSUMER.max_batch_timeout_s)
    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("completed", 3)
    assert job["result"]["providerMessageId"] == "msg_9"
    assert "error" not in job
    assert [m.attempts for m in worker.queues["jobs"].deliveries] == [1, 2, 3]


async def test_max_attempts_is_honoured_then_the_job_fails(worker, api, outbound) -> None:
    outbound["email"].respond(500, text="down")
    job_id = await api.create("send-email", maxAttempts=4)
    await worker.drain()

    job = await api.get(job_id)
    assert job["status"] == "failed"
    assert job["attempts"] == 4
    assert job["error"].startswith("Attempt 4 of 4 failed: send-email:")
    assert outbound["email"].call_count == 4
    # The consumer gave up itself: the message was acked, not dead-lettered.
    assert worker.queues["jobs"].dead_lettered == []
    assert worker.queues["jobs"].pending == []


async def test_a_refusal_that_retrying_cannot_fix_fails_at_once(worker, api, outbound) -> None:
    outbound["email"].respond(422, json={"message": "mailbox does not exist"})
    job_id = await api.create("send-email", maxAttempts=5)
    await worker.drain()

    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert "answered 422" in job["error"]
    assert "retrying cannot help" in job["error"]


async def test_a_failed_job_can_be_retried(worker, api, outbound) -> None:
    outbound["email"].side_effect = [httpx.Response(500), httpx.Response(200, json={"id": "msg_2"})]
    job_id = await api.create("send-email", maxAttempts=1)
    await worker.drain()
    assert (await api.get(job_id))["status"] == "failed"

    status, body = await api.call("POST", f"/jobs/{job_id}/retry")
    assert (status, body) == (202, {"success": True, "message": "Job retry queued"})
    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("pending", 0)
    assert "error" not in job and "completedAt" not in job

    await worker.drain()
    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("completed", 1)
    # A new run: the provider sees a new idempotency key.
    keys = [call.request.headers["idempotency-key"] for call in outbound["email"].calls]
    assert keys == [f"{job_id}-1", f"{job_id}-2"]


# --- cancel and at-least-once --------------------------------------------------------------


async def test_a_cancelled_job_never_runs(worker, api, outbound) -> None:
    job_id = await api.create("send-email", delaySeconds=30)
    await api.call("DELETE", f"/jobs/{job_id}")
    await worker.drain()

    assert not outbound["email"].called
    assert (await api.get(job_id))["status"] == "cancelled"
    assert len(worker.queues["jobs"].acked) == 1


async def test_a_job_waiting_for_its_next_attempt_can_be_cancelled(worker, api, outbound) -> None:
    outbound["email"].respond(503)
    job_id = await api.create("send-email")
    await worker.advance(JOBS_CONSUMER.max_batch_timeout_s)
    assert (await api.get(job_id))["status"] == "pending"

    assert (await api.call("DELETE", f"/jobs/{job_id}"))[0] == 200
    await worker.drain()
    assert outbound["email"].call_count == 1
    assert (await api.get(job_id))["status"] == "cancelled"


async def test_a_repeated_delivery_does_not_run_a_finished_job_again(worker, api, outbound) -> None:
    job_id = await api.create("send-email")
    await worker.drain()
    [delivered] = worker.queues["jobs"].deliveries

    result = await worker.queue("jobs", [delivered.body])

    assert result.outcome == "ok"
    assert len(result.explicit_acks) == 1
    assert outbound["email"].call_count == 1
    assert (await api.get(job_id))["attempts"] == 1


async def test_a_redelivery_after_a_crash_mid_job_runs_it_again_harmlessly(worker, api) -> None:
    job_id = await api.create("batch-import")
    await worker.drain()
    # As if the consumer had died after importing and before recording it: the job is still processing.
    await worker.env.DB.prepare("UPDATE jobs SET status = 'processing' WHERE id = ?").bind(job_id).run()

    await worker.queue("jobs", [{"jobId": job_id, "run": 1, "priority": 0}])

    job = await api.get(job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)
    count = await worker.env.DB.prepare("SELECT COUNT(*) AS n FROM imported_records").first("n")
    assert count == len(api.payloads["batch-import"]["items"])


# --- dead-letter path ----------------------------------------------------------------------


async def test_a_job_whose_deliveries_keep_failing_is_dead_lettered_and_marked_failed(worker, api) -> None:
    job_id = await api.create("generate-report")
    # D1 refuses to start this job: every delivery fails before the job runs.
    await worker.env.DB.exec(
        "CREATE TRIGGER refuse_start BEFORE UPDATE OF status ON jobs WHEN NEW.status = 'processing' "
        "BEGIN SELECT RAISE(ABORT, 'database is read-only for maintenance'); END"
    )
    await worker.drain()

    jobs_queue = worker.queues["jobs"]
    assert [m.body["jobId"] for m in jobs_queue.dead_lettered] == [job_id]
    assert len(jobs_queue.deliveries) == JOBS_CONSUMER.max_retries + 1
    assert [m.body["jobId"] for m in worker.queues["jobs-dlq"].acked] == [job_id]
    job = await api.get(job_id)
    assert job["status"] == "failed"
    assert job["attempts"] == 0
    assert job["error"].startswith("Gave up: the queue moved this job to the dead-letter queue")
    assert "database is read-only for maintenance" in job["error"]


async def test_a_malformed_message_ends_in_the_dead_letter_queue_and_is_dropped_there(worker) -> None:
    await worker.env.JOBS.send({"job": "nope"})
    await worker.drain()

    assert len(worker.queues["jobs"].dead_lettered) == 1
    assert len(worker.queues["jobs-dlq"].acked) == 1
    assert worker.queues["jobs-dlq"].pending == []


async def test_the_dead_letter_consumer_leaves_finished_and_newer_runs_alone(worker, api, outbound) -> None:
    outbound["email"].side_effect = [httpx.Response(500), httpx.Response(200, json={"id": "m"})]
    job_id = await api.create("send-email", maxAttempts=1)
    await worker.drain()
    await api.call("POST", f"/jobs/{job_id}/retry")

    # A late dead letter from run 1 must not fail run 2.
    result = await worker.queue("jobs-dlq", [{"jobId": job_id, "run": 1}])
    assert len(result.explicit_acks) == 1
    assert (await api.get(job_id))["status"] == "pending"

    await worker.drain()
    await worker.queue("jobs-dlq", [{"jobId": job_id, "run": 2}])
    assert (await api.get(job_id))["status"] == "completed"


async def test_the_dead_letter_consumer_fails_a_pending_job(worker, api) -> None:
    job_id = await api.create("send-email")

    result = await worker.queue("jobs-dlq", [{"jobId": job_id, "run": 1, "priority": 0}])

    assert result.outcome == "ok"
    job = await api.get(job_id)
    assert job["status"] == "failed"
    assert (
        job["error"]
        == "Gave up: the queue moved this job to the dead-letter queue after repeated delivery failures"
    )
