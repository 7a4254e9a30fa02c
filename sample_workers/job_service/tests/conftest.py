"""Shared set-up of the job service tests: the schema, the clock, and the mocked outbound endpoints."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx

sys.path.insert(0, str(Path(__file__).parent))

from job_service_fakes import FAKE_AI, SITE, WEBHOOK_TARGET, FakeAI

CONFIG = "sample_workers/job_service/wrangler.toml"


@pytest.fixture(autouse=True)
async def service(worker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The worker (its schema applied by the harness) with its notion of "now" on the fake clock."""
    # Job timestamps come from the worker's own now_ms(); follow the fake clock so tests control them.
    monkeypatch.setattr(worker.module, "now_ms", worker.clock.now_ms)
    return worker


@pytest.fixture
def outbound(worker: Any) -> Iterator[respx.MockRouter]:
    """respx routes for the email API, the webhook receivers and a small site to crawl; all answer."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.post(worker.env.EMAIL_API_URL, name="email").respond(200, json={"id": "msg_1"})
        router.post(worker.env.WEBHOOK_URL, name="webhook").respond(204)
        router.route(url=WEBHOOK_TARGET, name="target").respond(200, json={"received": True})
        router.get(f"{SITE}/", name="home").respond(
            200,
            html="<title>Example</title><a href='/about'>About</a> <a href='https://other.example/'>x</a>",
        )
        router.get(f"{SITE}/about", name="about").respond(
            200, html="<title>About us</title><a href='/'>home</a>"
        )
        yield router


@pytest.fixture
def fake_ai() -> Iterator[FakeAI]:
    """The fake the tests' marker puts on env.AI, fresh for each test."""
    FAKE_AI.calls.clear()
    FAKE_AI.during = None
    yield FAKE_AI
    FAKE_AI.during = None


#: A valid payload per job type, as the service's documentation shows them.
PAYLOADS: dict[str, dict[str, Any]] = {
    "send-email": {"to": "user@example.com", "subject": "Welcome!", "body": "Welcome to our service..."},
    "webhook-delivery": {"url": WEBHOOK_TARGET, "method": "POST", "body": {"event": "user.signup", "id": 7}},
    "batch-import": {
        "items": [{"sku": "A-1", "name": "Lamp"}, {"id": 2, "name": "Desk"}],
        "namespace": "products",
    },
    "generate-report": {"report": "job-activity", "days": 7},
    "generate-embedding": {"text": "Text to embed", "model": "@cf/baai/bge-base-en-v1.5"},
    "generate-content": {"prompt": "Write a blog post about...", "model": "@cf/meta/llama-3.1-8b-instruct"},
    "crawl-website": {"url": SITE, "maxPages": 100},
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
