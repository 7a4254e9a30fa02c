"""The reports sample: an id at once, rendering into R2, status in KV, retries, dead letters."""

from __future__ import annotations

import httpx
import pytest

from workerlab.limits import DEFAULT_MAX_BATCH_TIMEOUT_S

pytestmark = pytest.mark.workerlab(config="sample_workers/reports/wrangler.toml")

REQUEST = {"kind": "sales", "from": "2025-12-01", "to": "2025-12-31"}
ROWS = [
    {"day": "2025-12-01", "orders": 3, "revenue": "59.97"},
    {"day": "2025-12-02", "orders": 1, "revenue": "19.99"},
]
#: ``retry_delay`` of the reports consumer in wrangler.toml.
RETRY_DELAY_S = 60


def data_api(respx_mock, worker):
    return respx_mock.get(
        f"{worker.env.DATA_API_URL}/sales", params={"from": "2025-12-01", "to": "2025-12-31"}
    )


async def request_report(worker) -> str:
    response = await worker.fetch("/reports", method="POST", json=REQUEST)
    assert response.status == 202
    report = await response.json()
    assert response.headers["location"] == f"/reports/{report['id']}"
    return report["id"]


async def poll(worker, report_id: str) -> dict:
    response = await worker.fetch(f"/reports/{report_id}")
    assert response.status == 200
    return await response.json()


async def test_a_report_is_queued_at_once_then_rendered_into_r2(respx_mock, worker) -> None:
    data_api(respx_mock, worker).respond(200, json={"rows": ROWS})
    report_id = await request_report(worker)
    assert (await poll(worker, report_id))["status"] == "queued"

    await worker.drain()

    report = await poll(worker, report_id)
    assert report == {
        "id": report_id,
        **REQUEST,
        "status": "done",
        "attempts": 1,
        "rows": 2,
        "bytes": len(report_csv().encode()),
        "download": f"/reports/{report_id}/download",
    }
    download = await worker.fetch(report["download"])
    assert download.status == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.headers["content-disposition"] == 'attachment; filename="sales-2025-12-01-2025-12-31.csv"'
    assert await download.text() == report_csv()
    stored = await worker.env.REPORTS.head(f"reports/{report_id}.csv")
    assert stored.customMetadata == {"kind": "sales"}


def report_csv() -> str:
    return "day,orders,revenue\n2025-12-01,3,59.97\n2025-12-02,1,19.99\n"


async def test_a_failed_render_is_retried_after_the_retry_delay(respx_mock, worker) -> None:
    data_api(respx_mock, worker).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"rows": ROWS})]
    )
    report_id = await request_report(worker)

    await worker.advance(DEFAULT_MAX_BATCH_TIMEOUT_S)
    report = await poll(worker, report_id)
    assert (report["status"], report["attempts"], report["lastError"]) == (
        "queued",
        1,
        "the data API answered 503",
    )
    await worker.advance(RETRY_DELAY_S + DEFAULT_MAX_BATCH_TIMEOUT_S - 1)
    assert (await poll(worker, report_id))["status"] == "queued"
    await worker.advance(1)
    report = await poll(worker, report_id)
    assert (report["status"], report["attempts"]) == ("done", 2)


async def test_a_report_that_keeps_failing_is_dead_lettered_and_marked_failed(respx_mock, worker) -> None:
    data_api(respx_mock, worker).mock(side_effect=httpx.ConnectError("connection refused"))
    report_id = await request_report(worker)

    await worker.drain()

    assert [d.attempts for d in worker.queues["reports"].deliveries] == [1, 2, 3]
    assert [m.body["id"] for m in worker.queues["reports"].dead_lettered] == [report_id]
    report = await poll(worker, report_id)
    assert (report["status"], report["attempts"]) == ("failed", 3)
    assert "connection refused" in report["lastError"]
    assert (await worker.fetch(f"/reports/{report_id}/download")).status == 404


async def test_a_job_delivered_twice_is_rendered_once(respx_mock, worker) -> None:
    api = data_api(respx_mock, worker).respond(200, json={"rows": ROWS})
    report_id = await request_report(worker)
    [job] = [m.body for m in worker.queues["reports"].pending]

    result = await worker.queue("reports", [job])
    assert result.explicit_acks and result.outcome == "ok"
    await worker.drain()  # the queued copy of the same job arrives too

    assert api.call_count == 1
    assert [m.body["id"] for m in worker.queues["reports"].acked] == [report_id]
    assert (await poll(worker, report_id))["attempts"] == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**REQUEST, "kind": "churn"}, "kind must be one of sales, signups"),
        ({**REQUEST, "to": "December"}, "from and to must be dates"),
        ({**REQUEST, "from": "2026-01-01"}, "from must not be after to"),
    ],
)
async def test_an_invalid_request_is_refused(worker, body, error) -> None:
    response = await worker.fetch("/reports", method="POST", json=body)

    assert response.status == 400
    assert error in (await response.json())["error"]


async def test_an_unknown_report_is_404(worker) -> None:
    assert (await worker.fetch("/reports/nope")).status == 404
