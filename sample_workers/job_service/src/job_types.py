"""The four job types: what each payload must hold, and the work each one does.

``send-email`` and ``webhook-delivery`` call out with ``workers.fetch`` to the endpoints
configured in ``[vars]``; ``batch-import`` upserts rows into D1 (so running it twice is
harmless); ``generate-report`` summarises the job records themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workers import fetch

#: Most rows one batch-import job may carry (keeps one run well inside D1's per-invocation query limit).
MAX_IMPORT_RECORDS = 500
#: Longest email subject we accept.
MAX_SUBJECT_CHARS = 200
#: Longest look-back of a report.
MAX_REPORT_DAYS = 90
DEFAULT_REPORT_DAYS = 7
#: Statuses after which another attempt may succeed (the provider is busy or down).
RETRYABLE_STATUSES = frozenset({408, 425, 429})
#: How much of an error response to keep in the job's error.
ERROR_DETAIL_CHARS = 200

DAY_MS = 86_400_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class InvalidPayload(ValueError):
    """A payload that does not fit its job type: the API answers 400 with this message."""


class JobFailed(Exception):
    """One attempt of a job failed; ``retryable`` False means another attempt cannot help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class JobRun:
    """One attempt at a job, as a processor sees it."""

    id: str
    run: int
    attempt: int
    payload: dict[str, Any]
    env: Any
    now_ms: int


@dataclass(frozen=True)
class JobType:
    """How to check a type's payload (raises InvalidPayload) and how to do its work (returns the result)."""

    validate: Callable[[dict[str, Any]], None]
    process: Callable[[JobRun], Awaitable[dict[str, Any]]]


# --- payload validation --------------------------------------------------------------------


