"""Transactional and drip email, sent from a queue through an HTTP email provider.

``POST /emails`` queues one email (now, or after ``delaySeconds``); ``POST /signups`` queues a
drip sequence spread over twelve hours. The consumer posts each email to the provider; a
failed send is retried after ``2**attempts * 10`` seconds (20 s, 40 s, 80 s), then moved to
the dead-letter queue, whose consumer keeps it in KV for ``GET /emails/failed``.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint, fetch

#: The longest delay Cloudflare Queues accept for a message or a retry: 12 hours.
MAX_DELAY_S = 12 * 60 * 60
#: The queue the consumer gives up into (``dead_letter_queue`` in wrangler.toml).
DEAD_LETTER_QUEUE = "emails-dlq"
#: How long a dead-lettered email stays listed under /emails/failed.
FAILED_TTL_S = 7 * 24 * 60 * 60

#: The drip sequence after a sign-up: (subject, text, seconds after the sign-up).
DRIP = [
    ("Welcome, {name}!", "Thanks for signing up, {name}.", 0),
    ("Getting started", "Here are three things to try first, {name}.", 60 * 60),
    ("How is it going?", "Reply to this email if anything is unclear, {name}.", MAX_DELAY_S),
]


class ProviderError(Exception):
    """The email provider answered, but did not accept the email."""


def backoff_s(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed try: 20, 40, 80, ... capped at 12 hours."""
    return min(2**attempts * 10, MAX_DELAY_S)


def new_email(to: str, subject: str, text: str) -> dict:
    # The id travels with the message, so every retry of this email carries the same idempotency key.
    return {"id": uuid.uuid4().hex, "to": to, "subject": subject, "text": text}


async def send_email(env, email: dict) -> None:
    """Post ``email`` to the provider; raise if it is not accepted."""
    response = await fetch(
        env.EMAIL_API_URL,
        method="POST",
        headers={
            "authorization": f"Bearer {env.EMAIL_API_KEY}",
            "content-type": "application/json",
            # The provider ignores a second send with the same key: a redelivered message is not sent twice.
            "idempotency-key": email["id"],
        },
        body=json.dumps(
            {"from": env.FROM_ADDRESS, "to": email["to"], "subject": email["subject"], "text": email["text"]}
        ),
    )
    if not response.ok:
        raise ProviderError(f"{env.EMAIL_API_URL} answered {response.status}: {await response.text()}")


def bad_request(message: str) -> Response:
    return Response.json({"error": message}, status=400)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if request.method == "POST" and path == "/emails":
            return await self.queue_email(await request.json())
        if request.method == "POST" and path == "/signups":
            return await self.start_drip(await request.json())
        if request.method == "GET" and path == "/emails/failed":
            return await self.failed_emails()
        return Response.json({"error": f"no route for {request.method} {path}"}, status=404)

    async def queue_email(self, data: dict) -> Response:
        missing = [field for field in ("to", "subject", "text") if not data.get(field)]
        if missing:
            return bad_request(f"missing field(s): {', '.join(missing)}")
        delay_s = data.get("delaySeconds", 0)
        if not isinstance(delay_s, int) or not 0 <= delay_s <= MAX_DELAY_S:
            return bad_request(f"delaySeconds must be a whole number from 0 to {MAX_DELAY_S}: {delay_s!r}")
        email = new_email(data["to"], data["subject"], data["text"])
        await self.env.EMAILS.send(email, delaySeconds=delay_s)
        return Response.json({"id": email["id"], "status": "queued"}, status=202)

    async def start_drip(self, data: dict) -> Response:
        if not data.get("email") or not data.get("name"):
            return bad_request("a sign-up needs an email and a name")
        emails = [
            (new_email(data["email"], subject.format(**data), text.format(**data)), delay_s)
            for subject, text, delay_s in DRIP
        ]
        messages = [{"body": email, "delaySeconds": delay_s} for email, delay_s in emails]
        await self.env.EMAILS.sendBatch(messages)
        return Response.json({"ids": [email["id"] for email, _ in emails], "status": "queued"}, status=202)

    async def failed_emails(self) -> Response:
        listed = await self.env.FAILED_EMAILS.list(prefix="failed:")
        emails = [await self.env.FAILED_EMAILS.get(key["name"], type="json") for key in listed["keys"]]
        return Response.json({"failed": [email for email in emails if email is not None]})

    async def queue(self, batch, env, ctx):
        if batch.queue == DEAD_LETTER_QUEUE:
            await self.keep_failed(batch, env)
            return
        for message in batch.messages:
            try:
                await send_email(env, message.body)
            except (ProviderError, OSError) as error:  # OSError: the provider could not be reached
                delay_s = backoff_s(message.attempts)
                print(f"email try {message.attempts} failed: {error}; retrying in {delay_s}s")
                message.retry(delaySeconds=delay_s)
            else:
                message.ack()

    async def keep_failed(self, batch, env) -> None:
        for message in batch.messages:
            email = message.body
            key = f"failed:{email['id']}"
            await env.FAILED_EMAILS.put(key, json.dumps(email), expirationTtl=FAILED_TTL_S)
            message.ack()
