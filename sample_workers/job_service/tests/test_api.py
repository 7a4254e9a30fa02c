"""The job service's HTTP API: creating, reading, listing, cancelling, stats and validation."""

from __future__ import annotations

import json

import pytest

from workerlab import limits

pytestmark = pytest.mark.workerlab(config="sample_workers/job_service/wrangler.toml")


async def test_health_answers_as_documented(api) -> None:
    status, body = await api.call("GET", "/health")
    assert status == 200
    assert body == {"status": "ok", "service": "queue", "timestamp": "2026-01-01T00:00:00.000Z"}


async def test_a_new_job_is_recorded_pending_and_queued(worker, api) -> None:
    job_id = await api.create("send-email", priority=4, maxAttempts=5)

    assert await api.get(job_id) == {
        "id": job_id,
        "type": "send-email",
        "status": "pending",
        "priority": 4,
        "attempts": 0,
        "maxAttempts": 5,
        "payload": api.payloads["send-email"],
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
    }
    [message] = worker.queues["jobs"].pending
    assert message.body == {"jobId": job_id, "run": 1, "priority": 4}


async def test_defaults_of_a_new_job(api) -> None:
    status, body = await api.call(
        "POST", "/jobs", json={"type": "generate-report", "payload": {"report": "daily-volume"}}
    )
    assert status == 202
    assert body["success"] is True
    assert body["message"] == "Job enqueued successfully"
    job = await api.get(body["jobId"])
    assert (job["priority"], job["maxAttempts"], job["attempts"]) == (0, 3, 0)


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, found list"),
        ('{"payload": {}}', "type is required"),
        ('{"type": "send-fax", "payload": {}}', 'unknown job type "send-fax"'),
        ('{"type": "send-email"}', "payload is required"),
        ('{"type": "send-email", "payload": "hi"}', "payload must be a JSON object"),
        ('{"type": "send-email", "payload": {}, "retries": 2}', "unknown field(s) retries"),
        (
            '{"type": "send-email", "payload": {"subject": "s", "text": "t"}}',
            "payload.to must be a non-empty string",
        ),
        (
            '{"type": "send-email", "payload": {"to": "ada", "subject": "s", "text": "t"}}',
            "payload.to must be an email",
        ),
        (
            '{"type": "send-email", "payload": {"to": "a@b.io", "subject": "s"}}',
            "payload needs the message: payload.body",
        ),
        ('{"type": "webhook-delivery", "payload": {"event": "x"}}', "payload.data must be a JSON object"),
        ('{"type": "webhook-delivery", "payload": {"event": "a b", "data": {}}}', "payload.event must be"),
        ('{"type": "batch-import", "payload": {"source": "crm", "records": []}}', "payload.records must be"),
        (
            '{"type": "generate-report", "payload": {"report": "sales"}}',
            "payload.report (or reportType) must be one of",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "job-activity", "days": 0}}',
            "payload.days must be",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "daily-volume"}, "priority": 11}',
            "priority must be",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "daily-volume"}, "priority": true}',
            "priority must be",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "daily-volume"}, "maxAttempts": 0}',
            "maxAttempts must be",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "daily-volume"}, "maxAttempts": 11}',
            "maxAttempts must be",
        ),
        (
            '{"type": "generate-report", "payload": {"report": "daily-volume"}, "delaySeconds": -1}',
            "delaySeconds must be",
        ),
        (
            json.dumps(
                {
                    "type": "generate-report",
                    "payload": {"report": "daily-volume"},
                    "delaySeconds": limits.MAX_DELAY_S + 1,
                }
            ),
            f"delaySeconds must be a whole number from 0 to {limits.MAX_DELAY_S}",
        ),
    ],
)
async def test_bad_input_is_a_400_with_a_json_error_and_nothing_is_stored(
    worker, api, request_body, fragment
) -> None:
    status, body = await api.call(
        "POST", "/jobs", body=request_body, headers={"content-type": "application/json"}
    )

    assert status == 400
    assert body["success"] is False
    assert fragment in body["error"]
    assert worker.queues["jobs"].pending == []
    assert (await api.call("GET", "/stats"))[1]["stats"]["total"] == 0


async def test_the_longest_delay_is_accepted(worker, api) -> None:
    job_id = await api.create("generate-report", delaySeconds=limits.MAX_DELAY_S)
    assert (await api.get(job_id))["status"] == "pending"
    assert len(worker.queues["jobs"].pending) == 1


async def test_a_payload_over_the_size_limit_is_refused(api) -> None:
    records = [{"id": i, "notes": "x" * 200} for i in range(400)]
    status, body = await api.call(
        "POST", "/jobs", json={"type": "batch-import", "payload": {"source": "s", "records": records}}
    )
    assert status == 400
    assert "bytes as JSON; the limit is 64000" in body["error"]


