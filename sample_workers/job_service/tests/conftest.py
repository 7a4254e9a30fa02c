"""Shared set-up of the job service tests: the schema, the clock, and the mocked outbound endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import respx

CONFIG = "sample_workers/job_service/wrangler.toml"


@pytest.fixture(autouse=True)
async def service(worker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The worker (its schema applied by the harness) with its notion of "now" on the fake clock."""
    # Job timestamps come from the worker's own now_ms(); follow the fake clock so tests control them.
    monkeypatch.setattr(worker.module, "now_ms", worker.clock.now_ms)
    return worker


@pytest.fixture
def outbound(worker: Any) -> Iterator[respx.MockRouter]:
    """respx routes for the email API and the webhook receiver named in the worker's vars; both answer 200."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(worker.env.EMAIL_API_URL, name="email").respond(200, json={"id": "msg_1"})
        router.post(worker.env.WEBHOOK_URL, name="webhook").respond(204)
        yield router


#: A valid payload per job type.
PAYLOADS: dict[str, dict[str, Any]] = {
    "send-email": {"to": "ada@example.com", "subject": "Welcome", "text": "Hello Ada"},
    "webhook-delivery": {"event": "order.created", "data": {"orderId": 42}},
    "batch-import": {"source": "crm", "records": [{"id": 1, "name": "Ada"}, {"id": "b", "name": "Grace"}]},
    "generate-report": {"report": "job-activity", "days": 7},
}


class JobsAPI:
    """Shortcuts for the HTTP API of the job service under test."""

    payloads = PAYLOADS

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    async def create(self, job_type: str = "send-email", **spec: Any) -> str:
        """POST /jobs (with the type's sample payload unless one is given); the new job's id."""
        spec = {"type": job_type, "payload": PAYLOADS[job_type], **spec}
        response = await self.worker.fetch("/jobs", method="POST", json=spec)
        body = await response.json()
        assert response.status == 202, body
        return body["jobId"]

    async def get(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/:id -> the job."""
        response = await self.worker.fetch(f"/jobs/{job_id}")
        body = await response.json()
        assert response.status == 200, body
        return body["job"]

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """Any request: (status, JSON body)."""
        response = await self.worker.fetch(path, method=method, **kwargs)
        return response.status, await response.json()


@pytest.fixture
def api(worker: Any) -> JobsAPI:
    return JobsAPI(worker)
