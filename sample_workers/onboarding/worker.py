"""User onboarding as a Cloudflare Workflow: the drip campaign of a sign-up, made durable.

``POST /signup`` starts the onboarding of one user at once; ``POST /signups`` puts a list of
sign-ups on the ``signups`` queue, whose consumer starts one onboarding per user. Each onboarding
is an instance of :class:`Onboarding`:

1. ``send_welcome`` at once;
2. a day later ``send_tip``, unless an ``unsubscribe`` event came in the meantime;
3. two days after that (three after the sign-up) ``send_follow_up``, again unless the user
   unsubscribed.

Emails go to an HTTP provider through ``workers.fetch``. A refused or unreachable provider fails
the step, which the workflow retries 10, 20 and 40 seconds later; after that the instance errors.
Every email step records what it sent in KV, so ``GET /onboarding/:id`` shows the status and the
steps done; ``POST /onboarding/:id/unsubscribe`` sends the event.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

from workers import Request, Response, WorkerEntrypoint, WorkflowEntrypoint, fetch

#: The event that stops the emails still to come.
UNSUBSCRIBE = "unsubscribe"
#: How long after the welcome the tip goes out.
TIP_AFTER = "1 day"
#: How long after the tip the follow-up goes out (three days after the sign-up).
FOLLOW_UP_AFTER = "2 days"
#: Every email step: 3 retries after the first try, 10 s, 20 s then 40 s apart; 30 s per try.
EMAIL_STEP: dict[str, Any] = {
    "retries": {"limit": 3, "delay": "10 seconds", "backoff": "exponential"},
    "timeout": "30 seconds",
}
#: Most sign-ups one POST /signups takes (a queue's sendBatch carries up to 100 messages).
MAX_SIGNUPS = 100
#: /onboarding/:id and /onboarding/:id/<action>.
ONBOARDING_PATH = re.compile(r"/onboarding/(?P<id>[^/]+)(?:/(?P<action>[^/]+))?")
#: Instance statuses after which nothing is sent any more.
OVER = ("complete", "errored", "terminated")

#: The emails: template name -> (subject, text).
EMAILS = {
    "welcome": ("Welcome, {name}!", "Thanks for signing up, {name}."),
    "tip": ("A tip to get started", "Here is the one thing to try first, {name}."),
    "follow_up": ("How is it going?", "Reply to this email if anything is unclear, {name}."),
}


class ProviderError(Exception):
    """The email provider answered, but did not accept the email."""


async def send_email(env: Any, user: Any, template: str, idempotency_key: str) -> None:
    """Post the ``template`` email to ``user`` through the provider; raise if it is not accepted."""
    subject, text = EMAILS[template]
    response = await fetch(
        env.EMAIL_API_URL,
        method="POST",
        headers={
            "authorization": f"Bearer {env.EMAIL_API_KEY}",
            "content-type": "application/json",
            # Every try of one step carries the same key: the provider drops a second send.
            "idempotency-key": idempotency_key,
        },
        body=json.dumps(
            {
                "from": env.FROM_ADDRESS,
                "to": user["email"],
                "subject": subject.format(name=user["name"]),
                "text": text.format(name=user["name"]),
            }
        ),
    )
    if not response.ok:
        raise ProviderError(f"{env.EMAIL_API_URL} answered {response.status}: {await response.text()}")


def progress_key(instance_id: str) -> str:
    return f"progress:{instance_id}"


async def record_step(env: Any, instance_id: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the steps GET /onboarding/:id lists (one instance runs one step at a time)."""
    key = progress_key(instance_id)
    done = await env.PROGRESS.get(key, type="json") or []
    await env.PROGRESS.put(key, json.dumps([*done, entry]))


async def unsubscribed_within(step: Any, name: str, timeout: str) -> bool:
    """Wait up to ``timeout`` for the unsubscribe event; True if it came (or came earlier)."""
    try:
        await step.wait_for_event(name, UNSUBSCRIBE, timeout=timeout)
    except Exception:  # the wait timed out: nobody unsubscribed
        return False
    return True