async def test_list_orders_by_priority_then_age(worker, api) -> None:
    low = await api.create("generate-report", priority=1)
    worker.clock.advance(1)
    high = await api.create("generate-report", priority=9)
    worker.clock.advance(1)
    middle_old = await api.create("send-email", priority=5)
    worker.clock.advance(1)
    middle_new = await api.create("generate-report", priority=5)

    status, body = await api.call("GET", "/jobs")
    assert status == 200
    assert body["count"] == 4
    assert [job["id"] for job in body["jobs"]] == [high, middle_old, middle_new, low]
    assert "payload" not in body["jobs"][0]


async def test_list_filters_by_status_and_type_and_limits(api) -> None:
    first = await api.create("generate-report")
    second = await api.create("generate-report")
    email = await api.create("send-email")
    await api.call("DELETE", f"/jobs/{second}")

    by_status = (await api.call("GET", "/jobs?status=cancelled"))[1]
    assert [job["id"] for job in by_status["jobs"]] == [second]
    by_type = (await api.call("GET", "/jobs?type=send-email"))[1]
    assert [job["id"] for job in by_type["jobs"]] == [email]
    both = (await api.call("GET", "/jobs?status=pending&type=generate-report"))[1]
    assert [job["id"] for job in both["jobs"]] == [first]
    limited = (await api.call("GET", "/jobs?limit=2&status=&type="))[1]
    assert limited["count"] == 2


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (
            "status=done",
            'unknown status "done"; expected one of pending, processing, completed, failed, cancelled',
        ),
        ("type=send-fax", 'unknown job type "send-fax"'),
        ("limit=0", "limit must be a whole number from 1 to 100"),
        ("limit=101", "limit must be a whole number from 1 to 100"),
        ("limit=ten", "limit must be a whole number"),
    ],
)
async def test_bad_list_filters_are_a_400(api, query, fragment) -> None:
    status, body = await api.call("GET", f"/jobs?{query}")
    assert status == 400
    assert body == {"success": False, "error": body["error"]}
    assert fragment in body["error"]


async def test_unknown_job_route_and_method(api) -> None:
    assert await api.call("GET", "/jobs/nope") == (404, {"success": False, "error": "no job with id nope"})
    assert (await api.call("GET", "/nowhere"))[0] == 404
    response = await api.worker.fetch("/jobs/abc", method="PUT")
    assert response.status == 405
    assert response.headers.get("allow") == "GET, DELETE"


async def test_cancel_a_pending_job(api) -> None:
    job_id = await api.create("send-email")

    status, body = await api.call("DELETE", f"/jobs/{job_id}")
    assert (status, body) == (200, {"success": True, "message": "Job cancelled"})
    job = await api.get(job_id)
    assert job["status"] == "cancelled"
    assert job["completedAt"] == "2026-01-01T00:00:00.000Z"

    again = await api.call("DELETE", f"/jobs/{job_id}")
    assert again == (
        409,
        {
            "success": False,
            "error": f"Only pending or running jobs can be cancelled; job {job_id} is cancelled",
        },
    )
    assert (await api.call("DELETE", "/jobs/nope"))[0] == 404


async def test_retry_only_applies_to_failed_jobs(api) -> None:
    job_id = await api.create("send-email")
    status, body = await api.call("POST", f"/jobs/{job_id}/retry")
    assert (status, body["error"]) == (409, f"Only failed jobs can be retried; job {job_id} is pending")
    assert (await api.call("POST", "/jobs/nope/retry"))[0] == 404


async def test_stats_on_an_empty_service(api) -> None:
    assert await api.call("GET", "/stats") == (
        200,
        {
            "success": True,
            "stats": {
                "total": 0,
                "pending": 0,
                "processing": 0,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "completionRate": "0.00%",
                "failureRate": "0.00%",
                "completionPercent": 0.0,
                "failurePercent": 0.0,
            },
        },
    )


async def test_a_missing_schema_is_explained(worker, api) -> None:
    await worker.env.DB.exec("DROP TABLE jobs")
    status, body = await api.call("GET", "/jobs")
    assert status == 500
    assert "no such table: jobs" in body["error"]
    assert "migrations apply DB" in body["error"]
    assert (await api.call("GET", "/health"))[0] == 503


class _RefusingQueue:
    async def send(self, body, **options) -> None:
        raise RuntimeError("Queue send failed: the queue is over its backlog limit")


async def test_a_job_the_queue_refuses_is_recorded_failed(worker, api, monkeypatch) -> None:
    monkeypatch.setattr(worker.env, "JOBS", _RefusingQueue())

    status, body = await api.call(
        "POST", "/jobs", json={"type": "send-email", "payload": api.payloads["send-email"]}
    )

    assert status == 503
    assert "could not be queued: Queue send failed" in body["error"]
    [job] = (await api.call("GET", "/jobs?status=failed"))[1]["jobs"]
    assert job["error"] == "Could not be queued: Queue send failed: the queue is over its backlog limit"
