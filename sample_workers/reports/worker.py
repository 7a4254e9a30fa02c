"""Reports rendered in the background: ask for one, get its id at once, poll until it is ready.

``POST /reports`` records the report as ``queued`` in KV, queues the job and answers 202 with
the id. The consumer fetches the rows from the data API, renders them as CSV into R2 and marks
the report ``done``; a failure is retried a minute later (``retry_delay``), and a job that
keeps failing lands in the dead-letter queue, whose consumer marks the report ``failed``.
``GET /reports/<id>`` polls the status, ``GET /reports/<id>/download`` returns the CSV.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date
from urllib.parse import urlencode, urlparse

from workers import Response, WorkerEntrypoint, fetch

#: The reports the data API can produce.
KINDS = ("sales", "signups")
#: The queue the consumer gives up into (``dead_letter_queue`` in wrangler.toml).
DEAD_LETTER_QUEUE = "reports-dlq"
#: How long a report's status is kept in KV.
STATUS_TTL_S = 7 * 24 * 60 * 60


class DataSourceError(Exception):
    """The data API answered, but not with the rows."""


def status_key(report_id: str) -> str:
    return f"report:{report_id}"


def object_key(report_id: str) -> str:
    return f"reports/{report_id}.csv"


def invalid(data) -> str | None:
    """Why ``data`` is not a valid report request, or None."""
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    try:
        start, end = date.fromisoformat(data.get("from", "")), date.fromisoformat(data.get("to", ""))
    except (TypeError, ValueError):
        return "from and to must be dates written YYYY-MM-DD"
    return "from must not be after to" if start > end else None


def render_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def load(env, report_id: str) -> dict | None:
    return await env.REPORT_STATUS.get(status_key(report_id), type="json")


async def save(env, report: dict) -> None:
    await env.REPORT_STATUS.put(status_key(report["id"]), json.dumps(report), expirationTtl=STATUS_TTL_S)


async def fetch_rows(env, job: dict) -> list[dict]:
    query = urlencode({"from": job["from"], "to": job["to"]})
    response = await fetch(
        f"{env.DATA_API_URL}/{job['kind']}?{query}", headers={"accept": "application/json"}
    )
    if not response.ok:
        raise DataSourceError(f"the data API answered {response.status}")
    return (await response.json())["rows"]


def not_found(what: str) -> Response:
    return Response.json({"error": f"no {what}"}, status=404)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        match request.method, path.strip("/").split("/"):
            case "POST", ["reports"]:
                return await self.request_report(await request.json())
            case "GET", ["reports", report_id]:
                report = await load(self.env, report_id)
                return Response.json(report) if report else not_found(f"report {report_id}")
            case "GET", ["reports", report_id, "download"]:
                return await self.download(report_id)
        return not_found(f"route for {request.method} {path}")

    async def request_report(self, data) -> Response:
        error = invalid(data)
        if error:
            return Response.json({"error": error}, status=400)
        job = {"id": uuid.uuid4().hex, "kind": data["kind"], "from": data["from"], "to": data["to"]}
        await save(self.env, {**job, "status": "queued"})
        await self.env.REPORT_JOBS.send(job)
        location = f"/reports/{job['id']}"
        return Response.json({**job, "status": "queued"}, status=202, headers={"location": location})

    async def download(self, report_id: str) -> Response:
        report = await self.env.REPORTS.get(object_key(report_id))
        if report is None:
            return not_found(f"rendered report {report_id}")
        headers = {
            "content-type": report.httpMetadata.contentType,
            "content-disposition": report.httpMetadata.contentDisposition,
            "etag": report.httpEtag,
        }
        return Response(await report.bytes(), headers=headers)

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            if batch.queue == DEAD_LETTER_QUEUE:
                report = await load(env, message.body["id"]) or message.body
                await save(env, {**report, "status": "failed"})
            else:
                await self.render(env, message)

    async def render(self, env, message) -> None:
        job = message.body
        report = await load(env, job["id"]) or {**job, "status": "queued"}
        if report["status"] == "done":
            message.ack()  # delivered again after it was rendered (at-least-once): nothing to do
            return
        filename = f"{job['kind']}-{job['from']}-{job['to']}.csv"
        try:
            rows = await fetch_rows(env, job)
            text = render_csv(rows)
            await env.REPORTS.put(
                object_key(job["id"]),
                text,
                httpMetadata={
                    "contentType": "text/csv; charset=utf-8",
                    "contentDisposition": f'attachment; filename="{filename}"',
                },
                customMetadata={"kind": job["kind"]},
            )
        except (DataSourceError, OSError) as error:  # OSError: the data API could not be reached
            await save(env, {**report, "attempts": message.attempts, "lastError": str(error)})
            message.retry()  # after retry_delay, from wrangler.toml
            return
        done = {
            "status": "done",
            "attempts": message.attempts,
            "rows": len(rows),
            "bytes": len(text.encode()),
        }
        await save(env, {**report, **done, "download": f"/reports/{job['id']}/download"})
        message.ack()
