"""The inspector under a real `workerlab dev`: the line that says where it is, its page and API over
HTTP, a cross-origin POST refused, an open event stream that does not hold up shutdown, and
``--no-inspector``."""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from devprocess import DevProcess
from test_inspector_support import SHOP_CONFIG

from workerlab.inspector.client import InspectorClient, InspectorRequestError

#: Longest a shutdown may take with an event stream open (uvicorn's own grace is 5 s).
SHUTDOWN_BUDGET_S = 3.0


def start(tmp_path: Path, *flags: str) -> DevProcess:
    args = ["-c", str(SHOP_CONFIG), "--persist-to", str(tmp_path / "state"), "--no-reload", *flags]
    return DevProcess(args, cwd=tmp_path)


def test_the_inspector_is_announced_after_ready_and_serves_its_page(tmp_path: Path) -> None:
    with start(tmp_path) as dev:
        url = dev.wait_ready()
        line = dev.wait_for(r"Inspector on (http://\S+)")
        inspector = line.group(1)
        port = url.rsplit(":", 1)[1]
        assert inspector == f"http://127.0.0.1:{port}/cdn-cgi/workerlab/"
        assert dev.lines.index(line.string) == dev.lines.index(f"Ready on {url}") + 1
        page = httpx.get(inspector)
        assert page.status_code == 200 and 'name="workerlab-token"' in page.text
        token = re.search(r'content="([^"]+)"', page.text.split('name="workerlab-token"', 1)[1])
        assert token is not None
        assert httpx.get(f"{url}/seed").text == "seeded"
        queues = httpx.get(f"{inspector}api/queues").json()["queues"]
        assert [q["name"] for q in queues] == ["jobs", "jobs-dlq"]
        # The page's own calls are not the worker's requests: no log line for them.
        mark = dev.mark()
        httpx.get(f"{url}/after")
        dev.wait_for(r"GET /after 200", after=mark)
        assert not any(line.startswith("GET /cdn-cgi/workerlab") for line in dev.lines), dev.output


def test_a_cross_origin_post_over_http_is_refused(tmp_path: Path) -> None:
    with start(tmp_path) as dev:
        dev.wait_ready()
        inspector = dev.wait_for(r"Inspector on (http://\S+)").group(1)
        page = httpx.get(inspector).text
        token = re.search(r'name="workerlab-token" content="([^"]+)"', page)
        assert token is not None
        headers = {"x-workerlab-token": token.group(1), "origin": "http://evil.example"}
        refused = httpx.post(f"{inspector}api/queues/jobs/send", json={"body": 1}, headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross-origin"
        assert httpx.get(f"{inspector}api/queues").json()["queues"][0]["pending"] == 0


def test_an_open_event_stream_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    with start(tmp_path) as dev:
        dev.wait_ready()
        inspector = dev.wait_for(r"Inspector on (http://\S+)").group(1)
        opened = threading.Event()

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{inspector}api/events", timeout=30) as stream:
                    for line in stream.iter_lines():
                        if line.startswith("event: hello"):
                            opened.set()
            except httpx.HTTPError:
                pass

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        assert opened.wait(timeout=10), dev.output
        started = time.monotonic()
        dev.signal(signal.SIGTERM)
        assert dev.wait_exit() == 0
        assert time.monotonic() - started < SHUTDOWN_BUDGET_S, dev.output
        assert "timeout graceful shutdown exceeded" not in dev.output
        reader.join(timeout=10)


def test_no_inspector_leaves_the_path_to_the_worker(tmp_path: Path) -> None:
    with start(tmp_path, "--no-inspector") as dev:
        url = dev.wait_ready()
        dev.wait_for(r"shop has access to the following bindings")
        assert not any(line.startswith("Inspector on") for line in dev.lines)
        answer = httpx.get(f"{url}/cdn-cgi/workerlab/")
        assert (answer.status_code, answer.text) == (200, "shop")


def test_a_program_uses_the_api_through_the_client(tmp_path: Path) -> None:
    with start(tmp_path) as dev:
        url = dev.wait_ready()
        with InspectorClient(url) as client:
            assert [q["name"] for q in client.queues()] == ["jobs", "jobs-dlq"]
            client.send("jobs-dlq", {"job": "from a script"})
            (message,) = client.messages("jobs-dlq")["messages"]
            assert message["body"] == {"job": "from a script"}
            with pytest.raises(InspectorRequestError, match="no cron"):
                client.post("crons/shop/run", {"cron": "* * * * *"})


def test_the_client_says_when_nothing_answers() -> None:
    with InspectorClient("http://127.0.0.1:9") as client, pytest.raises(InspectorRequestError) as failure:
        client.queues()
    assert "is `workerlab dev` running there?" in failure.value.message
