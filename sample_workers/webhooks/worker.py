"""Outbound webhooks: one event fans out to every endpoint; each delivery succeeds or retries alone.

``POST /events`` turns an event into one queue message per endpoint. The consumer posts the
event, signed with HMAC-SHA256, to its endpoint; any answer but a 2xx (or no answer) retries
that delivery alone, 30 s later, then 1, 2, 4 and 8 minutes later, before it is moved to the
dead-letter queue. Receivers drop duplicates by the ``webhook-id`` header, since a queue
delivers at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import workers
from workers import Response, WorkerEntrypoint

#: Seconds before the first retry of a delivery; each further retry waits twice as long.
FIRST_RETRY_DELAY_S = 30
#: The longest delay Cloudflare Queues accept for a retry: 12 hours.
MAX_DELAY_S = 12 * 60 * 60
#: The most messages one sendBatch() may carry.
MAX_BATCH_MESSAGES = 100


def retry_delay_s(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed try: 30, 60, 120, ..."""
    return min(FIRST_RETRY_DELAY_S * 2 ** (attempts - 1), MAX_DELAY_S)


def sign(secret: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


async def route(request, env) -> Response:
    path = urlparse(request.url).path
    if request.method == "POST" and path == "/events":
        return await publish(await request.json(), env)
    return Response.json({"error": f"no route for {request.method} {path}"}, status=404)


async def publish(data, env) -> Response:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return Response.json({"error": 'an event needs a "type" string and optional "data"'}, status=400)
    event = {
        "id": uuid.uuid4().hex,
        "type": data["type"],
        "createdAt": datetime.now(UTC).isoformat(),
        "data": data.get("data"),
    }
    endpoints = env.WEBHOOK_ENDPOINTS.split()
    # One message per endpoint: a slow or broken endpoint retries without holding up the others.
    messages = [{"body": {"url": url, "event": event}} for url in endpoints]
    for start in range(0, len(messages), MAX_BATCH_MESSAGES):
        await env.DELIVERIES.sendBatch(messages[start : start + MAX_BATCH_MESSAGES])
    return Response.json({"id": event["id"], "deliveries": len(endpoints)}, status=202)


async def deliver(url: str, event: dict, secret: str) -> str | None:
    """Post ``event`` to ``url``; None when it was accepted, else why not."""
    payload = json.dumps(event).encode()
    try:
        response = await workers.fetch(
            url,
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": event["id"],
                "webhook-signature": sign(secret, payload),
            },
            body=payload,
        )
    except OSError as error:  # no answer: DNS, connection or timeout
        return str(error)
    return None if response.ok else f"{url} answered {response.status}"


async def consume(batch, env) -> None:
    for message in batch.messages:
        failure = await deliver(message.body["url"], message.body["event"], env.WEBHOOK_SECRET)
        if failure is None:
            message.ack()
        else:
            delay_s = retry_delay_s(message.attempts)
            print(f"webhook try {message.attempts} failed: {failure}; retrying in {delay_s}s")
            message.retry(delaySeconds=delay_s)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        """Routes: POST /events."""
        return await route(request, self.env)

    async def queue(self, batch, env, ctx):
        """Deliver each message's event to its endpoint."""
        await consume(batch, env)
