"""The export workflow sample: steps through a queue, progress in a Durable Object, a timeout alarm."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from typing import Any

import httpx
import pytest
import respx

from workerlab.testing import Worker, list_durable_object_ids, run_in_durable_object

pytestmark = pytest.mark.workerlab(config="sample_workers/export_workflow/wrangler.toml")

#: ``EXPORT_TIMEOUT_S`` of the worker: 30 minutes.
TIMEOUT_S = 30 * 60
#: How long the concurrency test waits for every step to be in flight at once.
BARRIER_WAIT_S = 5.0


@pytest.fixture(autouse=True)
def fake_now(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker reads the time through its own now_ms(): follow the fake clock."""
    monkeypatch.setattr(worker.module, "now_ms", worker.clock.now_ms)


def items_of(page: int) -> list[dict[str, Any]]:
    return [{"id": page * 10 + index, "name": f"item {page}.{index}"} for index in range(2)]


def page_url(worker: Any, tenant: str = "acme") -> str:
    return f"{worker.env.DATA_API_URL}/tenants/{tenant}/items"


def serve_pages(
    respx_mock: respx.MockRouter, worker: Any, total: int, *, failing: frozenset[int] = frozenset()
) -> Any:
    """The data API: ``total`` pages of two items each; pages in ``failing`` answer 503."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page in failing:
            return httpx.Response(503, json={"error": "unavailable"})
        return httpx.Response(200, json={"items": items_of(page), "totalPages": total})

    return respx_mock.get(page_url(worker)).mock(side_effect=answer)


async def start(worker: Any, export_format: str = "csv") -> dict[str, Any]:
    response = await worker.fetch(
        "/exports", method="POST", json={"tenantId": "acme", "format": export_format}
    )
    report: dict[str, Any] = await response.json()
    assert response.status == 202, report
    assert response.headers["location"] == f"/exports/{report['exportId']}"
    return report


async def status(worker: Any, export_id: str) -> dict[str, Any]:
    response = await worker.fetch(f"/exports/{export_id}")
    assert response.status == 200
    report: dict[str, Any] = await response.json()
    return report


async def download_rows(worker: Any, export_id: str) -> list[dict[str, str]]:
    download = await worker.fetch(f"/exports/{export_id}/download")
    assert download.status == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(await download.text())))


def stub_of(worker: Any, export_id: str) -> Any:
    return worker.env.EXPORTS.get(worker.env.EXPORTS.idFromString(export_id))


async def alarm_of(worker: Any, export_id: str) -> int | None:
    alarm: int | None = await run_in_durable_object(
        stub_of(worker, export_id), lambda instance, ctx: ctx.storage.getAlarm()
    )
    return alarm


@pytest.mark.parametrize("export_format", ["csv", "json"])
async def test_an_export_runs_its_steps_and_completes(
    respx_mock: respx.MockRouter, worker: Worker, export_format: str
) -> None:
    serve_pages(respx_mock, worker, total=3)
    started = await start(worker, export_format)
    export_id = started["exportId"]
    assert started["status"] == "processing"
    assert started["startedAt"] == worker.clock.now_ms()
    assert started["progress"] == {"completedSteps": 0, "totalSteps": None, "percent": 0}
    assert await alarm_of(worker, export_id) == started["startedAt"] + TIMEOUT_S * 1000

    await worker.drain()

    report = await status(worker, export_id)
    assert report["status"] == "completed"
    assert report["progress"] == {"completedSteps": 3, "totalSteps": 3, "percent": 100}
    assert report["completedAt"] >= report["startedAt"]
    assert await alarm_of(worker, export_id) is None  # the timeout is no longer needed
    items = [item for page in (1, 2, 3) for item in items_of(page)]
    if export_format == "json":
        download = await worker.fetch(f"/exports/{export_id}/download")
        assert download.headers["content-type"] == "application/json"
        assert json.loads(await download.text()) == items
    else:
        rows = await download_rows(worker, export_id)
        assert rows == [{"id": str(item["id"]), "name": item["name"]} for item in items]

    await worker.advance(TIMEOUT_S + 60)
    assert (await status(worker, export_id))["status"] == "completed"
    assert [found.toString() for found in list_durable_object_ids(worker.env.EXPORTS)] == [export_id]


async def test_a_stuck_export_times_out_after_30_minutes(
    respx_mock: respx.MockRouter, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    api = serve_pages(respx_mock, worker, total=3, failing=frozenset({2}))
    export_id = (await start(worker))["exportId"]
    started_ms = worker.clock.now_ms()

    await worker.advance(TIMEOUT_S - 1)
    report = await status(worker, export_id)
    assert report["status"] == "processing"
    assert report["progress"] == {"completedSteps": 2, "totalSteps": 3, "percent": 67}
    step_two_tries = [call for call in api.calls if call.request.url.params["page"] == "2"]
    assert len(step_two_tries) == 4  # the first try and max_retries = 3, then the message is dropped
    assert [record.body["step"] for record in worker.queues["export-steps"].dropped] == [2]

    with caplog.at_level(logging.INFO, logger="workerlab"):
        await worker.advance(1)
    report = await status(worker, export_id)
    assert report["status"] == "timeout"
    assert report["timedOutAt"] == started_ms + TIMEOUT_S * 1000
    assert f"ALARM ExportWorkflow {export_id[:8]} ok" in caplog.text
    assert await alarm_of(worker, export_id) is None

    # The data API recovers, and the lost step is delivered late: the export stays timed out.
    serve_pages(respx_mock, worker, total=3)
    result = await worker.queue("export-steps", [{"exportId": export_id, "step": 2}])
    assert result.outcome == "ok" and result.explicit_acks
    assert (await status(worker, export_id))["progress"]["completedSteps"] == 2
    download = await worker.fetch(f"/exports/{export_id}/download")
    assert download.status == 409
    assert await download.json() == {"error": f"export {export_id} is timeout, not completed"}


async def test_concurrent_steps_of_one_export_never_lose_progress(
    respx_mock: respx.MockRouter, worker: Worker
) -> None:
    total = 8
    later_steps = [*range(2, total + 1), 2, 5, 8]  # every step after the first, three of them twice
    in_flight = 0
    most_in_flight = 0
    everyone_in = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most_in_flight
        page = int(request.url.params["page"])
        if page > 1:
            # Hold every step until all of them are waiting here at once (or the wait runs out).
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            if in_flight == len(later_steps):
                everyone_in.set()
            try:
                async with asyncio.timeout(BARRIER_WAIT_S):
                    await everyone_in.wait()
            except TimeoutError:
                pass
        return httpx.Response(200, json={"items": items_of(page), "totalPages": total})

    respx_mock.get(page_url(worker)).mock(side_effect=answer)
    export_id = (await start(worker))["exportId"]
    first = await worker.queue("export-steps", [{"exportId": export_id, "step": 1}])
    assert first.outcome == "ok"

    result = await worker.queue("export-steps", [{"exportId": export_id, "step": s} for s in later_steps])
    assert result.outcome == "ok" and len(result.explicit_acks) == len(later_steps)
    assert most_in_flight == len(later_steps)  # all ran at once inside the one object

    report = await status(worker, export_id)
    assert report["status"] == "completed"
    assert report["progress"] == {"completedSteps": total, "totalSteps": total, "percent": 100}
    completed_at = report["completedAt"]
    # The queue still holds the first step (sent by POST) and the fan-out: all are skipped now.
    await worker.drain()
    assert (await status(worker, export_id))["completedAt"] == completed_at
    rows = await download_rows(worker, export_id)
    assert [int(row["id"]) for row in rows] == [
        item["id"] for page in range(1, total + 1) for item in items_of(page)
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": "csv"}, "tenantId must be"),
        ({"tenantId": "../etc", "format": "csv"}, "tenantId must be"),
        ({"tenantId": "acme", "format": "xml"}, "format must be one of csv, json"),
    ],
)
async def test_a_bad_request_is_refused_and_starts_nothing(
    worker: Worker, body: dict[str, Any], message: str
) -> None:
    response = await worker.fetch("/exports", method="POST", json=body)
    assert response.status == 400
    assert message in (await response.json())["error"]
    assert list_durable_object_ids(worker.env.EXPORTS) == []
    assert worker.queues["export-steps"].pending == []


async def test_unknown_exports_are_not_found(worker: Worker) -> None:
    unknown = worker.env.EXPORTS.newUniqueId().toString()
    for path in (f"/exports/{unknown}", "/exports/not-an-id", f"/exports/{unknown}/download"):
        response = await worker.fetch(path)
        assert response.status == 404, path
    stored = await run_in_durable_object(stub_of(worker, unknown), lambda i, ctx: ctx.storage.list())
    assert stored == {}  # reading stored nothing