class Onboarding(WorkflowEntrypoint):
    async def run(self, event: Any, step: Any) -> dict[str, Any]:
        instance_id = event.instanceId
        payload = event.payload

        @step.do()
        async def user() -> dict[str, str]:
            return {"email": payload["email"].strip().lower(), "name": payload["name"].strip()}

        def email_step(template: str) -> Any:
            @step.do(f"send_{template}", config=EMAIL_STEP)
            async def send(user: Any, ctx: Any) -> dict[str, Any]:
                await send_email(self.env, user, template, f"{instance_id}-{template}")
                entry = {"step": f"send_{template}", "email": template, "attempt": ctx.attempt}
                await record_step(self.env, instance_id, entry)
                return entry

            return send

        send_welcome = email_step("welcome")
        send_tip = email_step("tip")
        send_follow_up = email_step("follow_up")

        profile = await user()
        sent = [(await send_welcome())["email"]]
        unsubscribed = await unsubscribed_within(step, "unsubscribed_before_tip", TIP_AFTER)
        if not unsubscribed:
            sent.append((await send_tip())["email"])
            unsubscribed = await unsubscribed_within(step, "unsubscribed_before_follow_up", FOLLOW_UP_AFTER)
        if not unsubscribed:
            sent.append((await send_follow_up())["email"])
        return {"email": profile["email"], "sent": sent, "unsubscribed": unsubscribed}


def signup_problem(signup: Any) -> str | None:
    """What is wrong with a sign-up, or None."""
    if not isinstance(signup, dict):
        return "a sign-up is a JSON object with an email and a name"
    email, name = signup.get("email"), signup.get("name")
    if not isinstance(email, str) or "@" not in email:
        return f"email must be an email address, found {email!r}"
    if not isinstance(name, str) or not name.strip():
        return f"name must be a non-empty string, found {name!r}"
    return None


def error(message: str, status: int) -> Response:
    return Response.json({"error": message}, status=status)


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        path = urlparse(request.url).path
        onboarding = ONBOARDING_PATH.fullmatch(path)
        if request.method == "POST" and path == "/signup":
            return await self.signup(await request.json())
        if request.method == "POST" and path == "/signups":
            return await self.queue_signups(await request.json())
        if request.method == "GET" and onboarding and not onboarding["action"]:
            return await self.show(onboarding["id"])
        if request.method == "POST" and onboarding and onboarding["action"] == UNSUBSCRIBE:
            return await self.unsubscribe(onboarding["id"])
        return error(f"no route for {request.method} {path}", 404)

    async def signup(self, signup: Any) -> Response:
        problem = signup_problem(signup)
        if problem:
            return error(problem, 400)
        instance = await self.env.ONBOARDING.create(params={"email": signup["email"], "name": signup["name"]})
        status = await instance.status()
        return Response.json({"id": instance.id, "status": status["status"]}, status=202)

    async def queue_signups(self, signups: Any) -> Response:
        if not isinstance(signups, list) or not 1 <= len(signups) <= MAX_SIGNUPS:
            return error(f"expected a list of 1 to {MAX_SIGNUPS} sign-ups", 400)
        for index, signup in enumerate(signups):
            problem = signup_problem(signup)
            if problem:
                return error(f"sign-up {index}: {problem}", 400)
        await self.env.SIGNUPS.sendBatch([{"body": signup} for signup in signups])
        return Response.json({"queued": len(signups)}, status=202)

    async def show(self, instance_id: str) -> Response:
        instance = await self.instance(instance_id)
        if instance is None:
            return error(f"no onboarding {instance_id!r}", 404)
        status = await instance.status()
        steps = await self.env.PROGRESS.get(progress_key(instance_id), type="json") or []
        shown = {"id": instance_id, "status": status["status"], "steps": steps}
        for field in ("output", "error"):
            if status.get(field) is not None:
                shown[field] = status[field]
        return Response.json(shown)

    async def unsubscribe(self, instance_id: str) -> Response:
        instance = await self.instance(instance_id)
        if instance is None:
            return error(f"no onboarding {instance_id!r}", 404)
        status = (await instance.status())["status"]
        if status in OVER:
            return error(f"onboarding {instance_id!r} is over ({status})", 409)
        await instance.send_event(type=UNSUBSCRIBE, payload={"id": instance_id})
        return Response.json({"id": instance_id, "unsubscribed": True}, status=202)

    async def instance(self, instance_id: str) -> Any:
        try:
            return await self.env.ONBOARDING.get(instance_id)
        except Exception:  # no such instance (or not a valid id)
            return None

    async def queue(self, batch: Any, env: Any, ctx: Any) -> None:
        for message in batch.messages:
            problem = signup_problem(message.body)
            if problem:
                print(f"sign-up {message.id} dropped: {problem}")
                message.ack()
                continue
            # One id per message: a message delivered twice starts one onboarding, not two.
            instance_id = f"signup-{message.id}"
            if await self.instance(instance_id) is None:
                signup = message.body
                await env.ONBOARDING.create(
                    id=instance_id, params={"email": signup["email"], "name": signup["name"]}
                )
            message.ack()
