"""Crons as the inspector shows them: the next five fire times in UTC, recent runs, run now."""

from __future__ import annotations

from pathlib import Path

from test_inspector_support import API, inspected

from workerlab.inspector.crons import NEXT_FIRE_TIMES, next_fire_times_ms


def test_the_next_fire_times_are_utc_and_in_order() -> None:
    after_s = 1_767_225_600  # 2026-01-01T00:00:00Z, a Thursday
    # Cloudflare counts days of the week from 1 = Sunday: Sundays at 03:00.
    assert next_fire_times_ms("0 3 * * 1", after_s, 2) == [1_767_495_600_000, 1_768_100_400_000]


async def test_each_cron_with_its_next_five_times(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        answer = await shop.get("crons")
        assert answer["now_ms"] == shop.clock.now_ms()
        assert answer["firing"] is False  # the test session does not fire crons on schedule
        every_five, sundays = answer["crons"]
        assert (every_five["worker"], every_five["cron"]) == ("shop", "*/5 * * * *")
        assert [t["utc"] for t in every_five["next"]] == [
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:10:00Z",
            "2026-01-01T00:15:00Z",
            "2026-01-01T00:20:00Z",
            "2026-01-01T00:25:00Z",
        ]
        assert len(sundays["next"]) == NEXT_FIRE_TIMES
        assert sundays["next"][0]["utc"] == "2026-01-04T03:00:00Z"
        assert every_five["runs"] == []


async def test_run_now_runs_the_handler_and_lists_the_run(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        answer = await shop.post("crons/shop/run", {"cron": "0 3 * * 1"})
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "ok" and answer.json()["error"] is None
        assert (await shop.get("kv/shop/CACHE/value?key=last-cron"))["text"] == "0 3 * * 1"
        crons = {c["cron"]: c for c in (await shop.get("crons"))["crons"]}
        (run,) = crons["0 3 * * 1"]["runs"]
        assert run["outcome"] == "ok" and run["scheduled_ms"] == shop.clock.now_ms()
        assert run["utc"] == "2026-01-01T00:00:00Z"
        assert crons["*/5 * * * *"]["runs"] == []
        timeline = await shop.get("timeline")
        assert timeline["entries"][-1]["title"] == 'SCHEDULED "0 3 * * 1" ok'


async def test_run_now_refuses_a_cron_the_worker_does_not_have(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        answer = await shop.post("crons/shop/run", {"cron": "* * * * *"})
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == (
            'The worker shop has no cron "* * * * *" (its crons: "*/5 * * * *", "0 3 * * 1")'
        )
        missing = await shop.post("crons/shop/run", {})
        assert missing.status_code == 400 and '"cron"' in missing.json()["error"]["message"]
        assert (
            await shop.client.post(API + "crons/shop/run", json={"cron": "*/5 * * * *"})
        ).status_code == 403
