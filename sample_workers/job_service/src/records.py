"""Job types that work on D1: batch-import upserts rows (running it twice is harmless) and
generate-report summarises the job records themselves."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from jobs_base import DAY_MS, InvalidPayload, JobFailed, JobRun, text, whole

#: Most items one batch-import job may carry (keeps one run well inside D1's per-invocation limits).
MAX_IMPORT_ITEMS = 500
#: Longest look-back of a report, and its default.
MAX_REPORT_DAYS = 90
DEFAULT_REPORT_DAYS = 7
#: Report periods (``reportType``) and the days each looks back.
PERIODS = {"daily": 1, "weekly": 7, "monthly": 30}

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_UPSERT = """
INSERT INTO imported_records (source, record_id, data, job_id, imported_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source, record_id) DO UPDATE SET
    data = excluded.data, job_id = excluded.job_id, imported_at = excluded.imported_at
"""


# --- batch-import --------------------------------------------------------------------------


def _import_keys(payload: dict[str, Any]) -> tuple[str, str]:
    """Where the namespace and the items are: the seed's ``{items, namespace}``, or ``{records, source}``."""
    namespace_key = "namespace" if "namespace" in payload or "source" not in payload else "source"
    items_key = "items" if "items" in payload or "records" not in payload else "records"
    return namespace_key, items_key


def validate_import(payload: dict[str, Any]) -> None:
    namespace_key, items_key = _import_keys(payload)
    text(payload, namespace_key, max_chars=100)
    items = payload.get(items_key)
    if not isinstance(items, list) or not items:
        raise InvalidPayload(f"payload.{items_key} must be a non-empty list of objects")
    if len(items) > MAX_IMPORT_ITEMS:
        raise InvalidPayload(
            f"payload.{items_key} may hold at most {MAX_IMPORT_ITEMS} items, found {len(items)}"
        )


def _record_id(item: dict[str, Any]) -> str | None:
    """The item's own ``id``, else a digest of its content (the same item imports to the same row)."""
    item_id = item.get("id")
    if item_id is None:
        return hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()[:32]
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
        return None
    return str(item_id)


async def import_items(job: JobRun) -> dict[str, Any]:
    namespace_key, items_key = _import_keys(job.payload)
    namespace, items = job.payload[namespace_key], job.payload[items_key]
    statements, problems = [], []
    for index, item in enumerate(items):
        record_id = _record_id(item) if isinstance(item, dict) else None
        if record_id is None:
            found = json.dumps(item.get("id") if isinstance(item, dict) else item)[:50]
            problems.append(
                {"index": index, "problem": f"expected an object with a string or integer id, found {found}"}
            )
            continue
        statements.append(
            job.env.DB.prepare(_UPSERT).bind(namespace, record_id, json.dumps(item), job.id, job.now_ms)
        )
    if not statements:
        raise JobFailed(
            f"batch-import: none of the {len(items)} items can be imported: {problems[0]['problem']}",
            retryable=False,
        )
    await job.env.DB.batch(statements)  # one transaction: all rows or none
    return {
        "namespace": namespace,
        "imported": len(statements),
        "skipped": len(problems),
        "problems": problems[:10],
    }


# --- generate-report -----------------------------------------------------------------------


async def _job_activity(job: JobRun, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    result = (
        await job.env.DB.prepare(
            "SELECT type, status, COUNT(*) AS count FROM jobs WHERE created_at >= ? AND created_at < ? "
            "GROUP BY type, status ORDER BY type, status"
        )
        .bind(since_ms, until_ms)
        .all()
    )
    return [dict(row) for row in result["results"]]


async def _daily_volume(job: JobRun, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    result = (
        await job.env.DB.prepare(
            "SELECT created_at / ? AS day, COUNT(*) AS created, "
            "SUM(status = 'completed') AS completed, SUM(status = 'failed') AS failed "
            "FROM jobs WHERE created_at >= ? AND created_at < ? GROUP BY day ORDER BY day"
        )
        .bind(DAY_MS, since_ms, until_ms)
        .all()
    )
    rows = []
    for row in result["results"]:
        day = datetime.fromtimestamp(row["day"] * DAY_MS / 1000, UTC).date().isoformat()
        rows.append(
            {"day": day, "created": row["created"], "completed": row["completed"], "failed": row["failed"]}
        )
    return rows


REPORTS: dict[str, Callable[[JobRun, int, int], Awaitable[list[dict[str, Any]]]]] = {
    "job-activity": _job_activity,
    "daily-volume": _daily_volume,
}


def _report_name(payload: dict[str, Any]) -> str:
    return payload.get("report", payload.get("reportType", "job-activity"))


def validate_report(payload: dict[str, Any]) -> None:
    """``{report?, days?}``, or the seed's ``{reportType: daily|weekly|monthly, month?: YYYY-MM}``."""
    name = _report_name(payload)
    if name not in REPORTS and name not in PERIODS:
        names = ", ".join([*REPORTS, *PERIODS])
        raise InvalidPayload(
            f"payload.report (or reportType) must be one of {names}, found {json.dumps(name)}"
        )
    whole(payload, "days", PERIODS.get(name, DEFAULT_REPORT_DAYS), 1, MAX_REPORT_DAYS)
    month = payload.get("month")
    if month is not None and not (isinstance(month, str) and _MONTH.match(month)):
        raise InvalidPayload(f"payload.month must be a month like 2026-03, found {json.dumps(month)}")


def _month_window(month: str) -> tuple[int, int]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


async def generate_report(job: JobRun) -> dict[str, Any]:
    payload = job.payload
    name = _report_name(payload)
    days = payload.get("days", PERIODS.get(name, DEFAULT_REPORT_DAYS))
    if payload.get("month"):
        since_ms, until_ms = _month_window(payload["month"])
    else:
        since_ms, until_ms = job.now_ms - days * DAY_MS, job.now_ms + 1
    rows = await REPORTS.get(name, _job_activity)(job, since_ms, until_ms)
    report: dict[str, Any] = {"report": name, "days": days, "rows": rows}
    if payload.get("month"):
        report["month"] = payload["month"]
    return report
