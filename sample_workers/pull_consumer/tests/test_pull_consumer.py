"""The pull consumer sample: the Worker that records events, and the script that drains them over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pull_consumer
import pytest

pytestmark = pytest.mark.workerlab(config="sample_workers/pull_consumer/wrangler.toml")


async def post_events(worker: Any, *events: dict[str, Any]) -> None:
    if len(events) == 1:
        response = await worker.fetch("/events", method="POST", json=events[0])
    else:
        response = await worker.fetch("/events/batch", method="POST", json=list(events))
    assert response.status == 202, await response.text()
    assert await response.json() == {"queued": len(events)}


async def test_events_wait_on_the_queue_for_a_pull_consumer(worker: Any) -> None:
    await post_events(worker, {"type": "signup", "user": 1})
    await post_events(worker, {"type": "login", "user": 1}, {"type": "logout", "user": 1})

    await worker.drain()  # no Worker consumes "events": nothing is pushed

    assert [m.body["type"] for m in worker.queues["events"].pending] == ["signup", "login", "logout"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/events", {"user": 1}, 'a JSON object with a "type" string'),
        ("/events/batch", [], "a JSON list of 1 to 100 events"),
        ("/events/batch", [{"type": "a"}, "b"], "event 1 must be"),
    ],
)
async def test_bad_events_are_a_400(worker: Any, path: str, body: Any, fragment: str) -> None:
    response = await worker.fetch(path, method="POST", json=body)
    assert response.status == 400
    assert fragment in (await response.json())["error"]


async def test_the_script_drains_the_queue_and_acks_what_it_handled(worker: Any, events_queue: Any) -> None:
    await post_events(worker, *({"type": "click", "n": n} for n in range(100)))
    await post_events(worker, *({"type": "click", "n": n} for n in range(100, 150)))
    handled: list[Any] = []

    stats = await asyncio.to_thread(pull_consumer.drain, events_queue, handled.append, batch_size=100)

    assert [event["n"] for event in handled] == list(range(150))
    assert (stats.pulled, stats.acked, stats.retried) == (150, 150, 0)
    assert worker.queues["events"].pending == []


async def test_what_fails_is_retried_later_with_its_attempts_counted(worker: Any, events_queue: Any) -> None:
    await post_events(worker, {"type": "ok"}, {"type": "flaky", "fail": True})
    handled: list[Any] = []

    def handle(event: Any) -> None:
        if event.get("fail") and event not in handled:
            handled.append(event)
            raise RuntimeError("not now")
        handled.append(event)

    first = await asyncio.to_thread(pull_consumer.drain, events_queue, handle)
    assert (first.acked, first.retried) == (1, 1)
    worker.clock.advance(pull_consumer.RETRY_DELAY_S)
    second = await asyncio.to_thread(pull_consumer.drain, events_queue, handle)
    assert (second.pulled, second.acked) == (1, 1)
    assert worker.queues["events"].pending == []


def test_bodies_are_decoded_by_content_type() -> None:
    def message(kind: str, body: str) -> dict[str, Any]:
        return {"body": body, "metadata": {"CF-Content-Type": kind}}

    assert pull_consumer.decode_body(message("text", "hi")) == "hi"
    encoded = base64.b64encode(json.dumps({"a": 1}).encode()).decode()
    assert pull_consumer.decode_body(message("json", encoded)) == {"a": 1}
    assert pull_consumer.decode_body(message("bytes", base64.b64encode(b"\x00").decode())) == b"\x00"


async def test_a_paused_queue_stops_the_script_with_the_apis_error(worker: Any, events_queue: Any) -> None:
    from workerlab.queues import admin

    admin.pause(worker.session.queue_broker().store, "events")
    with pytest.raises(pull_consumer.QueueApiError) as refused:
        await asyncio.to_thread(pull_consumer.drain, events_queue)
    assert (refused.value.status, refused.value.message) == (409, "queue_delivery_paused")
