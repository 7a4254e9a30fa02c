"""Background jobs on Cloudflare Queues and D1, as a small module a Worker imports.

Producer side (any handler)::

    jobs = Jobs(env.DB, env.JOBS)
    job_id = await jobs.enqueue("send-email", {"to": ...}, delay_seconds=3600, max_retries=5, retry_delay=30)
    await jobs.get_job(job_id)            # {id, type, status, payload, attempts, maxRetries, ...}
    await jobs.list_jobs(type="send-email", status="pending", limit=50)
    await jobs.cancel_job(job_id)

Consumer side (the queue handler)::

    @jobs.handler("send-email")
    async def send_email(payload, job): ...   # raise to fail this attempt

    async def queue(self, batch, env, ctx):
        await jobs.process(batch)

Each job keeps its own retry policy: a failed attempt is retried ``retry_delay`` seconds later,
up to ``max_retries`` times, then the job is ``failed``. Delays longer than a queue message can
wait (12 hours) are reached in hops. Delivery is at least once: every change of a job's status is
one conditional UPDATE, so a repeated message changes nothing.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY_S = 0
#: Most retries of one job (Cloudflare Queues' max_retries limit, which the queue must allow).
MAX_RETRIES = 100
#: Longest wait of one queue message (Cloudflare Queues: 12 hours); longer delays take hops.
MAX_MESSAGE_DELAY_S = 43_200
#: Longest delay of a job.
MAX_DELAY_S = 30 * 86_400
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 500

Handler = Callable[[Any, dict[str, Any]], Awaitable[Any]]


def now_ms() -> int:
    """The current time in epoch milliseconds (tests point this at workerlab's fake clock)."""
    return time.time_ns() // 1_000_000


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, found {value!r}")
    return value


def _job(row: dict[str, Any]) -> dict[str, Any]:
    """A job record as the SDK returns it (camelCase, ISO 8601 times, absent fields left out)."""
    job = {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "payload": json.loads(row["payload"]),
        "attempts": row["attempts"],
        "maxRetries": row["max_retries"],
        "retryDelay": row["retry_delay"],
        "createdAt": _iso(row["created_at"]),
        "scheduledAt": _iso(row["scheduled_at"]),
    }
    if row["completed_at"] is not None:
        job["completedAt"] = _iso(row["completed_at"])
    if row["result"] is not None:
        job["result"] = json.loads(row["result"])
    if row["error"] is not None:
        job["error"] = row["error"]
    return job


class Jobs:
    """Jobs recorded in the D1 database ``db`` and carried by the queue producer ``queue``."""

    def __init__(self, db: Any, queue: Any) -> None:
        self.db = db
        self.queue = queue
        self.handlers: dict[str, Handler] = {}

    # --- producing -----------------------------------------------------------------------

    async def enqueue(
        self,
        job_type: str,
        payload: Any,
        *,
        delay_seconds: int = 0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: int = DEFAULT_RETRY_DELAY_S,
    ) -> str:
        """Record a job and queue it; its id. It runs after ``delay_seconds``; a failed attempt is
        retried ``retry_delay`` seconds later, ``max_retries`` times at most."""
        if not isinstance(job_type, str) or not job_type:
            raise ValueError(f"the job type must be a non-empty string, found {job_type!r}")
        _whole(delay_seconds, "delay_seconds", 0, MAX_DELAY_S)
        _whole(max_retries, "max_retries", 0, MAX_RETRIES)
        _whole(retry_delay, "retry_delay", 0, MAX_MESSAGE_DELAY_S)
        body = json.dumps(payload)  # a payload JSON cannot carry fails here, before anything is stored
        job_id = str(uuid.uuid4())
        now = now_ms()
        scheduled = now + delay_seconds * 1000
        await (
            self.db.prepare(
                "INSERT INTO sdk_jobs (id, type, payload, max_retries, retry_delay, created_at, "
                "scheduled_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            )
            .bind(job_id, job_type, body, max_retries, retry_delay, now, scheduled, now)
            .run()
        )
        await self._send(job_id, job_type, delay_seconds)
        return job_id

    send = enqueue

    async def _send(self, job_id: str, job_type: str, delay_s: int) -> None:
        await self.queue.send(
            {"jobId": job_id, "type": job_type}, delaySeconds=min(delay_s, MAX_MESSAGE_DELAY_S)
        )

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job ``job_id``, or None."""
        row = await self.db.prepare("SELECT * FROM sdk_jobs WHERE id = ?").bind(job_id).first()
        return None if row is None else _job(row)

    async def list_jobs(
        self, *, type: str | None = None, status: str | None = None, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[dict[str, Any]]:
        """Jobs of a type and/or status, oldest first, ``limit`` at most."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, found {status!r}")
        _whole(limit, "limit", 1, MAX_LIST_LIMIT)
        where, params = [], []
        for column, value in (("type", type), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT * FROM sdk_jobs{clause} ORDER BY created_at, id LIMIT ?"
        result = await self.db.prepare(sql).bind(*params, limit).all()
        return [_job(row) for row in result["results"]]

    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a job that has not finished; whether it was cancelled. A run in progress is not
        recorded over the cancellation."""
        now = now_ms()
        result = (
            await self.db.prepare(
                "UPDATE sdk_jobs SET status = 'cancelled', completed_at = ?, updated_at = ? "
                "WHERE id = ? AND status IN ('pending', 'processing')"
            )
            .bind(now, now, job_id)
            .run()
        )
        return result["meta"]["changes"] > 0

    # --- consuming -----------------------------------------------------------------------

    def handler(self, job_type: str) -> Callable[[Handler], Handler]:
        """Register ``async def work(payload, job)`` for ``job_type``; its return value is the result."""

        def register(work: Handler) -> Handler:
            self.handlers[job_type] = work
            return work

        return register

    async def process(self, batch: Any) -> None:
        """Run the jobs of a batch, each by its type's handler and its own retry policy."""
        for message in batch.messages:
            await self._process(message)

    async def _process(self, message: Any) -> None:
        body = message.body
        job_id = body.get("jobId") if isinstance(body, dict) else None
        row = (
            await self.db.prepare("SELECT * FROM sdk_jobs WHERE id = ?").bind(job_id).first()
            if job_id
            else None
        )
        if row is None or row["status"] not in ("pending", "processing"):
            message.ack()  # unknown, finished or cancelled: nothing to do
            return
        now = now_ms()
        if row["scheduled_at"] > now:  # a delay longer than one message can wait: the next hop
            await self._send(row["id"], row["type"], math.ceil((row["scheduled_at"] - now) / 1000))
            message.ack()
            return
        claimed = (
            await self.db.prepare(
                "UPDATE sdk_jobs SET status = 'processing', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ? AND status IN ('pending', 'processing') RETURNING *"
            )
            .bind(now, row["id"])
            .first()
        )
        if claimed is None:
            message.ack()
            return
        job = _job(claimed)
        work = self.handlers.get(job["type"])
        try:
            if work is None:
                raise LookupError(
                    f"no handler for job type {job['type']!r} (register one with @jobs.handler)"
                )
            result = await work(job["payload"], job)
        except Exception as error:
            await self._failed(message, claimed, f"{type(error).__name__}: {error}")
            return
        done = now_ms()
        await (
            self.db.prepare(
                "UPDATE sdk_jobs SET status = 'completed', result = ?, error = NULL, completed_at = ?, "
                "updated_at = ? WHERE id = ? AND status = 'processing'"
            )
            .bind(json.dumps(result), done, done, claimed["id"])
            .run()
        )
        message.ack()

    async def _failed(self, message: Any, row: dict[str, Any], reason: str) -> None:
        now = now_ms()
        attempts, max_retries = row["attempts"], row["max_retries"]
        if attempts <= max_retries:
            text = f"Attempt {attempts} of {max_retries + 1} failed: {reason}"
            changed = (
                await self.db.prepare(
                    "UPDATE sdk_jobs SET status = 'pending', error = ?, scheduled_at = ?, updated_at = ? "
                    "WHERE id = ? AND status = 'processing'"
                )
                .bind(text, now + row["retry_delay"] * 1000, now, row["id"])
                .run()
            )
            if changed["meta"]["changes"]:
                message.retry(delaySeconds=row["retry_delay"])
                return
        else:
            await (
                self.db.prepare(
                    "UPDATE sdk_jobs SET status = 'failed', error = ?, completed_at = ?, updated_at = ? "
                    "WHERE id = ? AND status = 'processing'"
                )
                .bind(f"Failed after {attempts} attempt(s): {reason}", now, now, row["id"])
                .run()
            )
        message.ack()

    async def bury(self, batch: Any) -> None:
        """Dead letters (their deliveries kept failing before a handler could run): mark the jobs failed."""
        now = now_ms()
        for message in batch.messages:
            job_id = message.body.get("jobId") if isinstance(message.body, dict) else None
            if job_id:
                await (
                    self.db.prepare(
                        "UPDATE sdk_jobs SET status = 'failed', error = ?, completed_at = ?, updated_at = ? "
                        "WHERE id = ? AND status IN ('pending', 'processing')"
                    )
                    .bind("Gave up: the queue dead-lettered this job", now, now, job_id)
                    .run()
                )
            message.ack()
