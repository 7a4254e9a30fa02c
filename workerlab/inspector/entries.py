"""Timeline entries: each event of the bus as the JSON document the page shows.

An entry names its ``kind``, the ``worker`` concerned, a one-line ``title``, a ``level`` (``info``,
``warning`` or ``error``) and, where the event has them, its ``outcome``, ``duration_ms`` and
``error`` (type, message and the user's traceback). A batch entry lists what became of each of its
messages (``acked``, ``retried``, ``dead-lettered`` or ``dropped``), which is how the page follows
one message across its deliveries. Message bodies are never kept: an entry's size is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..events import (
    AlarmRun,
    BatchDelivered,
    CronRun,
    Event,
    MessageDeadLettered,
    MessageDropped,
    MessageRetried,
    RequestServed,
    RpcCall,
    WaitUntilFailed,
    WorkflowStep,
)
from ..tracebacks import format_user_traceback

#: Longest traceback an entry keeps (its end, where the error is, is what is kept).
MAX_TRACEBACK_CHARS = 8_000
#: Longest title or error message an entry keeps.
MAX_TEXT_CHARS = 500

Document = dict[str, Any]


def error_document(error: BaseException | None) -> Document | None:
    if error is None:
        return None
    trace = format_user_traceback(error)
    if len(trace) > MAX_TRACEBACK_CHARS:
        trace = "…" + trace[-(MAX_TRACEBACK_CHARS - 1) :]
    return {"type": type(error).__name__, "message": cut_text(str(error)), "traceback": trace}


def cut_text(text: str) -> str:
    """``text`` cut to MAX_TEXT_CHARS (an ellipsis says so)."""
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def _level(outcome: str) -> str:
    return "info" if outcome == "ok" else "error"


def request_entry(event: RequestServed) -> Document:
    return {
        "kind": "request",
        "worker": event.worker,
        "title": cut_text(f"{event.method} {event.target} {event.status}"),
        "level": "error" if event.status >= 500 else "info",
        "method": event.method,
        "target": cut_text(event.target),
        "status": event.status,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
    }


def batch_entry(event: BatchDelivered, fates: Mapping[str, Document]) -> Document:
    """A delivered batch; ``fates`` tells what became of each message that was not acked."""
    acked = set(event.acked)
    messages = []
    for index, message in enumerate(event.messages):
        fate = {"fate": "acked"} if index in acked else fates.get(message.id, {"fate": "retried"})
        messages.append({"id": message.id, "attempts": message.attempts, **fate})
    return {
        "kind": "batch",
        "worker": event.worker,
        "title": f"QUEUE {event.queue} {len(acked)}/{len(messages)}",
        "level": _level(event.outcome) if len(acked) == len(messages) else "warning",
        "queue": event.queue,
        "outcome": event.outcome,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
        "messages": messages,
    }


def retried_fate(event: MessageRetried) -> tuple[str, Document]:
    return event.message_id, {"fate": "retried", "delay_s": event.delay_s}


def dead_lettered_fate(event: MessageDeadLettered) -> tuple[str, Document]:
    return event.message.id, {"fate": "dead-lettered", "to": event.dead_letter_queue}


def dropped_fate(event: MessageDropped) -> tuple[str, Document]:
    return event.message.id, {"fate": "dropped"}


def dead_lettered_entry(event: MessageDeadLettered) -> Document:
    return {
        "kind": "dead_letter",
        "worker": "",
        "title": f"Message {event.message.id} moved from {event.queue} to {event.dead_letter_queue} "
        f"after {event.attempts} failed attempts",
        "level": "warning",
        "queue": event.queue,
        "to": event.dead_letter_queue,
        "message_id": event.message.id,
        "attempts": event.attempts,
    }


def dropped_entry(event: MessageDropped) -> Document:
    return {
        "kind": "drop",
        "worker": "",
        "title": f"Message {event.message.id} dropped from {event.queue} "
        f"after {event.attempts} failed attempts",
        "level": "warning",
        "queue": event.queue,
        "message_id": event.message.id,
        "attempts": event.attempts,
    }


def cron_entry(event: CronRun) -> Document:
    return {
        "kind": "cron",
        "worker": event.worker,
        "title": f'SCHEDULED "{event.cron}" {event.outcome}',
        "level": _level(event.outcome),
        "cron": event.cron,
        "scheduled_ms": event.scheduled_time_ms,
        "outcome": event.outcome,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
    }


def rpc_entry(event: RpcCall) -> Document:
    return {
        "kind": "rpc",
        "worker": event.worker,
        "title": f"RPC {event.worker}.{event.method} {event.outcome}",
        "level": _level(event.outcome),
        "caller": event.caller,
        "method": event.method,
        "outcome": event.outcome,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
    }


def alarm_entry(event: AlarmRun) -> Document:
    return {
        "kind": "alarm",
        "worker": event.worker,
        "title": f"ALARM {event.class_name} {event.object_id[:8]} {event.outcome}",
        "level": _level(event.outcome),
        "class_name": event.class_name,
        "object_id": event.object_id,
        "retry_count": event.retry_count,
        "outcome": event.outcome,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
    }


def workflow_step_entry(event: WorkflowStep) -> Document:
    return {
        "kind": "workflow_step",
        "worker": "",
        "title": f"WORKFLOW {event.workflow} {event.instance_id} {cut_text(event.step)} {event.outcome}",
        "level": {"ok": "info", "retry": "warning"}.get(event.outcome, "error"),
        "workflow": event.workflow,
        "instance_id": event.instance_id,
        "step": cut_text(event.step),
        "attempt": event.attempt,
        "outcome": event.outcome,
        "duration_ms": event.duration_ms,
        "error": error_document(event.error),
    }


def wait_until_entry(event: WaitUntilFailed) -> Document:
    return {
        "kind": "wait_until",
        "worker": event.worker,
        "title": f"waitUntil work failed: {type(event.error).__name__}",
        "level": "error",
        "outcome": "exception",
        "error": error_document(event.error),
    }


#: The events that become an entry on their own, and how.
ENTRY_OF: Mapping[type[Event], Callable[[Any], Document]] = {
    RequestServed: request_entry,
    CronRun: cron_entry,
    RpcCall: rpc_entry,
    AlarmRun: alarm_entry,
    WorkflowStep: workflow_step_entry,
    WaitUntilFailed: wait_until_entry,
}

#: The events that tell what became of a message of the batch being settled (emitted before it):
#: the message's id and its fate.
FATE_OF: Mapping[type[Event], Callable[[Any], tuple[str, Document]]] = {
    MessageRetried: retried_fate,
    MessageDeadLettered: dead_lettered_fate,
    MessageDropped: dropped_fate,
}

#: Fate events that are also entries of their own, shown after their batch.
FOLLOW_UP_OF: Mapping[type[Event], Callable[[Any], Document]] = {
    MessageDeadLettered: dead_lettered_entry,
    MessageDropped: dropped_entry,
}


def message_ids(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The ids of the messages an entry concerns."""
    if "messages" in document:
        return tuple(message["id"] for message in document["messages"])
    if "message_id" in document:
        return (document["message_id"],)
    return ()
