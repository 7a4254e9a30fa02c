"""The webhooks sample: fan-out, signed deliveries, per-endpoint retries with backoff, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import json
from itertools import pairwise

import httpx
import pytest

from workerlab.limits import DEFAULT_MAX_BATCH_TIMEOUT_S

pytestmark = pytest.mark.workerlab(config="sample_workers/webhooks/wrangler.toml")

EVENT = {"type": "order.paid", "data": {"orderId": "o-42", "amountCents": 1999}}
#: Seconds between the tries of one delivery: the retry delay (30 s, doubling), then the batch wait.
GAPS_S = [delay_s + DEFAULT_MAX_BATCH_TIMEOUT_S for delay_s in (30, 60, 120, 240, 480)]


def endpoints(worker) -> tuple[str, str]:
    crm, billing = worker.env.WEBHOOK_ENDPOINTS.split()
    return crm, billing


async def publish(worker) -> str:
    response = await worker.fetch("/events", method="POST", json=EVENT)
    assert response.status == 202
    body = await response.json()
    assert body["deliveries"] == 2
    return body["id"]


def tries_at(worker, answers: list[httpx.Response | Exception]):
    """A respx side effect answering ``answers`` in turn and noting the fake clock at each try."""
    times_s: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        times_s.append(worker.clock.now_s())
        reply = answers[min(len(times_s), len(answers)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return answer, times_s


async def test_an_event_is_delivered_signed_to_every_endpoint(respx_mock, worker) -> None:
    crm, billing = endpoints(worker)
    routes = [respx_mock.post(crm).respond(200), respx_mock.post(billing).respond(204)]
    event_id = await publish(worker)

    await worker.drain()

    for route in routes:
        assert route.call_count == 1
        request = route.calls.last.request
        assert json.loads(request.content) | {"createdAt": None} == {
            "id": event_id,
            "type": EVENT["type"],
            "createdAt": None,
            "data": EVENT["data"],
        }
        assert request.headers["webhook-id"] == event_id
        secret = worker.env.WEBHOOK_SECRET.encode()
        expected = "sha256=" + hmac.new(secret, request.content, hashlib.sha256).hexdigest()
        assert request.headers["webhook-signature"] == expected
    assert len(worker.queues["webhook-deliveries"].acked) == 2


async def test_a_failing_endpoint_is_retried_with_backoff_without_the_others(respx_mock, worker) -> None:
    crm, billing = endpoints(worker)
    healthy = respx_mock.post(crm).respond(200)
    answer, times_s = tries_at(
        worker, [httpx.ConnectError("refused"), httpx.Response(502), httpx.Response(200)]
    )
    flaky = respx_mock.post(billing).mock(side_effect=answer)
    await publish(worker)

    await worker.drain()

    assert healthy.call_count == 1
    assert flaky.call_count == 3
    assert [b - a for a, b in pairwise(times_s)] == GAPS_S[:2]
    acked = {m.body["url"]: m.attempts for m in worker.queues["webhook-deliveries"].acked}
    assert acked == {crm: 1, billing: 3}


async def test_an_endpoint_that_never_accepts_is_dead_lettered(respx_mock, worker) -> None:
    crm, billing = endpoints(worker)
    respx_mock.post(crm).respond(200)
    answer, times_s = tries_at(worker, [httpx.Response(503)])
    respx_mock.post(billing).mock(side_effect=answer)
    event_id = await publish(worker)

    await worker.drain()

    assert [b - a for a, b in pairwise(times_s)] == GAPS_S
    deliveries = worker.queues["webhook-deliveries"]
    assert [m.body["url"] for m in deliveries.acked] == [crm]
    assert [m.body["url"] for m in deliveries.dead_lettered] == [billing]
    # Nothing consumes the dead-letter queue: the delivery waits there to be inspected or replayed.
    waiting = worker.queues["webhook-deliveries-dlq"].pending
    assert [(m.body["url"], m.body["event"]["id"]) for m in waiting] == [(billing, event_id)]


async def test_an_event_without_a_type_is_refused(worker) -> None:
    response = await worker.fetch("/events", method="POST", json={"data": {}})

    assert response.status == 400
    assert worker.queues["webhook-deliveries"].pending == []
