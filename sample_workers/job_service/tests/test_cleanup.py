"""The cleanup cron and /stats computed from the records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

CONFIG = "sample_workers/job_service/wrangler.toml"
CRON = "*/5 * * * *"
pytestmark = pytest.mark.workerlab(config=CONFIG)

DAY_S = 86_400


async def _finished_jobs(worker, api, outbound) -> dict[str, str]:
    """One job of each final status, plus one pending; their ids by status."""
    ids = {"completed": await api.create("send-email")}
    ids["failed"] = await api.create("batch-import", payload={"namespace": "crm", "items": ["not an object"]})
    await worker.drain()
    ids["cancelled"] = await api.create("send-email", delaySeconds=600)
    await api.call("DELETE", f"/jobs/{ids['cancelled']}")
    ids["pending"] = await api.create("send-email", delaySeconds=3600)
    return ids


async def _remaining(worker) -> set[str]:
    rows = (await worker.env.DB.prepare("SELECT id FROM jobs").all())["results"]
    return {row["id"] for row in rows}


async def test_cleanup_keeps_jobs_younger_than_the_retention(worker, api, outbound) -> None:
    ids = await _finished_jobs(worker, api, outbound)
    finished_ms = worker.clock.now_ms()

    # Seven days (the configured retention) after they finished: nothing is old enough yet.
    result = await worker.scheduled(CRON, scheduled_time=finished_ms + 7 * DAY_S * 1000)
    assert result.outcome == "ok"
    assert await _remaining(worker) == set(ids.values())

    result = await worker.scheduled(CRON, scheduled_time=finished_ms + 7 * DAY_S * 1000 + 1)
    assert result.outcome == "ok"
    # Completed and cancelled jobs go; failed ones stay (they can be retried), pending ones too.
    assert await _remaining(worker) == {ids["failed"], ids["pending"]}


@pytest.mark.workerlab(
    config=CONFIG, vars={"JOB_RETENTION_DAYS": "0"}, now=datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
)
async def test_the_cron_fires_on_schedule_and_cleans_up(worker, api, outbound) -> None:
    ids = await _finished_jobs(worker, api, outbound)
    assert worker.clock.now_s() < datetime(2026, 3, 1, 12, 5, tzinfo=UTC).timestamp()

    await worker.advance(datetime(2026, 3, 1, 12, 5, tzinfo=UTC).timestamp() - worker.clock.now_s() - 1)
    assert await _remaining(worker) == set(ids.values())
    await worker.advance(1)  # 12:05, the cron's next time
    assert await _remaining(worker) == {ids["failed"], ids["pending"]}


async def test_stats_are_computed_from_the_records(worker, api, outbound) -> None:
    await _finished_jobs(worker, api, outbound)
    await api.create("generate-report")

    status, body = await api.call("GET", "/stats")
    assert status == 200
    assert body["stats"] == {
        "total": 5,
        "pending": 2,
        "processing": 0,
        "completed": 1,
        "failed": 1,
        "cancelled": 1,
        "completionRate": "20.00%",
        "failureRate": "20.00%",
        "completionPercent": 20.0,
        "failurePercent": 20.0,
    }
    await worker.drain()
    stats = (await api.call("GET", "/stats"))[1]["stats"]
    assert (stats["completed"], stats["pending"], stats["completionRate"]) == (3, 0, "60.00%")
    assert stats["completionPercent"] == 60.0
