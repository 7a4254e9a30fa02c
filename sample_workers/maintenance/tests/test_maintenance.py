"""The maintenance sample: crons on the fake clock, failures kept apart, request logging via waitUntil."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.workerlab(config="sample_workers/maintenance/wrangler.toml")

HOURLY = "0 * * * *"
FIVE_MINUTES_S = 5 * 60
HOUR_S = 60 * 60
#: The fake clock starts at 2026-01-01T00:00:00Z; the first hourly run rolls up this hour.
FIRST_HOUR = "2026-01-01T00:00:00Z"


async def add_session(worker, session_id: str, expires_in_s: int) -> None:
    expires_at = int(worker.clock.now_s()) + expires_in_s
    statement = worker.env.DB.prepare("INSERT INTO sessions (id, user_id, expires_at) VALUES (?, ?, ?)")
    await statement.bind(session_id, "user-1", expires_at).run()


async def session_ids(worker) -> list[str]:
    result = await worker.env.DB.prepare("SELECT id FROM sessions ORDER BY id").all()
    return [row["id"] for row in result["results"]]


async def health(worker) -> tuple[int, dict]:
    response = await worker.fetch("/health")
    return response.status, await response.json()


async def test_requests_are_logged_after_the_response_and_rolled_up_every_hour(respx_mock, worker) -> None:
    respx_mock.get(worker.env.HEALTH_CHECK_URL).respond(200)
    for path in ("/", "/", "/nope"):
        await worker.fetch(path)
    await worker.settle()  # the waitUntil log writes
    logged = await worker.env.DB.prepare("SELECT path, status FROM request_log ORDER BY id").raw()
    assert logged == [["/", 200], ["/", 200], ["/nope", 404]]

    await worker.advance(HOUR_S - 1)
    assert (await (await worker.fetch("/stats")).json()) == {"stats": []}
    await worker.advance(1)

    stats = await (await worker.fetch("/stats")).json()
    assert stats == {
        "stats": [
            {"hour": FIRST_HOUR, "path": "/", "requests": 2, "errors": 0},
            {"hour": FIRST_HOUR, "path": "/nope", "requests": 1, "errors": 1},
            {"hour": FIRST_HOUR, "path": "/stats", "requests": 1, "errors": 0},
        ]
    }
    await worker.settle()
    # What was rolled up is gone from the log; only the /stats request just made is left.
    assert await worker.env.DB.prepare("SELECT path FROM request_log").raw() == [["/stats"]]


async def test_expired_sessions_are_deleted_every_hour(respx_mock, worker) -> None:
    respx_mock.get(worker.env.HEALTH_CHECK_URL).respond(200)
    await add_session(worker, "expired-already", -1)
    await add_session(worker, "expires-in-30-minutes", 30 * 60)
    await add_session(worker, "expires-in-2-hours", 2 * HOUR_S)

    await worker.advance(HOUR_S - 1)
    assert len(await session_ids(worker)) == 3
    await worker.advance(1)
    assert await session_ids(worker) == ["expires-in-2-hours"]
    await worker.advance(HOUR_S)
    assert await session_ids(worker) == []


async def test_the_health_check_runs_every_five_minutes_and_counts_failures(
    respx_mock, worker, caplog
) -> None:
    probe = respx_mock.get(worker.env.HEALTH_CHECK_URL).mock(
        side_effect=[httpx.Response(200), httpx.Response(503), httpx.ConnectError("connection refused")]
    )
    assert (await health(worker))[0] == 503  # nothing has run yet

    await worker.advance(FIVE_MINUTES_S)
    assert await health(worker) == (
        200,
        {"ok": True, "detail": "answered 200", "checkedAt": "2026-01-01T00:05:00Z", "consecutiveFailures": 0},
    )
    await worker.advance(FIVE_MINUTES_S)
    status, record = await health(worker)
    assert (status, record["detail"], record["consecutiveFailures"]) == (503, "answered 503", 1)
    await worker.advance(FIVE_MINUTES_S)
    status, record = await health(worker)
    assert (status, record["consecutiveFailures"]) == (503, 2)
    assert record["detail"].startswith("unreachable:")
    assert probe.call_count == 3
    assert "(2 in a row)" in caplog.text


async def test_a_failing_task_is_logged_and_does_not_stop_the_others(respx_mock, worker, caplog) -> None:
    probe = respx_mock.get(worker.env.HEALTH_CHECK_URL).respond(200)
    await add_session(worker, "expired-already", -1)
    await worker.fetch("/")
    await worker.settle()
    await worker.env.DB.exec("DROP TABLE hourly_stats")  # the aggregation of that request will fail

    result = await worker.scheduled(cron=HOURLY)

    assert result.outcome == "exception"
    assert str(result.error) == "maintenance task(s) failed: aggregate_hour"
    assert "maintenance task aggregate_hour failed" in caplog.text
    assert await session_ids(worker) == []  # the cleanup, next in line, ran all the same
    # The 5-minute health check is its own event: the hourly failure does not touch it.
    await worker.advance(HOUR_S)
    assert probe.call_count == HOUR_S // FIVE_MINUTES_S
    assert (await health(worker))[0] == 200
