"""A background job service: an HTTP API over job records in D1, worked through queues.

    POST   /jobs                        {type, payload, priority?, maxAttempts?, delaySeconds?}
                                        -> 202 {success, jobId, message}
    GET    /jobs/:id                    {success, job}
    GET    /jobs?status=&type=&limit=   {success, count, jobs}, highest priority first
    POST   /jobs/:id/retry              a failed job gets a fresh run: {success, message}
    DELETE /jobs/:id                    cancel a pending or running job: {success, message}
    GET    /stats                       {success, stats}
    GET    /health                      {status, service, timestamp}

Jobs of priority ``HIGH_PRIORITY`` and above go through ``jobs-high``, the others through
``jobs``: both are consumed at once, so waiting high-priority jobs never queue behind a backlog
of ordinary ones (and within a batch, higher priority goes first). A message carries
``{jobId, run, priority}``; the consumer retries a failing job with exponential backoff until
the job's ``maxAttempts``, then marks it failed. Deliveries that fail for other reasons (a
malformed message, D1 refusing a write) are left to the queue's own retries, and end in
``jobs-dlq``, whose consumer marks the job failed. A cron deletes completed and cancelled jobs
older than ``JOB_RETENTION_DAYS``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import job_store
from job_types import DAY_MS, JOB_TYPES, InvalidPayload, JobFailed, JobRun
from workers import Response, WorkerEntrypoint

#: The dead-letter queue of both job queues (see wrangler.toml).
DEAD_LETTER_QUEUE = "jobs-dlq"
#: The service's name in /health.
SERVICE = "queue"

DEFAULT_PRIORITY = 0
MAX_PRIORITY = 10
#: Jobs of this priority and above go through the high-priority queue (env.JOBS_HIGH).
HIGH_PRIORITY = 5
DEFAULT_MAX_ATTEMPTS = 3
#: Every attempt after the first is a queue retry: keep this at most the queue's max_retries + 1.
MAX_MAX_ATTEMPTS = 10
#: Cloudflare Queues: the longest delaySeconds of a message (12 hours).
MAX_DELAY_SECONDS = 43_200
#: Largest payload, as JSON.
MAX_PAYLOAD_BYTES = 64_000
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100
#: Backoff between attempts of a failing job: 10 s, 20 s, 40 s... at most 15 minutes.
RETRY_BASE_DELAY_S = 10
RETRY_MAX_DELAY_S = 900
#: How long completed and cancelled jobs are kept, unless the JOB_RETENTION_DAYS var says otherwise.
DEFAULT_RETENTION_DAYS = 7

NEW_JOB_FIELDS = ("type", "payload", "priority", "maxAttempts", "delaySeconds")
MIGRATIONS_HINT = (
    "apply the migrations first: `wrangler d1 migrations apply DB --local` (locally: `workerlab d1 ...`)"
)


def now_ms() -> int:
    """The current time in epoch milliseconds (the tests point this at workerlab's fake clock)."""
    return time.time_ns() // 1_000_000


def backoff_seconds(attempts: int) -> int:
    """The wait before the next attempt, after ``attempts`` failed ones."""
    return min(RETRY_BASE_DELAY_S * 2 ** (attempts - 1), RETRY_MAX_DELAY_S)


class BadRequest(Exception):
    """Invalid input: answered with a 400 and this message."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json({"success": False, "error": message}, status=status, headers=headers)


# --- input validation ----------------------------------------------------------------------


def _whole_number(spec: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = spec.get(key)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}, found {json.dumps(value)}")
    return value


async def read_json_object(request: Any) -> dict[str, Any]:
    text = await request.text()
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BadRequest(f"the request body must be a JSON object; it is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the request body must be a JSON object, found {type(value).__name__}")
    return value


def validate_new_job(spec: dict[str, Any]) -> tuple[str, dict[str, Any], int, int, int]:
    """``(type, payload, priority, maxAttempts, delaySeconds)`` of a POST /jobs body, or BadRequest."""
    unknown = sorted(set(spec) - set(NEW_JOB_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; a job has {', '.join(NEW_JOB_FIELDS)}")
    job_type = spec.get("type")
    if job_type is None:
        raise BadRequest(f"type is required: one of {', '.join(JOB_TYPES)}")
    if job_type not in JOB_TYPES:
        raise BadRequest(f"unknown job type {json.dumps(job_type)}; expected one of {', '.join(JOB_TYPES)}")
    payload = spec.get("payload")
    if payload is None:
        raise BadRequest(f"payload is required: the input of the {job_type} job")
    if not isinstance(payload, dict):
        raise BadRequest(f"payload must be a JSON object, found {json.dumps(payload)[:50]}")
    size = len(json.dumps(payload).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise BadRequest(f"payload is {size} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        JOB_TYPES[job_type].validate(payload)
    except InvalidPayload as error:
        raise BadRequest(f"invalid {job_type} payload: {error}") from None
    priority = _whole_number(spec, "priority", DEFAULT_PRIORITY, 0, MAX_PRIORITY)
    max_attempts = _whole_number(spec, "maxAttempts", DEFAULT_MAX_ATTEMPTS, 1, MAX_MAX_ATTEMPTS)
    delay_s = _whole_number(spec, "delaySeconds", 0, 0, MAX_DELAY_SECONDS)
    return job_type, payload, priority, max_attempts, delay_s


def _query_value(query: dict[str, list[str]], key: str) -> str | None:
    values = [v for v in query.get(key, []) if v != ""]
    return values[-1] if values else None


def _list_filters(query: dict[str, list[str]]) -> tuple[str | None, str | None, int]:
    status, job_type = _query_value(query, "status"), _query_value(query, "type")
    if status is not None and status not in job_store.STATUSES:
        raise BadRequest(
            f"unknown status {json.dumps(status)}; expected one of {', '.join(job_store.STATUSES)}"
        )
    if job_type is not None and job_type not in JOB_TYPES:
        raise BadRequest(f"unknown job type {json.dumps(job_type)}; expected one of {', '.join(JOB_TYPES)}")
    limit_text = _query_value(query, "limit")
    if limit_text is None:
        return status, job_type, DEFAULT_LIST_LIMIT
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIST_LIMIT:
        raise BadRequest(
            f"limit must be a whole number from 1 to {MAX_LIST_LIMIT}, found {json.dumps(limit_text)}"
        )
    return status, job_type, int(limit_text)


def _job_ref(body: Any) -> tuple[str, int]:
    """The job a queue message is about."""
    job_id = body.get("jobId") if isinstance(body, dict) else None
    run = body.get("run") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not isinstance(run, int):
        raise ValueError(
            f"expected a message like {{jobId, run}}, found {json.dumps(body, default=repr)[:100]}"
        )
    return job_id, run


def _percent(part: int, total: int) -> float:
    return round(100 * part / total, 2) if total else 0.0


# --- the worker ----------------------------------------------------------------------------


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Response:
        url = urlsplit(request.url)
        parts = [segment for segment in url.path.split("/") if segment]
        try:
            return await self.route(request.method, parts, parse_qs(url.query), request)
        except BadRequest as error:
            return error_response(400, str(error))
        except Exception as error:
            if "no such table" not in str(error):
                raise
            return error_response(500, f"{error}: {MIGRATIONS_HINT}")

    async def route(
        self, method: str, parts: list[str], query: dict[str, list[str]], request: Any
    ) -> Response:
        match method, parts:
            case "GET", [] | ["health"]:
                return await self.health()
            case "POST", ["jobs"]:
                return await self.create_job(await read_json_object(request))
            case "GET", ["jobs"]:
                return await self.list_jobs(query)
            case "GET", ["jobs", job_id]:
                return await self.get_job(job_id)
            case "DELETE", ["jobs", job_id]:
                return await self.cancel_job(job_id)
            case "POST", ["jobs", job_id, "retry"]:
                return await self.retry_job(job_id)
            case "GET", ["stats"]:
                return await self.stats()
        allowed = _allowed_methods(parts)
        if allowed:
            return error_response(
                405,
                f"{method} is not allowed on /{'/'.join(parts)}; use {', '.join(allowed)}",
                {"allow": ", ".join(allowed)},
            )
        return error_response(404, f"no route for {method} /{'/'.join(parts)}")

    # --- HTTP API ----------------------------------------------------------------------------

    async def health(self) -> Response:
        answer = {"status": "ok", "service": SERVICE, "timestamp": job_store.iso(now_ms())}
        try:
            await self.env.DB.prepare("SELECT COUNT(*) AS jobs FROM jobs").first()
        except Exception as error:
            return Response.json({**answer, "status": "error", "error": f"{error}"}, status=503)
        return Response.json(answer)

    async def create_job(self, spec: dict[str, Any]) -> Response:
        job_type, payload, priority, max_attempts, delay_s = validate_new_job(spec)
        job_id = str(uuid.uuid4())
        now = now_ms()
        await job_store.insert_job(self.env.DB, job_id, job_type, payload, priority, max_attempts, now)
        refusal = await self.enqueue(job_id, 1, priority, delay_s)
        if refusal is not None:
            return refusal
        message = "Job enqueued successfully"
        if delay_s:
            message += f"; it starts in {delay_s} seconds"
        return Response.json({"success": True, "jobId": job_id, "message": message}, status=202)

    async def list_jobs(self, query: dict[str, list[str]]) -> Response:
        status, job_type, limit = _list_filters(query)
        rows = await job_store.list_jobs(self.env.DB, status, job_type, limit)
        return Response.json(
            {"success": True, "count": len(rows), "jobs": [job_store.public_job(r) for r in rows]}
        )

    async def get_job(self, job_id: str) -> Response:
        row = await job_store.get_job(self.env.DB, job_id)
        if row is None:
            return error_response(404, f"no job with id {job_id}")
        return Response.json({"success": True, "job": job_store.public_job(row, with_payload=True)})

    async def cancel_job(self, job_id: str) -> Response:
        if await job_store.cancel(self.env.DB, job_id, now_ms()):
            # A message still on the way is acked without running the job; a run in progress
            # finishes, but its outcome is not recorded over the cancellation.
            return Response.json({"success": True, "message": "Job cancelled"})
        return await self._refusal(job_id, "Only pending or running jobs can be cancelled")

    async def retry_job(self, job_id: str) -> Response:
        row = await job_store.start_new_run(self.env.DB, job_id, now_ms())
        if row is None:
            return await self._refusal(job_id, "Only failed jobs can be retried")
        refusal = await self.enqueue(job_id, row["run"], row["priority"], 0)
        if refusal is not None:
            return refusal
        return Response.json({"success": True, "message": "Job retry queued"}, status=202)

    async def _refusal(self, job_id: str, rule: str) -> Response:
        row = await job_store.get_job(self.env.DB, job_id)
        if row is None:
            return error_response(404, f"no job with id {job_id}")
        return error_response(409, f"{rule}; job {job_id} is {row['status']}")

    async def stats(self) -> Response:
        counts = await job_store.count_by_status(self.env.DB)
        total = sum(counts.values())
        completion, failure = _percent(counts["completed"], total), _percent(counts["failed"], total)
        stats = {
            "total": total,
            **counts,
            # As the API has always shown them ("92.00%"), and as numbers for programs.
            "completionRate": f"{completion:.2f}%",
            "failureRate": f"{failure:.2f}%",
            "completionPercent": completion,
            "failurePercent": failure,
        }
        return Response.json({"success": True, "stats": stats})

    async def enqueue(self, job_id: str, run: int, priority: int, delay_s: int) -> Response | None:
        """Send the job's message to the queue of its priority; if the queue refuses it, fail the
        job and answer 503."""
        queue = self.env.JOBS
        if priority >= HIGH_PRIORITY and getattr(self.env, "JOBS_HIGH", None) is not None:
            queue = self.env.JOBS_HIGH
        try:
            await queue.send({"jobId": job_id, "run": run, "priority": priority}, delaySeconds=delay_s)
        except Exception as error:
            await job_store.fail(self.env.DB, job_id, run, f"Could not be queued: {error}", now_ms())
            return error_response(503, f"job {job_id} is recorded but could not be queued: {error}")
        return None

    # --- queue consumers ---------------------------------------------------------------------

    async def queue(self, batch: Any, env: Any, ctx: Any) -> None:
        if batch.queue == DEAD_LETTER_QUEUE:
            await self.bury(batch)
            return
        # Within a batch, higher priority goes first.
        for message in sorted(batch.messages, key=_message_priority, reverse=True):
            try:
                await self.work_on(message)
            except Exception as error:
                # Not the job's fault (a malformed message, D1 refusing a write): the queue retries
                # the message after its retry_delay and, after max_retries, dead-letters it.
                print(f"delivery of message {message.id} failed: {error!r}")
                await self._note_delivery_error(message, error)
                message.retry()

    async def work_on(self, message: Any) -> None:
        job_id, run = _job_ref(message.body)
        db = self.env.DB
        row = await job_store.claim(db, job_id, run, now_ms())
        if row is None:
            # Cancelled, finished, deleted or superseded by a retry: a stale or repeated delivery.
            message.ack()
            return
        try:
            job_type = JOB_TYPES.get(row["type"])
            if job_type is None:
                raise JobFailed(f"unknown job type {row['type']!r}", retryable=False)
            attempt = JobRun(job_id, run, row["attempts"], json.loads(row["payload"]), self.env, now_ms())
            result = await job_type.process(attempt)
        except Exception as error:
            await self._attempt_failed(message, row, error)
            return
        await job_store.complete(db, job_id, run, result, now_ms())
        message.ack()

    async def _attempt_failed(self, message: Any, row: dict[str, Any], error: Exception) -> None:
        attempts, max_attempts = row["attempts"], row["max_attempts"]
        reason = f"{error}" or type(error).__name__
        retryable = getattr(error, "retryable", True)
        if retryable and attempts < max_attempts:
            delay_s = backoff_seconds(attempts)
            text = f"Attempt {attempts} of {max_attempts} failed: {reason} (next attempt in {delay_s} s)"
            if await job_store.retry_later(self.env.DB, row["id"], row["run"], text, now_ms()):
                message.retry(delaySeconds=delay_s)
            else:  # cancelled while it ran: no next attempt
                message.ack()
            return
        final = "" if retryable else " (retrying cannot help)"
        text = f"Attempt {attempts} of {max_attempts} failed{final}: {reason}"
        await job_store.fail(self.env.DB, row["id"], row["run"], text, now_ms())
        message.ack()

    async def _note_delivery_error(self, message: Any, error: Exception) -> None:
        try:
            job_id, run = _job_ref(message.body)
            await job_store.record_error(self.env.DB, job_id, run, f"Delivery failed: {error}", now_ms())
        except Exception:
            pass  # the failure we are noting may be D1's own

    async def bury(self, batch: Any) -> None:
        """Dead letters: the job's message failed every delivery the queue allows."""
        for message in batch.messages:
            try:
                job_id, run = _job_ref(message.body)
            except ValueError as error:
                print(f"dead letter {message.id} names no job ({error}); dropping it")
                message.ack()
                continue
            row = await job_store.get_job(self.env.DB, job_id)
            text = (
                "Gave up: the queue moved this job to the dead-letter queue after repeated delivery failures"
            )
            if row is not None and row["error"]:
                text += f" (last error: {row['error']})"
            if await job_store.fail(self.env.DB, job_id, run, text, now_ms()):
                print(f"job {job_id} failed: dead-lettered")
            message.ack()

    # --- cron --------------------------------------------------------------------------------

    async def scheduled(self, controller: Any, env: Any, ctx: Any) -> None:
        days = int(getattr(self.env, "JOB_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
        cutoff_ms = controller.scheduledTime - days * DAY_MS
        deleted = await job_store.delete_finished_before(self.env.DB, cutoff_ms)
        print(f"cleanup: deleted {deleted} finished job(s) older than {job_store.iso(cutoff_ms)}")


def _message_priority(message: Any) -> int:
    body = message.body
    priority = body.get("priority") if isinstance(body, dict) else None
    return priority if isinstance(priority, int) else DEFAULT_PRIORITY


def _allowed_methods(parts: list[str]) -> list[str]:
    match parts:
        case [] | ["health"] | ["stats"]:
            return ["GET"]
        case ["jobs"]:
            return ["GET", "POST"]
        case ["jobs", _]:
            return ["GET", "DELETE"]
        case ["jobs", _, "retry"]:
            return ["POST"]
    return []
