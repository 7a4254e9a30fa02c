"""Job records in D1: every state change is one conditional UPDATE, so duplicates are harmless.

Queues deliver at least once, and a retried job gets a new ``run`` number; each write
names the run and the statuses it may leave, so a late or repeated message changes nothing.
Times are epoch milliseconds; the API shows them as ISO 8601 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
#: Statuses the cleanup cron deletes once they are old enough.
FINISHED_STATUSES = ("completed", "cancelled")


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as an ISO 8601 UTC timestamp (JavaScript's ``toISOString()`` format)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public_job(row: dict[str, Any], *, with_payload: bool = False) -> dict[str, Any]:
    """A job record as the API shows it; fields without a value are left out."""
    job: dict[str, Any] = {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "priority": row["priority"],
        "attempts": row["attempts"],
        "maxAttempts": row["max_attempts"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
    }
    if with_payload:
        job["payload"] = json.loads(row["payload"])
    if row["result"] is not None:
        job["result"] = json.loads(row["result"])
    if row["error"] is not None:
        job["error"] = row["error"]
    if row["started_at"] is not None:
        job["startedAt"] = iso(row["started_at"])
    if row["completed_at"] is not None:
        job["completedAt"] = iso(row["completed_at"])
    return job


_INSERT = """
INSERT INTO jobs (id, type, payload, priority, max_attempts, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_CLAIM = """
UPDATE jobs SET status = 'processing', attempts = attempts + 1, started_at = ?, updated_at = ?
WHERE id = ? AND run = ? AND status IN ('pending', 'processing') RETURNING *
"""
_COMPLETE = """
UPDATE jobs SET status = 'completed', result = ?, error = NULL, completed_at = ?, updated_at = ?
WHERE id = ? AND run = ? AND status = 'processing'
"""
_RETRY_LATER = """
UPDATE jobs SET status = 'pending', error = ?, updated_at = ?
WHERE id = ? AND run = ? AND status = 'processing'
"""
_RECORD_ERROR = """
UPDATE jobs SET error = ?, updated_at = ?
WHERE id = ? AND run = ? AND status IN ('pending', 'processing')
"""
_FAIL = """
UPDATE jobs SET status = 'failed', error = ?, completed_at = ?, updated_at = ?
WHERE id = ? AND run = ? AND status IN ('pending', 'processing')
"""
_CANCEL = """
UPDATE jobs SET status = 'cancelled', completed_at = ?, updated_at = ?
WHERE id = ? AND status IN ('pending', 'processing')
"""
_NEW_RUN = """
UPDATE jobs SET status = 'pending', run = run + 1, attempts = 0, result = NULL, error = NULL,
    started_at = NULL, completed_at = NULL, updated_at = ?
WHERE id = ? AND status = 'failed' RETURNING *
"""
_DELETE_FINISHED = f"""
DELETE FROM jobs
WHERE status IN ({", ".join(f"'{status}'" for status in FINISHED_STATUSES)}) AND completed_at < ?
"""


async def insert_job(
    db: Any, job_id: str, job_type: str, payload: dict[str, Any], priority: int, max_attempts: int, now: int
) -> None:
    statement = db.prepare(_INSERT).bind(
        job_id, job_type, json.dumps(payload), priority, max_attempts, now, now
    )
    await statement.run()


async def get_job(db: Any, job_id: str) -> dict[str, Any] | None:
    return await db.prepare("SELECT * FROM jobs WHERE id = ?").bind(job_id).first()


async def list_jobs(db: Any, status: str | None, job_type: str | None, limit: int) -> list[dict[str, Any]]:
    """Highest priority first, then oldest first: the order the work is meant to go in."""
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if job_type is not None:
        where.append("type = ?")
        params.append(job_type)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    sql = f"SELECT * FROM jobs {clause}ORDER BY priority DESC, created_at ASC, id ASC LIMIT ?"
    result = await db.prepare(sql).bind(*params, limit).all()
    return result["results"]


async def count_by_status(db: Any) -> dict[str, int]:
    result = await db.prepare("SELECT status, COUNT(*) AS count FROM jobs GROUP BY status").all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({row["status"]: row["count"] for row in result["results"]})
    return counts


async def claim(db: Any, job_id: str, run: int, now: int) -> dict[str, Any] | None:
    """Mark the job as processing and count the attempt; None when this run has nothing left to do.

    ``processing`` may be claimed again: that is a redelivery after a consumer died mid-job.
    """
    return await db.prepare(_CLAIM).bind(now, now, job_id, run).first()


async def complete(db: Any, job_id: str, run: int, result: dict[str, Any], now: int) -> None:
    await db.prepare(_COMPLETE).bind(json.dumps(result), now, now, job_id, run).run()


async def retry_later(db: Any, job_id: str, run: int, error: str, now: int) -> bool:
    """Back to pending with the error of the attempt that failed (the queue delivers it again);
    False when the job is no longer running (cancelled meanwhile)."""
    result = await db.prepare(_RETRY_LATER).bind(error, now, job_id, run).run()
    return result["meta"]["changes"] > 0


async def record_error(db: Any, job_id: str, run: int, error: str, now: int) -> None:
    """Note why a delivery failed, without changing the job's status."""
    await db.prepare(_RECORD_ERROR).bind(error, now, job_id, run).run()


async def fail(db: Any, job_id: str, run: int, error: str, now: int) -> bool:
    """Mark the run failed unless it already finished; whether it changed anything."""
    result = await db.prepare(_FAIL).bind(error, now, now, job_id, run).run()
    return result["meta"]["changes"] > 0


async def cancel(db: Any, job_id: str, now: int) -> bool:
    """Cancel a pending job (waiting, delayed or between attempts) or a running one; whether it was
    either. A run in progress is never recorded over the cancellation: every later write of the
    consumer requires the job to be pending or processing."""
    result = await db.prepare(_CANCEL).bind(now, now, job_id).run()
    return result["meta"]["changes"] > 0


async def start_new_run(db: Any, job_id: str, now: int) -> dict[str, Any] | None:
    """Give a failed job a fresh run with all its attempts; None unless it had failed."""
    return await db.prepare(_NEW_RUN).bind(now, job_id).first()


async def delete_finished_before(db: Any, cutoff_ms: int) -> int:
    """Delete completed and cancelled jobs that finished before ``cutoff_ms``; how many went."""
    result = await db.prepare(_DELETE_FINISHED).bind(cutoff_ms).run()
    return result["meta"]["changes"]
