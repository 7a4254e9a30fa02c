"""Records events on the ``events`` queue for a service outside Workers to pull.

POST /events         one event (a JSON object with a "type")  -> 202 {"queued": 1}
POST /events/batch   a JSON list of up to 100 events          -> 202 {"queued": n}
"""

from __future__ import annotations

import json
from typing import Any

from workers import Response, WorkerEntrypoint

#: Cloudflare Queues: at most 100 messages per sendBatch.
MAX_BATCH = 100


def _event(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str) or not value["type"]:
        raise ValueError(f'{where} must be a JSON object with a "type" string')
    return value


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Response:
        path = request.url.split("://", 1)[-1].partition("/")[2].split("?")[0].rstrip("/")
        if request.method != "POST" or path not in ("events", "events/batch"):
            return Response.json({"error": "POST /events or /events/batch"}, status=404)
        try:
            body = json.loads(await request.text())
            if path == "events":
                await self.env.EVENTS.send(_event(body, "the body"))
                return Response.json({"queued": 1}, status=202)
            if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
                raise ValueError(f"the body must be a JSON list of 1 to {MAX_BATCH} events")
            events = [_event(item, f"event {index}") for index, item in enumerate(body)]
        except ValueError as error:
            return Response.json({"error": str(error)}, status=400)
        await self.env.EVENTS.sendBatch([{"body": event} for event in events])
        return Response.json({"queued": len(events)}, status=202)
