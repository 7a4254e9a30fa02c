"""Exports as stateful workflows: a Durable Object per export, steps driven by a queue.

``POST /exports`` starts an export object, which keeps its status, data and ``startedAt`` in its
storage and sets a 30-minute timeout alarm, then queues the first step. Each step fetches one
page of the tenant's items from the data API and stores it rendered; the first step learns how
many pages there are and fans the others out, one message per step, which the consumer runs
side by side. The last step marks the export ``completed`` and deletes the alarm; if the export
is still ``processing`` when the alarm fires, it is marked ``timeout``.
``GET /exports/<id>`` reads the status and progress, ``GET /exports/<id>/download`` the file.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from urllib.parse import quote, urlparse

from workers import DurableObject, Response, WorkerEntrypoint, fetch

#: How long an export may stay ``processing`` before its alarm marks it ``timeout``.
EXPORT_TIMEOUT_S = 30 * 60
#: The file formats an export can produce, with their content types.
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
TENANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: The fields of the export's state kept in the object's storage.
STATE_KEYS = ["status", "data", "startedAt", "progress", "totalSteps", "completedAt", "timedOutAt"]


def now_ms() -> int:
    """The current time in epoch milliseconds (the tests point this at workerlab's fake clock)."""
    return time.time_ns() // 1_000_000


def backoff_s(attempts: int) -> int:
    """How long a failed step waits before its next try: 20, 40, 80 s."""
    return 2**attempts * 10


def part_key(step: int) -> str:
    return f"part:{step:05d}"


class DataSourceError(Exception):
    """The data API answered, but not with a page of items."""


async def fetch_page(env, tenant_id: str, page: int) -> dict:
    url = f"{env.DATA_API_URL}/tenants/{quote(tenant_id)}/items?page={page}"
    response = await fetch(url, headers={"accept": "application/json"})
    if not response.ok:
        raise DataSourceError(f"the data API answered {response.status} for page {page}")
    return await response.json()


def render(items: list, columns: list[str], export_format: str) -> str:
    """One page of items as the export's format (CSV rows, or JSON objects separated by commas)."""
    if export_format == "json":
        return ",".join(json.dumps(item, separators=(",", ":")) for item in items)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writerows(items)
    return out.getvalue()


class ExportWorkflow(DurableObject):
    """One export: its state in storage, its steps, and its timeout alarm."""

    async def start(self, tenant_id: str, export_format: str) -> dict:
        storage = self.ctx.storage
        if await storage.get("status") is not None:
            return await self.status()  # started already (a retried request)
        started_ms = now_ms()
        await storage.put(
            {
                "status": "processing",
                "data": {"tenantId": tenant_id, "format": export_format},
                "startedAt": started_ms,
                "progress": 0,
            }
        )
        await storage.setAlarm(started_ms + EXPORT_TIMEOUT_S * 1000)
        return await self.status()

    async def run_step(self, step: int) -> dict:
        """Run step ``step`` (page ``step`` of the items) once; a step run again is skipped. The
        first step's answer lists the steps still to run (``next``), for the consumer to queue."""
        storage = self.ctx.storage
        state = await storage.get(["status", "data", "columns"])
        if state.get("status") != "processing":
            return {"status": state.get("status"), "skipped": True}
        if await storage.get(part_key(step)) is not None:
            return await self._done_already(step)
        # Other steps of this export run while this one waits for the data API.
        page = await fetch_page(self.env, state["data"]["tenantId"], step)
        items = page["items"]

        async def commit(txn) -> dict:
            # Everything here commits together; the export may have timed out meanwhile.
            current = await storage.get(["status", "progress", "totalSteps", "columns"])
            if current.get("status") != "processing":
                return {"status": current.get("status"), "skipped": True}
            if await storage.get(part_key(step)) is not None:
                return {"status": "processing", "skipped": True}
            columns = current.get("columns") or sorted({key for item in items for key in item})
            total = current.get("totalSteps") or page["totalPages"]
            progress = current["progress"] + 1
            await storage.put(part_key(step), render(items, columns, state["data"]["format"]))
            await storage.put({"progress": progress, "totalSteps": total, "columns": columns})
            if progress < total:
                return {"status": "processing", "progress": progress, "totalSteps": total}
            await storage.put({"status": "completed", "completedAt": now_ms()})
            await storage.deleteAlarm()
            return {"status": "completed", "progress": progress, "totalSteps": total}

        result = await storage.transaction(commit)
        if step == 1 and result["status"] == "processing":
            result["next"] = await self._steps_left()
        return result

    async def _done_already(self, step: int) -> dict:
        result = {"status": "processing", "skipped": True}
        if step == 1:  # the fan-out may have been lost with the first try: send it again
            result["next"] = await self._steps_left()
        return result

    async def _steps_left(self) -> list[int]:
        total = await self.ctx.storage.get("totalSteps") or 1
        done = await self.ctx.storage.list(prefix="part:")
        return [step for step in range(2, total + 1) if part_key(step) not in done]

    async def status(self) -> dict | None:
        state = await self.ctx.storage.get(STATE_KEYS)
        if "status" not in state:
            return None
        total = state.get("totalSteps")
        progress = state["progress"]
        report = {
            "exportId": self.ctx.id.toString(),
            "status": state["status"],
            "tenantId": state["data"]["tenantId"],
            "format": state["data"]["format"],
            "startedAt": state["startedAt"],
            "progress": {
                "completedSteps": progress,
                "totalSteps": total,
                "percent": round(100 * progress / total) if total else 0,
            },
        }
        for optional in ("completedAt", "timedOutAt"):
            if optional in state:
                report[optional] = state[optional]
        return report

    async def download(self) -> dict | None:
        """The exported file once the export is completed, else None."""
        state = await self.ctx.storage.get(["status", "data", "columns"])
        if state.get("status") != "completed":
            return None
        parts = [text for text in (await self.ctx.storage.list(prefix="part:")).values() if text]
        if state["data"]["format"] == "json":
            body = "[" + ",".join(parts) + "]"
        else:
            body = ",".join(state["columns"]) + "\n" + "".join(parts)
        return {"format": state["data"]["format"], "body": body}

    async def alarm(self, alarm_info):
        if await self.ctx.storage.get("status") != "processing":
            return
        await self.ctx.storage.put({"status": "timeout", "timedOutAt": now_ms()})
        print(f"export {self.ctx.id.toString()} timed out after {EXPORT_TIMEOUT_S // 60} minutes")


def error(status: int, message: str) -> Response:
    return Response.json({"error": message}, status=status)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        match request.method, path.strip("/").split("/"):
            case "POST", ["exports"]:
                return await self.start_export(request)
            case "GET", ["exports", export_id]:
                stub = self.export(export_id)
                report = await stub.status() if stub else None
                return Response.json(report) if report else error(404, f"no export {export_id}")
            case "GET", ["exports", export_id, "download"]:
                return await self.download(export_id)
        return error(404, f"no route for {request.method} {path}")

    def export(self, export_id: str):
        """The stub of an export, or None for a string that is not an export id."""
        try:
            return self.env.EXPORTS.get(self.env.EXPORTS.idFromString(export_id))
        except TypeError:
            return None

    async def start_export(self, request) -> Response:
        try:
            spec = await request.json()
        except ValueError:
            return error(400, "the body must be JSON: {tenantId, format}")
        tenant_id = spec.get("tenantId") if isinstance(spec, dict) else None
        export_format = spec.get("format", "csv") if isinstance(spec, dict) else None
        if not isinstance(tenant_id, str) or not TENANT_ID.fullmatch(tenant_id):
            return error(400, "tenantId must be 1 to 64 letters, digits, '-' or '_'")
        if export_format not in FORMATS:
            return error(400, f"format must be one of {', '.join(FORMATS)}")
        export_id = self.env.EXPORTS.newUniqueId()
        report = await self.env.EXPORTS.get(export_id).start(tenant_id, export_format)
        await self.env.EXPORT_STEPS.send({"exportId": export_id.toString(), "step": 1})
        location = f"/exports/{export_id.toString()}"
        return Response.json(report, status=202, headers={"location": location})

    async def download(self, export_id: str) -> Response:
        stub = self.export(export_id)
        report = await stub.status() if stub else None
        if report is None:
            return error(404, f"no export {export_id}")
        file = await stub.download()
        if file is None:
            return error(409, f"export {export_id} is {report['status']}, not completed")
        headers = {
            "content-type": FORMATS[file["format"]],
            "content-disposition": f'attachment; filename="export-{export_id[:8]}.{file["format"]}"',
        }
        return Response(file["body"], headers=headers)

    async def queue(self, batch, env, ctx):
        # Steps wait on the data API: run the batch's side by side.
        await asyncio.gather(*(self.run_step(message) for message in batch.messages))

    async def run_step(self, message) -> None:
        export_id, step = message.body["exportId"], message.body["step"]
        stub = self.export(export_id)
        if stub is None:
            message.ack()  # not an export id: nothing will ever run it
            return
        try:
            result = await stub.run_step(step)
            if result.get("next"):
                await self.env.EXPORT_STEPS.sendBatch(
                    [{"body": {"exportId": export_id, "step": later}} for later in result["next"]]
                )
        except Exception as failure:
            print(f"export {export_id[:8]} step {step} failed (attempt {message.attempts}): {failure}")
            message.retry(delaySeconds=backoff_s(message.attempts))
            return
        message.ack()
