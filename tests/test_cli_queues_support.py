"""Helpers for the queue command-line tests: a worker that sends what it is posted, and the posting
(no tests here)."""

from __future__ import annotations

import httpx
from devprocess import DevProcess

LIVE_WORKER = """
import json
from workers import Response

failed_once = set()


async def fetch(request, env, ctx):
    sent = json.loads(await request.text())
    binding = env.BARRIER if sent["queue"] == "barrier" else env.JOBS
    await binding.sendBatch([{"body": body} for body in sent["bodies"]])
    return Response("sent")


async def queue(batch, env, ctx):
    for message in batch.messages:
        print(f"GOT {batch.queue} {message.body} {message.attempts}", flush=True)
        if message.body.startswith("fail") and message.id not in failed_once:
            failed_once.add(message.id)
            message.retry()
"""


def send_to(dev: DevProcess, queue: str, *bodies: str) -> None:
    """Have the worker of ``dev`` (one running :data:`LIVE_WORKER`) send ``bodies`` to ``queue``."""
    response = httpx.post(dev.url + "/", json={"queue": queue, "bodies": list(bodies)}, timeout=10)
    assert response.text == "sent"
