#!/usr/bin/env python3
"""Drain a queue over Cloudflare's HTTP pull API, the way a service outside Workers would.

A plain script (only httpx): pull a batch, handle each message, ack what was handled and ask for
the rest to be retried later, until a pull comes back empty (or forever with --follow).

    python pull_consumer.py                                   # the "events" queue of workerlab dev
    python pull_consumer.py --url http://127.0.0.1:8787 --queue events --batch-size 100 --follow
    python pull_consumer.py --url https://api.cloudflare.com --api-prefix /client/v4 \\
        --account "$CF_ACCOUNT_ID" --queue "$QUEUE_ID" --token "$CF_QUEUES_TOKEN"

The token is sent as ``Authorization: Bearer``; workerlab dev accepts any.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

#: Where `workerlab dev` serves Cloudflare's REST API.
WORKERLAB_API_PREFIX = "/cdn-cgi/workerlab/api/client/v4"
#: Seconds before a message whose handling failed is offered again.
RETRY_DELAY_S = 10
#: Seconds between pulls that found nothing, with --follow.
IDLE_POLL_S = 1.0


class QueueApiError(Exception):
    """The API refused a call: its HTTP status and Cloudflare's error message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class Stats:
    pulled: int = 0
    acked: int = 0
    retried: int = 0


class PullQueue:
    """One queue of the REST API: ``pull`` a batch, ``ack`` and retry by lease id."""

    def __init__(self, client: httpx.Client, api_base: str, account: str, queue: str) -> None:
        self.client = client
        self.url = f"{api_base.rstrip('/')}/accounts/{account}/queues/{queue}/messages"

    def pull(self, batch_size: int, visibility_timeout_ms: int) -> list[dict[str, Any]]:
        result = self._post(
            "/pull", {"batch_size": batch_size, "visibility_timeout_ms": visibility_timeout_ms}
        )
        messages: list[dict[str, Any]] = result.get("messages") or []
        return messages

    def ack(
        self, acks: Sequence[str], retries: Sequence[str], delay_s: int = RETRY_DELAY_S
    ) -> dict[str, Any]:
        body = {
            "acks": [{"lease_id": lease} for lease in acks],
            "retries": [{"lease_id": lease, "delay_seconds": delay_s} for lease in retries],
        }
        return self._post("/ack", body)

    def _post(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(self.url + action, json=body)
        try:
            document = response.json()
        except ValueError:
            raise QueueApiError(response.status_code, response.text[:200]) from None
        if response.status_code != 200 or not document.get("success"):
            errors = document.get("errors") or [{"message": response.reason_phrase}]
            raise QueueApiError(response.status_code, "; ".join(str(e.get("message")) for e in errors))
        result: dict[str, Any] = document.get("result") or {}
        return result


def decode_body(message: dict[str, Any]) -> Any:
    """A pulled body as it was sent: text as is; json and bytes come base64-encoded."""
    content_type = message.get("metadata", {}).get("CF-Content-Type", "json")
    if content_type == "text":
        return message["body"]
    raw = base64.b64decode(message["body"])
    return json.loads(raw) if content_type == "json" else raw


def print_event(event: Any) -> None:
    """The example's work: print the event (a message asking to fail raises, to show retries)."""
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError(f"could not handle {event.get('type')!r}")
    print(f"event {json.dumps(event, sort_keys=True, default=repr)}", flush=True)


def drain(
    queue: PullQueue,
    handle: Callable[[Any], None] = print_event,
    *,
    batch_size: int = 100,
    visibility_timeout_ms: int = 30_000,
    follow: bool = False,
) -> Stats:
    """Pull and handle batches until a pull returns nothing (forever with ``follow``).

    Each batch is acked in one call: the messages handled, and the others retried after
    ``RETRY_DELAY_S``. A message not acked in time (the process died) comes back by itself once
    its visibility timeout runs out.
    """
    stats = Stats()
    while True:
        messages = queue.pull(batch_size, visibility_timeout_ms)
        if not messages:
            if not follow:
                return stats
            time.sleep(IDLE_POLL_S)
            continue
        stats.pulled += len(messages)
        acks, retries = [], []
        for message in messages:
            try:
                handle(decode_body(message))
            except Exception as error:
                print(
                    f"retrying message {message['id']} (attempt {message['attempts']}): {error}", flush=True
                )
                retries.append(message["lease_id"])
            else:
                acks.append(message["lease_id"])
        result = queue.ack(acks, retries)
        stats.acked += int(result.get("ackCount", 0))
        stats.retried += int(result.get("retryCount", 0))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8787", help="the server (default: workerlab dev)")
    parser.add_argument("--api-prefix", default=WORKERLAB_API_PREFIX, help="path of the REST API on it")
    parser.add_argument("--account", default="local", help="Cloudflare account id (any name locally)")
    parser.add_argument("--queue", default="events", help="queue name locally, queue id on Cloudflare")
    parser.add_argument("--token", default=os.environ.get("CF_QUEUES_TOKEN", "local"), help="API token")
    parser.add_argument("--batch-size", type=int, default=100, help="messages per pull (1-100)")
    parser.add_argument("--visibility-timeout-ms", type=int, default=30_000, help="lease of a pulled batch")
    parser.add_argument("--follow", action="store_true", help="keep polling once the queue is empty")
    args = parser.parse_args(argv)
    headers = {"authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=30) as client:
        queue = PullQueue(client, args.api_prefix, args.account, args.queue)
        try:
            stats = drain(
                queue,
                batch_size=args.batch_size,
                visibility_timeout_ms=args.visibility_timeout_ms,
                follow=args.follow,
            )
        except (QueueApiError, httpx.HTTPError) as error:
            print(f"pull_consumer: {error}", file=sys.stderr)
            return 1
    print(f"drained: {stats.pulled} pulled, {stats.acked} acked, {stats.retried} retried", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
