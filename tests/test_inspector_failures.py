"""The inspector in bad moments: a fetch handler that raises (its traceback reaches the timeline) and a
broken edit (the inspector stays reachable while the error is served)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx
from devprocess import DevProcess

from workerlab.compat.request import Request
from workerlab.events import RequestServed
from workerlab.harness_http import drive_app
from workerlab.inspector.entries import request_entry
from workerlab.server import RuntimeSlot, WorkerApp
from workerlab.testing import Worker

RAISES = """
from workers import WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        raise ValueError("the order is gone")
"""


def project(folder: Path, source: str) -> Path:
    (folder / "worker.py").write_text(textwrap.dedent(source))
    config = folder / "wrangler.toml"
    config.write_text('name = "shop"\nmain = "worker.py"\ncompatibility_date = "2026-03-01"\n')
    return config


async def test_a_fetch_handler_that_raises_is_a_timeline_entry_with_its_traceback(tmp_path: Path) -> None:
    worker = await Worker.start(project(tmp_path, RAISES))
    try:
        served: list[RequestServed] = []
        worker.session.bus.subscribe(served.append, RequestServed)
        app = WorkerApp(RuntimeSlot(worker.runtime))  # as workerlab dev serves it: a 500 page
        response = await drive_app(app, Request("http://localhost/orders/7"))
        assert response.status == 500
        (event,) = served
        assert isinstance(event.error, ValueError)
        entry = request_entry(event)
        assert entry["level"] == "error" and entry["error"]["type"] == "ValueError"
        assert 'raise ValueError("the order is gone")' in entry["error"]["traceback"]
    finally:
        await worker.close()


def test_the_inspector_stays_reachable_while_a_broken_edit_is_served(tmp_path: Path) -> None:
    config = project(
        tmp_path,
        "from workers import Response, WorkerEntrypoint\n\nclass Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n        return Response('ok')\n",
    )
    with DevProcess(["-c", str(config), "--persist-to", str(tmp_path / "state")], cwd=tmp_path) as dev:
        url = dev.wait_ready()
        inspector = dev.wait_for(r"Inspector on (http://\S+)").group(1)
        mark = dev.mark()
        (tmp_path / "worker.py").write_text("def broken(:\n")
        dev.wait_for(r"Reload failed", after=mark)
        assert httpx.get(url + "/").status_code == 500
        page = httpx.get(inspector)
        assert page.status_code == 200 and 'name="workerlab-token"' in page.text
        assert httpx.get(f"{inspector}api/workers").status_code == 503
