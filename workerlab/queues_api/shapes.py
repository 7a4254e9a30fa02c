"""The queue API's request and response bodies, read and written in Cloudflare's shapes.

Pulled bodies are encoded as Cloudflare's pull API encodes them: ``text`` as the text itself,
``json`` and ``bytes`` base64-encoded (a JSON body is the base64 of its JSON text). Published
messages are ``text`` or ``json`` only, as Cloudflare's publish API accepts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from .. import limits
from ..config import QueueConsumer
from ..queues.pull import Pulled
from .errors import invalid

#: Content types the publish API accepts (Cloudflare: text and json).
PUBLISHABLE_CONTENT_TYPES = ("json", "text")

_PULL_KEYS = frozenset({"batch_size", "visibility_timeout_ms", "visibility_timeout"})
_ACK_KEYS = frozenset({"acks", "retries"})
_MESSAGE_KEYS = frozenset({"body", "content_type", "delay_seconds"})
_BATCH_KEYS = frozenset({"messages", "delay_seconds"})


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object a request body holds (an empty body is ``{}``), or a 400 saying what is wrong."""
    if not data.strip():
        return {}
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid(
            f"{what}: the request body must be a JSON object; it is not valid JSON ({error})"
        ) from None
    if not isinstance(document, dict):
        raise invalid(f"{what}: the request body must be a JSON object, found {type(document).__name__}")
    return document


def pull_options(document: Mapping[str, Any], consumer: QueueConsumer) -> tuple[int, int]:
    """``(batch_size, visibility_timeout_ms)`` of a pull request, defaults filled in."""
    _known_keys(document, _PULL_KEYS, "pull")
    batch_size = _whole(document, "batch_size", 1, limits.MAX_PULL_BATCH_SIZE, limits.DEFAULT_PULL_BATCH_SIZE)
    # The docs' prose says visibility_timeout; the API schema says visibility_timeout_ms (both ms).
    key = "visibility_timeout" if "visibility_timeout" in document else "visibility_timeout_ms"
    timeout_ms = _whole(document, key, 0, limits.MAX_VISIBILITY_TIMEOUT_MS, consumer.visibility_timeout_ms)
    return batch_size, timeout_ms


def ack_lists(document: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, int | None]]]:
    """The lease ids to ack, and ``(lease id, delay_seconds or None)`` to retry."""
    _known_keys(document, _ACK_KEYS, "ack")
    acks = [_lease(item, f"acks[{i}]", ("lease_id",)) for i, item in enumerate(_list(document, "acks"))]
    retries = []
    for index, item in enumerate(_list(document, "retries")):
        where = f"retries[{index}]"
        lease = _lease(item, where, ("lease_id", "delay_seconds"))
        retries.append(
            (lease, _whole(item, "delay_seconds", limits.MIN_DELAY_S, limits.MAX_DELAY_S, None, where))
        )
    if len(acks) + len(retries) > limits.MAX_ACK_LEASES:
        raise invalid(
            f"ack: at most {limits.MAX_ACK_LEASES} lease ids per request (MAX_ACK_LEASES), "
            f"found {len(acks) + len(retries)}"
        )
    return acks, retries


def publish_message(document: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A published message as a ``sendBatch`` message dict (``body``, ``contentType``, ``delaySeconds``)."""
    _known_keys(document, _MESSAGE_KEYS, where)
    if "body" not in document or document["body"] is None:
        raise invalid(f'{where}: "body" is required: the message to send')
    content_type = document.get("content_type", "json")
    if content_type not in PUBLISHABLE_CONTENT_TYPES:
        raise invalid(
            f'{where}: content_type must be "json" or "text" (Cloudflare\'s publish API carries no bytes '
            f"or v8 messages), found {json.dumps(content_type)}"
        )
    if content_type == "text" and not isinstance(document["body"], str):
        raise invalid(f'{where}: a "text" message\'s body must be a string, found {_kind(document["body"])}')
    message: dict[str, Any] = {"body": document["body"], "contentType": content_type}
    delay_s = _whole(document, "delay_seconds", limits.MIN_DELAY_S, limits.MAX_DELAY_S, None, where)
    if delay_s is not None:
        message["delaySeconds"] = delay_s
    return message


def publish_batch(document: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """The messages of a batch publish, and the batch's own delay (None: not given)."""
    _known_keys(document, _BATCH_KEYS, "batch")
    items = _list(document, "messages")
    if not items:
        raise invalid('batch: "messages" must hold at least one message')
    if len(items) > limits.MAX_SEND_BATCH_MESSAGES:
        raise invalid(
            f"batch: at most {limits.MAX_SEND_BATCH_MESSAGES} messages (MAX_SEND_BATCH_MESSAGES), "
            f"found {len(items)}"
        )
    messages = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise invalid(f"messages[{index}] must be an object with a body, found {_kind(item)}")
        messages.append(publish_message(item, f"messages[{index}]"))
    return messages, _whole(document, "delay_seconds", limits.MIN_DELAY_S, limits.MAX_DELAY_S, None, "batch")


def pulled_json(message: Pulled) -> dict[str, Any]:
    """One pulled message as Cloudflare's pull API shows it."""
    if message.content_type == "text":
        body = message.body.decode("utf-8", "surrogatepass")
    else:
        body = base64.b64encode(message.body).decode("ascii")
    return {
        "body": body,
        "id": message.id,
        "timestamp_ms": message.timestamp_ms,
        "attempts": message.attempts,
        "lease_id": message.lease_id,
        "metadata": {"CF-sourceMessageSource": message.source, "CF-Content-Type": message.content_type},
    }


def _known_keys(document: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise invalid(
            f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )


def _list(document: Mapping[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f'"{key}" must be a list, found {_kind(value)}')
    return value


def _lease(item: Any, where: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(item, Mapping):
        raise invalid(f'{where} must be an object like {{"lease_id": "..."}}, found {_kind(item)}')
    _known_keys(item, frozenset(allowed), where)
    lease = item.get("lease_id")
    if not isinstance(lease, str) or not lease:
        raise invalid(f"{where}.lease_id must be the lease_id string a pull gave, found {_kind(lease)}")
    return lease


def _whole(
    document: Mapping[str, Any], key: str, low: int, high: int, default: int | None, where: str = ""
) -> Any:
    value = document.get(key)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        name = f"{where}.{key}" if where else key
        raise invalid(f"{name} must be a whole number from {low} to {high}, found {json.dumps(value)}")
    return value


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
