"""jobs_sdk: enqueue, get, list and cancel jobs; each job's own retry policy; long delays in hops."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.workerlab(config="sample_workers/jobs_sdk/wrangler.toml")

DAY_S = 86_400


def jobs_of(worker: Any, sdk: Any) -> Any:
    return worker.runtime.worker.module.make_jobs(worker.env)


async def test_enqueue_records_a_pending_job_and_returns_its_id(worker, sdk) -> None:
    jobs = jobs_of(worker, sdk)
    job_id = await jobs.enqueue("send-email", {"to": "jane@example.com"}, delay_seconds=60, max_retries=5)

    assert await jobs.get_job(job_id) == {
        "id": job_id,
        "type": "send-email",
        "status": "pending",
        "payload": {"to": "jane@example.com"},
        "attempts": 0,
        "maxRetries": 5,
        "retryDelay": 0,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "scheduledAt": "2026-01-01T00:01:00.000Z",
    }
    assert await jobs.get_job("missing") is None
    [message] = worker.queues["sdk-jobs"].pending
    assert message.body == {"jobId": job_id, "type": "send-email"}


async def test_a_job_runs_after_its_delay_and_completes(worker, sdk, provider) -> None:
    jobs = jobs_of(worker, sdk)
    job_id = await jobs.send("send-email", {"template": "welcome"}, delay_seconds=30)

    await worker.advance(29)
    assert (await jobs.get_job(job_id))["status"] == "pending"
    await worker.advance(1)

    job = await jobs.get_job(job_id)
    assert (job["status"], job["attempts"], job["result"]) == (
        "completed",
        1,
        {"sent": True, "template": "welcome"},
    )
    assert job["completedAt"] == "2026-01-01T00:00:30.000Z"
    assert json.loads(provider.calls.last.request.content) == {"template": "welcome"}


async def test_each_job_keeps_its_own_retry_policy(worker, sdk, provider) -> None:
    provider.respond(500)
    jobs = jobs_of(worker, sdk)
    patient = await jobs.enqueue("send-email", {"n": 1}, max_retries=2, retry_delay=30)
    hasty = await jobs.enqueue("send-email", {"n": 2}, max_retries=0)

    await worker.advance(0)
    assert (await jobs.get_job(hasty))["status"] == "failed"
    job = await jobs.get_job(patient)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert job["error"] == "Attempt 1 of 3 failed: RuntimeError: the email provider answered 500"

    await worker.advance(29)
    assert (await jobs.get_job(patient))["attempts"] == 1
    await worker.advance(1)
    assert (await jobs.get_job(patient))["attempts"] == 2
    await worker.drain()

    job = await jobs.get_job(patient)
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["error"].startswith("Failed after 3 attempt(s)")
    assert provider.call_count == 4  # three for the patient job, one for the hasty one
    assert worker.queues["sdk-jobs"].dead_lettered == []


async def test_a_retry_that_succeeds_completes_the_job(worker, sdk, provider) -> None:
    provider.side_effect = [httpx.Response(503), httpx.Response(202)]
    jobs = jobs_of(worker, sdk)
    job_id = await jobs.enqueue("send-email", {}, max_retries=1, retry_delay=5)
    await worker.drain()
    job = await jobs.get_job(job_id)
    assert (job["status"], job["attempts"]) == ("completed", 2)
    assert "error" not in job


async def test_a_type_without_a_handler_fails_by_its_policy(worker, sdk) -> None:
    jobs = jobs_of(worker, sdk)
    job_id = await jobs.enqueue("resize-image", {"id": 1}, max_retries=1)
    await worker.drain()
    job = await jobs.get_job(job_id)
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert "no handler for job type 'resize-image'" in job["error"]


async def test_list_jobs_filters_by_type_and_status_and_limits(worker, sdk) -> None:
    jobs = jobs_of(worker, sdk)
    first = await jobs.enqueue("send-email", {}, delay_seconds=600)
    worker.clock.advance(1)
    second = await jobs.enqueue("send-email", {}, delay_seconds=600)
    worker.clock.advance(1)
    other = await jobs.enqueue("report", {}, delay_seconds=600)
    await jobs.cancel_job(second)

    assert [j["id"] for j in await jobs.list_jobs()] == [first, second, other]
    assert [j["id"] for j in await jobs.list_jobs(type="send-email", status="pending")] == [first]
    assert [j["id"] for j in await jobs.list_jobs(status="cancelled")] == [second]
    assert [j["id"] for j in await jobs.list_jobs(limit=1)] == [first]
    with pytest.raises(ValueError, match="status must be one of"):
        await jobs.list_jobs(status="done")


async def test_a_cancelled_job_never_runs(worker, sdk, provider) -> None:
    jobs = jobs_of(worker, sdk)
    job_id = await jobs.enqueue("send-email", {}, delay_seconds=10)
    assert await jobs.cancel_job(job_id) is True
    assert await jobs.cancel_job(job_id) is False
    await worker.drain()
    assert (await jobs.get_job(job_id))["status"] == "cancelled"
    assert not provider.called


async def test_delays_longer_than_a_message_can_wait_are_reached_in_hops(worker, sdk, provider) -> None:
    response = await worker.fetch("/signup", method="POST", json={"email": "ada@example.com", "name": "Ada"})
    welcome, tip_1, tip_2 = (await response.json())["jobIds"]
    jobs = jobs_of(worker, sdk)

    await worker.advance(0)
    assert [(await jobs.get_job(j))["status"] for j in (welcome, tip_1, tip_2)] == [
        "completed",
        "pending",
        "pending",
    ]
    await worker.advance(DAY_S - 1)
    assert (await jobs.get_job(tip_1))["status"] == "pending"
    await worker.advance(1)
    assert (await jobs.get_job(tip_1))["status"] == "completed"
    await worker.advance(2 * DAY_S)

    job = await jobs.get_job(tip_2)
    assert (job["status"], job["attempts"], job["completedAt"]) == (
        "completed",
        1,
        "2026-01-04T00:00:00.000Z",
    )
    assert [json.loads(c.request.content)["template"] for c in provider.calls] == [
        "welcome",
        "onboarding-tip-1",
        "onboarding-tip-2",
    ]


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"job_type": ""}, "the job type must be a non-empty string"),
        ({"delay_seconds": -1}, "delay_seconds must be a whole number from 0 to 2592000"),
        ({"max_retries": 101}, "max_retries must be a whole number from 0 to 100"),
        ({"retry_delay": 43_201}, "retry_delay must be a whole number from 0 to 43200"),
    ],
)
async def test_bad_arguments_raise_before_anything_is_stored(worker, sdk, arguments, fragment) -> None:
    jobs = jobs_of(worker, sdk)
    call = {"job_type": "send-email", "payload": {}, **arguments}
    with pytest.raises(ValueError, match=fragment):
        await jobs.enqueue(call.pop("job_type"), call.pop("payload"), **call)
    assert await jobs.list_jobs() == []
    assert worker.queues["sdk-jobs"].pending == []


async def test_the_http_api_of_the_example_worker(worker, sdk, provider) -> None:
    response = await worker.fetch(
        "/jobs",
        method="POST",
        json={"type": "send-email", "payload": {"x": 1}, "maxRetries": 4, "retryDelay": 9},
    )
    job_id = (await response.json())["jobId"]
    job = (await (await worker.fetch(f"/jobs/{job_id}")).json())["job"]
    assert (job["maxRetries"], job["retryDelay"]) == (4, 9)
    listed = await (await worker.fetch("/jobs?type=send-email&status=pending&limit=5")).json()
    assert listed["count"] == 1
    cancelled = await worker.fetch(f"/jobs/{job_id}", method="DELETE")
    assert await cancelled.json() == {"success": True, "message": "Job cancelled"}
    bad = await worker.fetch("/jobs", method="POST", json={"type": "x", "maxRetries": -1})
    assert bad.status == 400
