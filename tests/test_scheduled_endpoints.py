"""The scheduled test endpoints of a real `workerlab dev`, asked as curl would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from devprocess import DevProcess
from test_dev_server import write_worker

WORKER = """
import asyncio
from workers import Response

async def scheduled(controller, env, ctx):
    print(f"RAN cron={controller.cron!r} time={controller.scheduledTime} type={controller.type}", flush=True)
    if controller.cron == "fail":
        raise RuntimeError("scheduled handler failed")
    if controller.cron == "fail-later":
        async def later():
            raise RuntimeError("background work failed")
        ctx.waitUntil(later())
    if controller.cron == "no-retry":
        controller.noRetry()

async def fetch(request, env, ctx):
    return Response("worker saw " + request.url.split("/", 3)[3])
"""

CRONS = '[triggers]\ncrons = ["*/5 * * * *", "0 0 * * *"]\n'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("scheduled")
    write_worker(folder, source=WORKER, extra_config=CRONS)
    with DevProcess(["--test-scheduled", "--no-crons"], cwd=folder) as dev:
        dev.wait_ready()
        yield dev


@pytest.mark.parametrize("path", ["/cdn-cgi/handler/scheduled", "/cdn-cgi/local/scheduled"])
def test_cdn_cgi_scheduled_runs_the_handler(served: DevProcess, path: str) -> None:
    mark = served.mark()
    response = httpx.get(served.url + path, params={"cron": "*/5 * * * *", "time": "1767225600000"})
    assert (response.status_code, response.text) == (200, "ok")
    served.wait_for(r"RAN cron='\*/5 \* \* \* \*' time=1767225600000 type=scheduled", after=mark)
    served.wait_for(r'^SCHEDULED "\*/5 \* \* \* \*" ok \(\d+ms\)$', after=mark)


def test_cdn_cgi_scheduled_failure_is_500_exception(served: DevProcess) -> None:
    mark = served.mark()
    response = httpx.get(served.url + "/cdn-cgi/handler/scheduled", params={"cron": "fail"})
    assert (response.status_code, response.text) == (500, "exception")
    served.wait_for(r'^SCHEDULED "fail" exception \(\d+ms\)$', after=mark)


def test_wait_until_failure_makes_the_outcome_exception(served: DevProcess) -> None:
    response = httpx.get(
        served.url + "/cdn-cgi/handler/scheduled", params={"cron": "fail-later", "format": "json"}
    )
    assert response.status_code == 500
    assert json.loads(response.text) == {"outcome": "exception", "noRetry": False}


def test_json_format_reports_no_retry(served: DevProcess) -> None:
    response = httpx.get(
        served.url + "/cdn-cgi/handler/scheduled", params={"cron": "no-retry", "format": "json"}
    )
    assert response.status_code == 200
    assert response.json() == {"outcome": "ok", "noRetry": True}


def test_unmatched_cron_runs_with_a_warning(served: DevProcess) -> None:
    mark = served.mark()
    response = httpx.get(served.url + "/cdn-cgi/handler/scheduled", params={"cron": "1 2 3 4 5"})
    assert response.status_code == 200
    served.wait_for(r'WARNING.*Cron "1 2 3 4 5" matches none of the configured crons', after=mark)


def test_without_time_the_scheduled_time_is_now(served: DevProcess) -> None:
    import time

    mark = served.mark()
    before_ms = int(time.time() * 1000)
    httpx.get(served.url + "/cdn-cgi/handler/scheduled")
    after_ms = int(time.time() * 1000)
    scheduled_ms = int(served.wait_for(r"RAN cron='' time=(\d+)", after=mark).group(1))
    assert before_ms <= scheduled_ms <= after_ms


def test_other_handler_paths_are_404(served: DevProcess) -> None:
    response = httpx.get(served.url + "/cdn-cgi/handler/queue")
    assert response.status_code == 404
    assert "/cdn-cgi/handler/scheduled" in response.text and "/cdn-cgi/local/scheduled" in response.text


def test_dunder_scheduled_with_test_scheduled(served: DevProcess) -> None:
    mark = served.mark()
    response = httpx.get(served.url + "/__scheduled", params={"cron": "0 0 * * *"})
    assert (response.status_code, response.text) == (200, "Ran scheduled event")
    served.wait_for(r"RAN cron='0 0 \* \* \*'", after=mark)


def test_dunder_scheduled_failure_is_500_with_the_error(served: DevProcess) -> None:
    response = httpx.get(served.url + "/__scheduled", params={"cron": "fail"})
    assert response.status_code == 500
    assert "RuntimeError: scheduled handler failed" in response.text


def test_dunder_scheduled_is_an_ordinary_path_without_the_flag(tmp_path: Path) -> None:
    write_worker(tmp_path, source=WORKER, extra_config=CRONS)
    with DevProcess(["--no-crons"], cwd=tmp_path) as dev:
        dev.wait_ready()
        response = httpx.get(dev.url + "/__scheduled?cron=x")
        assert response.text == "worker saw __scheduled?cron=x"


def test_crons_fire_on_schedule_under_workerlab_dev(tmp_path: Path) -> None:
    """Real time: waits for the next minute boundary (up to a minute)."""
    import time

    write_worker(tmp_path, source=WORKER, extra_config='[triggers]\ncrons = ["* * * * *", "*/1 * * * *"]\n')
    with DevProcess(["--no-reload"], cwd=tmp_path) as dev:
        dev.wait_ready()
        first = dev.wait_for(r"RAN cron='(.*)' time=(\d+) type=scheduled", timeout_s=75)
        second = dev.wait_for(
            r"RAN cron='(.*)' time=(\d+) type=scheduled", timeout_s=5, after=dev.lines.index(first.string) + 1
        )
        fired = {first.group(1), second.group(1)}
        assert fired == {"* * * * *", "*/1 * * * *"}
        scheduled_ms = int(first.group(2))
        assert scheduled_ms % 60_000 == 0  # the minute it was due, not when it ran
        assert int(second.group(2)) == scheduled_ms
        assert abs(time.time() * 1000 - scheduled_ms) < 5_000
        dev.wait_for(r'^SCHEDULED "\* \* \* \* \*" ok \(\d+ms\)$')
