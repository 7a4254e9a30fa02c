"""A Worker built on jobs_sdk: a signup enqueues a welcome email now and onboarding tips later,
and a small API reads and cancels jobs.

    POST   /signup      {email, name}                       -> 202 {jobIds}
    POST   /jobs        {type, payload, delaySeconds?, maxRetries?, retryDelay?}  -> 202 {jobId}
    GET    /jobs/:id    the job                             GET /jobs?type=&status=&limit=
    DELETE /jobs/:id    cancel it
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jobs_sdk
from workers import Response, WorkerEntrypoint, fetch

DAY_S = 86_400
#: The onboarding emails after a signup: (template, delay in seconds).
ONBOARDING = (("welcome", 0), ("onboarding-tip-1", DAY_S), ("onboarding-tip-2", 3 * DAY_S))


def make_jobs(env: Any) -> jobs_sdk.Jobs:
    jobs = jobs_sdk.Jobs(env.DB, env.JOBS)

    @jobs.handler("send-email")
    async def send_email(payload: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
        response = await fetch(
            env.EMAIL_API_URL,
            method="POST",
            headers={"content-type": "application/json", "idempotency-key": job["id"]},
            body=json.dumps(payload),
        )
        if not response.ok:
            raise RuntimeError(f"the email provider answered {response.status}")
        return {"sent": True, "template": payload.get("template")}

    return jobs


def _error(status: int, message: str) -> Response:
    return Response.json({"success": False, "error": message}, status=status)


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Response:
        url = urlsplit(request.url)
        parts = [part for part in url.path.split("/") if part]
        jobs = make_jobs(self.env)
        try:
            match request.method, parts:
                case "POST", ["signup"]:
                    user = json.loads(await request.text())
                    ids = [
                        await jobs.enqueue(
                            "send-email",
                            {"template": template, "to": user["email"], "data": {"name": user["name"]}},
                            delay_seconds=delay_s,
                        )
                        for template, delay_s in ONBOARDING
                    ]
                    return Response.json({"success": True, "jobIds": ids}, status=202)
                case "POST", ["jobs"]:
                    spec = json.loads(await request.text())
                    job_id = await jobs.enqueue(
                        spec["type"],
                        spec.get("payload"),
                        delay_seconds=spec.get("delaySeconds", 0),
                        max_retries=spec.get("maxRetries", jobs_sdk.DEFAULT_MAX_RETRIES),
                        retry_delay=spec.get("retryDelay", jobs_sdk.DEFAULT_RETRY_DELAY_S),
                    )
                    return Response.json({"success": True, "jobId": job_id}, status=202)
                case "GET", ["jobs"]:
                    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
                    limit = int(query.get("limit", jobs_sdk.DEFAULT_LIST_LIMIT))
                    found = await jobs.list_jobs(
                        type=query.get("type"), status=query.get("status"), limit=limit
                    )
                    return Response.json({"success": True, "count": len(found), "jobs": found})
                case "GET", ["jobs", job_id]:
                    job = await jobs.get_job(job_id)
                    return (
                        Response.json({"success": True, "job": job})
                        if job
                        else _error(404, f"no job {job_id}")
                    )
                case "DELETE", ["jobs", job_id]:
                    if await jobs.cancel_job(job_id):
                        return Response.json({"success": True, "message": "Job cancelled"})
                    return _error(409, f"job {job_id} is not pending or running")
        except (ValueError, KeyError, TypeError) as error:
            return _error(400, f"bad request: {error}")
        return _error(404, f"no route for {request.method} {url.path}")

    async def queue(self, batch: Any, env: Any, ctx: Any) -> None:
        jobs = make_jobs(self.env)
        if batch.queue.endswith("-dlq"):
            await jobs.bury(batch)
        else:
            await jobs.process(batch)
