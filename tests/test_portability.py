"""What would differ on Cloudflare: `workerlab check`, and the warnings a load prints."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workerlab.portability import NO_GLOBAL_HANDLERS_DATE
from workerlab.testing import Worker

CLEAN = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    async def queue(self, batch, env, ctx):
        pass
"""


def project(folder: Path, source: str, config: str = "", date: str = "2026-01-01") -> Path:
    (folder / "worker.py").write_text(textwrap.dedent(source))
    (folder / "wrangler.toml").write_text(
        f'name = "p"\nmain = "worker.py"\ncompatibility_date = "{date}"\n{config}'
    )
    return folder / "wrangler.toml"


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workerlab", "check", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_written_as_cloudflare_calls_it_passes(tmp_path: Path) -> None:
    result = check(project(tmp_path, CLEAN))
    assert result.returncode == 0, result.stdout
    assert "Nothing found" in result.stdout


def test_every_kind_of_difference_is_one_line(tmp_path: Path) -> None:
    source = """
    import random
    SEED = random.random()

    async def fetch(request, env):
        pass

    async def on_queue(batch):
        pass

    class Default:
        async def scheduled(self, controller):
            pass
    """
    config = 'workers_dev = true\n[ai]\nbinding = "AI"\n'
    result = check(project(tmp_path, source, config))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("- ")]
    assert any(
        "worker.py: fetch is a module-level handler" in line and NO_GLOBAL_HANDLERS_DATE in line
        for line in lines
    )
    assert any("Default.scheduled takes fewer than three arguments" in line for line in lines)
    assert not any("on_queue takes fewer" in line for line in lines)  # module-level ones are called relaxed
    assert any("worker.py:3: random.random() at import time" in line for line in lines)
    assert any("env.AI (Workers AI) has no local emulation" in line for line in lines)
    assert any("workers_dev is a valid wrangler key that workerlab ignores" in line for line in lines)
    assert any("on_queue is a module-level handler" in line for line in lines)
    assert "6 difference(s) from Cloudflare." in result.stdout, result.stdout


def test_a_default_class_before_the_date_is_reported(tmp_path: Path) -> None:
    result = check(project(tmp_path, CLEAN, date="2025-01-01"))
    assert result.returncode == 1
    assert "Cloudflare looks for on_fetch on the Default class" in result.stdout


async def test_loading_warns_about_module_level_handlers_and_still_runs_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = project(
        tmp_path, "from workers import Response\nasync def fetch(request):\n    return Response('ran')\n"
    )
    with caplog.at_level(logging.WARNING, logger="workerlab"):
        worker = await Worker.start(config)
    try:
        assert (
            "fetch is a module-level handler" in caplog.text and "(workerlab runs it anyway)" in caplog.text
        )
        assert await (await worker.fetch("/")).text() == "ran"
    finally:
        await worker.close()
