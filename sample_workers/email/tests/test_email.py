"""The email sample: sent at once, retried with exponential backoff, dead-lettered, and the drip."""

from __future__ import annotations

import json

import httpx
import pytest

from workerlab.limits import MAX_DELAY_S

pytestmark = pytest.mark.workerlab(config="sample_workers/email/wrangler.toml")

RECEIPT = {"to": "ada@example.com", "subject": "Your receipt", "text": "Thanks for your order."}
#: 2**attempts * 10 seconds after the 1st, 2nd and 3rd failed try.
BACKOFF_S = [20, 40, 80]


def sent(provider) -> list[dict]:
    return [json.loads(call.request.content) for call in provider.calls]


async def queue_receipt(worker) -> str:
    response = await worker.fetch("/emails", method="POST", json=RECEIPT)
    assert response.status == 202
    return (await response.json())["id"]


async def test_an_email_is_posted_to_the_provider_once(respx_mock, worker) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202, json={"id": "provider-1"})
    email_id = await queue_receipt(worker)

    await worker.drain()

    assert sent(provider) == [{"from": worker.env.FROM_ADDRESS, **RECEIPT}]
    request = provider.calls.last.request
    assert request.headers["authorization"] == f"Bearer {worker.env.EMAIL_API_KEY}"
    assert request.headers["idempotency-key"] == email_id
    assert [m.body["id"] for m in worker.queues["emails"].acked] == [email_id]
    assert worker.queues["emails"].pending == []


async def test_a_failed_send_is_retried_after_20_then_40_seconds(respx_mock, worker) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).mock(
        side_effect=[httpx.ConnectError("connection refused"), httpx.Response(503), httpx.Response(202)]
    )
    email_id = await queue_receipt(worker)

    await worker.advance(0)
    assert provider.call_count == 1
    await worker.advance(BACKOFF_S[0] - 1)
    assert provider.call_count == 1
    await worker.advance(1)
    assert provider.call_count == 2
    await worker.advance(BACKOFF_S[1] - 1)
    assert provider.call_count == 2
    await worker.advance(1)
    assert provider.call_count == 3

    # Every try carries the same idempotency key, so the provider can drop a duplicate.
    assert {call.request.headers["idempotency-key"] for call in provider.calls} == {email_id}
    assert [(m.body["id"], m.attempts) for m in worker.queues["emails"].acked] == [(email_id, 3)]
    assert worker.queues["emails"].dead_lettered == []


async def test_an_email_the_provider_keeps_refusing_is_dead_lettered(respx_mock, worker, caplog) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(500, text="mailbox service down")
    email_id = await queue_receipt(worker)
    started_s = worker.clock.now_s()

    await worker.drain()

    assert provider.call_count == 1 + len(BACKOFF_S)
    assert [d.attempts for d in worker.queues["emails"].deliveries] == [1, 2, 3, 4]
    assert worker.clock.now_s() - started_s == sum(BACKOFF_S)
    assert [m.id for m in worker.queues["emails"].dead_lettered] == [
        d.id for d in worker.queues["emails"].deliveries[:1]
    ]
    assert f'to dead letter queue "emails-dlq" after {1 + len(BACKOFF_S)} failed attempts' in caplog.text
    # The dead-letter consumer keeps the email where support can see it.
    failed = await (await worker.fetch("/emails/failed")).json()
    assert failed == {"failed": [{"id": email_id, **RECEIPT}]}
    assert worker.queues["emails-dlq"].pending == []


async def test_a_signup_starts_a_drip_spread_over_twelve_hours(respx_mock, worker) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    response = await worker.fetch("/signups", method="POST", json={"email": "ada@example.com", "name": "Ada"})
    assert response.status == 202

    await worker.advance(0)
    assert [email["subject"] for email in sent(provider)] == ["Welcome, Ada!"]
    await worker.advance(60 * 60 - 1)
    assert provider.call_count == 1
    await worker.advance(1)
    assert [email["subject"] for email in sent(provider)][1:] == ["Getting started"]
    await worker.advance(MAX_DELAY_S - 60 * 60 - 1)
    assert provider.call_count == 2
    await worker.advance(1)
    assert sent(provider)[2] == {
        "from": worker.env.FROM_ADDRESS,
        "to": "ada@example.com",
        "subject": "How is it going?",
        "text": "Reply to this email if anything is unclear, Ada.",
    }


async def test_a_delayed_email_waits_for_its_delay(respx_mock, worker) -> None:
    provider = respx_mock.post(worker.env.EMAIL_API_URL).respond(202)
    await worker.fetch("/emails", method="POST", json={**RECEIPT, "delaySeconds": 300})

    await worker.advance(299)
    assert provider.call_count == 0
    await worker.advance(1)
    assert provider.call_count == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"to": "ada@example.com"}, "missing field(s): subject, text"),
        ({**RECEIPT, "delaySeconds": MAX_DELAY_S + 1}, "delaySeconds must be a whole number"),
    ],
)
async def test_an_invalid_email_is_refused_and_nothing_is_queued(worker, body, error) -> None:
    response = await worker.fetch("/emails", method="POST", json=body)

    assert response.status == 400
    assert error in (await response.json())["error"]
    assert worker.queues["emails"].pending == []
