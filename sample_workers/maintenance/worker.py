"""Scheduled maintenance, each task isolated from the others' failures, and request logging.

Every five minutes the health check probes ``HEALTH_CHECK_URL`` and records the result in KV.
Every hour the expired sessions are deleted and the request log is rolled up into hourly
stats. A task that fails is logged and the others still run; the event then fails too, naming
the failed tasks, so that it shows as an error in the cron history. Every request is logged to
D1 through ``ctx.waitUntil``, after the response is on its way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint, fetch

logger = logging.getLogger("maintenance")

#: The crons of wrangler.toml's [triggers]: ``controller.cron`` is one of them.
EVERY_5_MINUTES = "*/5 * * * *"
HOURLY = "0 * * * *"
HOUR_MS = 60 * 60 * 1000

# Moves every request logged so far (up to ?2) into the counts of the hour ?1. Run in one batch
# with the DELETE below, so a run that is repeated or fails halfway never counts a request twice.
ROLL_UP = """
INSERT INTO hourly_stats (hour, path, requests, errors)
SELECT ?1, path, COUNT(*), SUM(status >= 400) FROM request_log WHERE id <= ?2 GROUP BY path
ON CONFLICT (hour, path) DO UPDATE
SET requests = requests + excluded.requests, errors = errors + excluded.errors
"""


def iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def check_health(env, scheduled_ms: int) -> None:
    """Probe the API and record the result, counting failures in a row."""
    previous = await env.HEALTH.get("latest", type="json") or {}
    try:
        response = await fetch(env.HEALTH_CHECK_URL)
        ok, detail = response.ok, f"answered {response.status}"
    except OSError as error:  # no answer at all
        ok, detail = False, f"unreachable: {error}"
    failures = 0 if ok else previous.get("consecutiveFailures", 0) + 1
    if not ok:
        logger.warning("health check: %s %s (%d in a row)", env.HEALTH_CHECK_URL, detail, failures)
    record = {"ok": ok, "detail": detail, "checkedAt": iso(scheduled_ms), "consecutiveFailures": failures}
    await env.HEALTH.put("latest", json.dumps(record))


async def delete_expired_sessions(env, scheduled_ms: int) -> None:
    statement = env.DB.prepare("DELETE FROM sessions WHERE expires_at <= ?").bind(scheduled_ms // 1000)
    result = await statement.run()
    logger.info("deleted %d expired session(s)", result["meta"]["changes"])


async def aggregate_hour(env, scheduled_ms: int) -> None:
    """Count the requests logged since the last run into the hour that just ended."""
    hour = iso(scheduled_ms // HOUR_MS * HOUR_MS - HOUR_MS)
    last_id = await env.DB.prepare("SELECT MAX(id) AS last_id FROM request_log").first("last_id")
    if last_id is None:
        return
    await env.DB.batch(
        [
            env.DB.prepare(ROLL_UP).bind(hour, last_id),
            env.DB.prepare("DELETE FROM request_log WHERE id <= ?").bind(last_id),
        ]
    )


#: What runs on each cron, in order.
TASKS = {
    EVERY_5_MINUTES: [check_health],
    HOURLY: [aggregate_hour, delete_expired_sessions],
}


async def log_request(env, path: str, status: int) -> None:
    await env.DB.prepare("INSERT INTO request_log (path, status) VALUES (?, ?)").bind(path, status).run()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        response = await self.route(request.method, path)
        # Runs after the response is sent: the visitor never waits for the log write.
        self.ctx.waitUntil(log_request(self.env, path, response.status))
        return response

    async def route(self, method: str, path: str) -> Response:
        match method, path:
            case "GET", "/":
                return Response("ok")
            case "GET", "/health":
                health = await self.env.HEALTH.get("latest", type="json")
                if health is None:
                    return Response.json({"error": "no health check has run yet"}, status=503)
                return Response.json(health, status=200 if health["ok"] else 503)
            case "GET", "/stats":
                sql = "SELECT hour, path, requests, errors FROM hourly_stats ORDER BY hour, path"
                result = await self.env.DB.prepare(sql).all()
                return Response.json({"stats": result["results"]})
        return Response.json({"error": f"no route for {method} {path}"}, status=404)

    async def scheduled(self, controller, env, ctx):
        tasks = TASKS.get(controller.cron)
        if tasks is None:
            logger.warning("no maintenance task runs on cron %r", controller.cron)
            return
        failed = []
        for task in tasks:
            try:
                await task(env, controller.scheduledTime)
            except Exception:
                logger.exception("maintenance task %s failed", task.__name__)
                failed.append(task.__name__)
        if failed:
            raise RuntimeError(f"maintenance task(s) failed: {', '.join(failed)}")
