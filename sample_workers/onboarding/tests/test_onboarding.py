"""The onboarding sample: a workflow per sign-up, days passed in milliseconds on the fake clock."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from workerlab.testing import Worker

pytestmark = pytest.mark.workerlab(config="sample_workers/onboarding/wrangler.toml")

DAY_S = 24 * 60 * 60
ADA = {"email": "Ada@Example.com", "name": "Ada"}
#: The email steps' retry delays (config: 10 seconds, exponential): after the 1st, 2nd, 3rd failure.
BACKOFF_S = [10, 20, 40]


def sent(provider: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in provider.calls]


def subjects(provider: respx.Route) -> list[str]:
    return [email["subject"] for email in sent(provider)]


async def sign_up(worker: Worker, signup: dict[str, str] = ADA) -> str:
    response = await worker.fetch("/signup", method="POST", json=signup)
    body = await response.json()
    assert response.status == 202, body
    assert body["status"] == "queued"
    return str(body["id"])


async def shown(worker: Worker, instance_id: str) -> Any:
    response = await worker.fetch(f"/onboarding/{instance_id}")
    assert response.status == 200
    return await response.json()


def steps(worker: Worker, instance_id: str) -> list[tuple[str, int, str]]:
    (record,) = [r for r in worker.workflows["onboarding"] if r.id == instance_id]
    return [(step.name, step.attempts, step.outcome) for step in record.steps]


async def test_welcome_now_tip_after_a_day_follow_up_after_three(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    instance_id = await sign_up(worker)

    await worker.advance(0)
    assert sent(provider) == [
        {
            "from": worker.env.FROM_ADDRESS,
            "to": "ada@example.com",
            "subject": "Welcome, Ada!",
            "text": "Thanks for signing up, Ada.",
        }
    ]
    assert (await shown(worker, instance_id))["status"] == "waiting"

    await worker.advance(DAY_S - 1)
    assert provider.call_count == 1
    await worker.advance(1)
    assert subjects(provider) == ["Welcome, Ada!", "A tip to get started"]

    await worker.advance(2 * DAY_S - 1)
    assert provider.call_count == 2
    await worker.advance(1)
    assert subjects(provider)[2:] == ["How is it going?"]

    assert await shown(worker, instance_id) == {
        "id": instance_id,
        "status": "complete",
        "steps": [
            {"step": "send_welcome", "email": "welcome", "attempt": 1},
            {"step": "send_tip", "email": "tip", "attempt": 1},
            {"step": "send_follow_up", "email": "follow_up", "attempt": 1},
        ],
        "output": {
            "email": "ada@example.com",
            "sent": ["welcome", "tip", "follow_up"],
            "unsubscribed": False,
        },
    }
    assert steps(worker, instance_id) == [
        ("user", 1, "ok"),
        ("send_welcome", 1, "ok"),
        ("unsubscribed_before_tip", 1, "error"),  # timed out: nobody unsubscribed
        ("send_tip", 1, "ok"),
        ("unsubscribed_before_follow_up", 1, "error"),
        ("send_follow_up", 1, "ok"),
    ]
    request = provider.calls.last.request
    assert request.headers["authorization"] == f"Bearer {worker.env.EMAIL_API_KEY}"
    keys = [call.request.headers["idempotency-key"] for call in provider.calls]
    assert keys == [f"{instance_id}-welcome", f"{instance_id}-tip", f"{instance_id}-follow_up"]


async def test_unsubscribing_on_the_first_day_stops_the_tip_and_the_follow_up(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    instance_id = await sign_up(worker)
    await worker.advance(DAY_S / 2)

    response = await worker.fetch(f"/onboarding/{instance_id}/unsubscribe", method="POST")
    assert response.status == 202
    await worker.advance(0)

    assert subjects(provider) == ["Welcome, Ada!"]
    page = await shown(worker, instance_id)
    assert page["status"] == "complete"
    assert page["output"] == {"email": "ada@example.com", "sent": ["welcome"], "unsubscribed": True}
    await worker.advance(3 * DAY_S)
    assert provider.call_count == 1
    # Over: a second unsubscribe has nothing left to stop.
    again = await worker.fetch(f"/onboarding/{instance_id}/unsubscribe", method="POST")
    assert again.status == 409


async def test_unsubscribing_after_the_tip_stops_the_follow_up(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    instance_id = await sign_up(worker)
    await worker.advance(2 * DAY_S)
    assert subjects(provider) == ["Welcome, Ada!", "A tip to get started"]

    await worker.fetch(f"/onboarding/{instance_id}/unsubscribe", method="POST")
    await worker.advance(2 * DAY_S)

    assert provider.call_count == 2
    assert (await shown(worker, instance_id))["output"]["sent"] == ["welcome", "tip"]
    assert steps(worker, instance_id)[-1] == ("unsubscribed_before_follow_up", 1, "ok")


async def test_a_failing_provider_is_retried_with_backoff_until_it_recovers(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).mock(
        side_effect=[httpx.ConnectError("connection refused"), httpx.Response(503), httpx.Response(202)]
    )
    instance_id = await sign_up(worker)

    await worker.advance(0)
    assert provider.call_count == 1
    assert steps(worker, instance_id)[-1] == ("send_welcome", 1, "retry")
    await worker.advance(BACKOFF_S[0] - 1)
    assert provider.call_count == 1
    await worker.advance(1)
    assert provider.call_count == 2
    assert steps(worker, instance_id)[-1] == ("send_welcome", 2, "retry")
    await worker.advance(BACKOFF_S[1] - 1)
    assert provider.call_count == 2
    await worker.advance(1)
    assert provider.call_count == 3

    assert steps(worker, instance_id)[1:] == [
        ("send_welcome", 3, "ok"),
        ("unsubscribed_before_tip", 1, "waiting"),
    ]
    assert (await shown(worker, instance_id))["steps"] == [
        {"step": "send_welcome", "email": "welcome", "attempt": 3}
    ]
    # Every try of the step carries the same idempotency key.
    assert {call.request.headers["idempotency-key"] for call in provider.calls} == {f"{instance_id}-welcome"}


async def test_a_provider_down_past_the_retries_errors_the_onboarding(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(503, text="mailbox service down")
    instance_id = await sign_up(worker)
    started_s = worker.clock.now_s()

    await worker.advance(sum(BACKOFF_S) - 1)
    assert provider.call_count == len(BACKOFF_S)
    await worker.advance(1)

    assert provider.call_count == 1 + len(BACKOFF_S)
    assert worker.clock.now_s() - started_s == sum(BACKOFF_S)
    page = await shown(worker, instance_id)
    assert page["status"] == "errored"
    assert page["error"] == {
        "name": "ProviderError",
        "message": f"{worker.env.EMAIL_API_URL} answered 503: mailbox service down",
    }
    assert page["steps"] == []
    assert steps(worker, instance_id) == [("user", 1, "ok"), ("send_welcome", 4, "error")]
    response = await worker.fetch(f"/onboarding/{instance_id}/unsubscribe", method="POST")
    assert response.status == 409


async def test_signups_from_the_queue_each_start_an_onboarding(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    grace = {"email": "grace@example.com", "name": "Grace"}
    response = await worker.fetch("/signups", method="POST", json=[ADA, grace])
    assert response.status == 202
    assert await response.json() == {"queued": 2}

    await worker.advance(0)

    message_ids = [message.id for message in worker.queues["signups"].acked]
    records = worker.workflows["onboarding"]
    assert [record.id for record in records] == [f"signup-{id}" for id in message_ids]
    assert [record.status for record in records] == ["waiting", "waiting"]
    assert sorted(email["to"] for email in sent(provider)) == ["ada@example.com", "grace@example.com"]
    assert [delivery.attempts for delivery in worker.queues["signups"].deliveries] == [1, 1]

    # The same message delivered again (a retried batch) starts nothing new.
    again = await worker.queue(
        "signups", [{"id": message_ids[0], "timestamp": 0, "attempts": 2, "body": ADA}]
    )
    assert again.outcome == "ok" and again.explicit_acks == [message_ids[0]]
    await worker.advance(0)
    assert len(worker.workflows["onboarding"]) == 2
    assert provider.call_count == 2

    await worker.advance(3 * DAY_S)
    assert [record.status for record in worker.workflows["onboarding"]] == ["complete", "complete"]
    assert provider.call_count == 6


async def test_a_bad_signup_in_the_queue_is_dropped(respx_mock: respx.MockRouter, worker: Worker) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    result = await worker.queue("signups", [{"email": "nobody", "name": "X"}])
    assert result.outcome == "ok" and len(result.explicit_acks) == 1
    await worker.advance(0)
    assert worker.workflows["onboarding"] == []
    assert provider.call_count == 0


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/signup", {"email": "ada"}, 400, "email must be an email address"),
        ("/signup", {"email": "ada@example.com", "name": " "}, 400, "name must be a non-empty string"),
        ("/signups", [], 400, "expected a list of 1 to 100 sign-ups"),
        ("/signups", [ADA, {"name": "Y"}], 400, "sign-up 1: email must be"),
        ("/onboarding/nobody/unsubscribe", None, 404, "no onboarding 'nobody'"),
    ],
)
async def test_bad_requests_are_refused(
    worker: Worker, path: str, body: Any, status: int, error: str
) -> None:
    response = await worker.fetch(path, method="POST", json=body)

    assert response.status == status
    assert error in (await response.json())["error"]
    assert worker.workflows["onboarding"] == []
    assert worker.queues["signups"].pending == []


async def test_an_unknown_onboarding_is_not_found(worker: Worker) -> None:
    response = await worker.fetch("/onboarding/nobody")
    assert response.status == 404