def _text(payload: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        found = "nothing" if value is None else json.dumps(value)
        raise InvalidPayload(f"payload.{key} must be a non-empty string, found {found}")
    return value


def validate_email(payload: dict[str, Any]) -> None:
    to = _text(payload, "to")
    if not _EMAIL.match(to or ""):
        raise InvalidPayload(f"payload.to must be an email address, found {json.dumps(to)}")
    subject = _text(payload, "subject") or ""
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidPayload(
            f"payload.subject may have at most {MAX_SUBJECT_CHARS} characters, found {len(subject)}"
        )
    text, html = _text(payload, "text", required=False), _text(payload, "html", required=False)
    if text is None and html is None:
        raise InvalidPayload("payload needs the message as payload.text or payload.html (or both)")


def validate_webhook(payload: dict[str, Any]) -> None:
    event = _text(payload, "event")
    if not _EVENT_NAME.match(event or ""):
        raise InvalidPayload(
            f"payload.event must be a name like order.created (1-100 of A-Z a-z 0-9 _ . : -), "
            f"found {json.dumps(event)}"
        )
    if not isinstance(payload.get("data"), dict):
        raise InvalidPayload(f"payload.data must be a JSON object, found {json.dumps(payload.get('data'))}")


def validate_import(payload: dict[str, Any]) -> None:
    _text(payload, "source")
    records = payload.get("records")
    if not isinstance(records, list) or not records:
        raise InvalidPayload("payload.records must be a non-empty list of objects")
    if len(records) > MAX_IMPORT_RECORDS:
        raise InvalidPayload(
            f"payload.records may hold at most {MAX_IMPORT_RECORDS} records, found {len(records)}"
        )


def validate_report(payload: dict[str, Any]) -> None:
    report = payload.get("report")
    if report not in REPORTS:
        raise InvalidPayload(
            f"payload.report must be one of {', '.join(REPORTS)}, found {json.dumps(report)}"
        )
    days = payload.get("days", DEFAULT_REPORT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_REPORT_DAYS:
        raise InvalidPayload(
            f"payload.days must be a whole number from 1 to {MAX_REPORT_DAYS}, found {json.dumps(days)}"
        )


# --- outbound calls ------------------------------------------------------------------------


async def _post(url: str, body: str, headers: dict[str, str], what: str) -> Any:
    """POST ``body``; a refusal is a failed attempt, retryable when the other side is busy or down."""
    try:
        response = await fetch(
            url, method="POST", headers={"content-type": "application/json", **headers}, body=body
        )
    except Exception as error:
        raise JobFailed(f"{what}: could not reach {url}: {error}") from error
    if response.ok:
        return response
    detail = (await response.text())[:ERROR_DETAIL_CHARS]
    retryable = response.status in RETRYABLE_STATUSES or response.status >= 500
    raise JobFailed(f"{what}: {url} answered {response.status}: {detail}", retryable=retryable)


async def send_email(job: JobRun) -> dict[str, Any]:
    payload, env = job.payload, job.env
    message = {"from": env.EMAIL_FROM, "to": payload["to"], "subject": payload["subject"]}
    message.update({key: payload[key] for key in ("text", "html") if payload.get(key)})
    # The same key on every attempt of one run: the provider sends the email once even if we
    # retry after it accepted the message but before we recorded that.
    headers = {"idempotency-key": f"{job.id}-{job.run}"}
    api_key = getattr(env, "EMAIL_API_KEY", None)
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    response = await _post(env.EMAIL_API_URL, json.dumps(message), headers, "send-email")
    try:
        receipt = await response.json()
    except ValueError:
        receipt = {}
    provider_id = receipt.get("id") if isinstance(receipt, dict) else None
    return {"to": payload["to"], "providerMessageId": provider_id}


async def deliver_webhook(job: JobRun) -> dict[str, Any]:
    payload, env = job.payload, job.env
    body = json.dumps(
        {"id": job.id, "event": payload["event"], "data": payload["data"]}, separators=(",", ":")
    )
    # Receivers deduplicate on X-Webhook-Id: a delivery may arrive more than once.
    headers = {"x-webhook-event": payload["event"], "x-webhook-id": job.id}
    secret = getattr(env, "WEBHOOK_SECRET", None)
    if secret:
        digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        headers["x-webhook-signature"] = f"sha256={digest}"
    response = await _post(env.WEBHOOK_URL, body, headers, "webhook-delivery")
    return {"deliveredTo": env.WEBHOOK_URL, "status": response.status}


# --- work on D1 ----------------------------------------------------------------------------

_UPSERT_RECORD = """
INSERT INTO imported_records (source, record_id, data, job_id, imported_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source, record_id) DO UPDATE SET
    data = excluded.data, job_id = excluded.job_id, imported_at = excluded.imported_at
"""


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"expected an object, found {json.dumps(record)[:50]}"
    record_id = record.get("id")
    if isinstance(record_id, bool) or not isinstance(record_id, str | int) or record_id == "":
        return f"expected an 'id' (string or integer), found {json.dumps(record_id)}"
    return None


async def import_records(job: JobRun) -> dict[str, Any]:
    source, records = job.payload["source"], job.payload["records"]
    statements, problems = [], []
    for index, record in enumerate(records):
        problem = _record_problem(record)
        if problem is not None:
            problems.append({"index": index, "problem": problem})
            continue
        statements.append(
            job.env.DB.prepare(_UPSERT_RECORD).bind(
                source, str(record["id"]), json.dumps(record), job.id, job.now_ms
            )
        )
    if not statements:
        raise JobFailed(
            f"batch-import: none of the {len(records)} records is valid: {problems[0]['problem']}",
            retryable=False,
        )
    await job.env.DB.batch(statements)  # one transaction: all rows or none
    return {
        "source": source,
        "imported": len(statements),
        "skipped": len(problems),
        "problems": problems[:10],
    }


async def _job_activity(job: JobRun, since_ms: int) -> list[dict[str, Any]]:
    result = (
        await job.env.DB.prepare(
            "SELECT type, status, COUNT(*) AS count FROM jobs WHERE created_at >= ? "
            "GROUP BY type, status ORDER BY type, status"
        )
        .bind(since_ms)
        .all()
    )
    return [dict(row) for row in result["results"]]


async def _daily_volume(job: JobRun, since_ms: int) -> list[dict[str, Any]]:
    result = (
        await job.env.DB.prepare(
            "SELECT created_at / ? AS day, COUNT(*) AS created, "
            "SUM(status = 'completed') AS completed, SUM(status = 'failed') AS failed "
            "FROM jobs WHERE created_at >= ? GROUP BY day ORDER BY day"
        )
        .bind(DAY_MS, since_ms)
        .all()
    )
    rows = []
    for row in result["results"]:
        day = datetime.fromtimestamp(row["day"] * DAY_MS / 1000, UTC).date().isoformat()
        rows.append(
            {"day": day, "created": row["created"], "completed": row["completed"], "failed": row["failed"]}
        )
    return rows


REPORTS: dict[str, Callable[[JobRun, int], Awaitable[list[dict[str, Any]]]]] = {
    "job-activity": _job_activity,
    "daily-volume": _daily_volume,
}


async def generate_report(job: JobRun) -> dict[str, Any]:
    name = job.payload["report"]
    days = job.payload.get("days", DEFAULT_REPORT_DAYS)
    rows = await REPORTS[name](job, job.now_ms - days * DAY_MS)
    return {"report": name, "days": days, "rows": rows}


JOB_TYPES: dict[str, JobType] = {
    "send-email": JobType(validate_email, send_email),
    "webhook-delivery": JobType(validate_webhook, deliver_webhook),
    "batch-import": JobType(validate_import, import_records),
    "generate-report": JobType(validate_report, generate_report),
}
