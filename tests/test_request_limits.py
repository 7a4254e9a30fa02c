"""Cloudflare's limits on an incoming request's size: the worker never sees a request over them."""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from workerlab import limits
from workerlab.request_limits import Refusal, read_body
from workerlab.testing import Worker

WORKER = """
from workers import Response

calls = []

async def on_fetch(request, env):
    body = await request.text()
    calls.append(len(body))
    return Response(f"got {len(body)} bytes")
"""


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[Worker]:
    (tmp_path / "worker.py").write_text(textwrap.dedent(WORKER))
    (tmp_path / "wrangler.toml").write_text('name = "limited"\nmain = "worker.py"\n')
    started = await Worker.start(tmp_path / "wrangler.toml")
    try:
        yield started
    finally:
        await started.close()


def calls(worker: Worker) -> list[int]:
    return list(worker.runtime.worker.module.calls)


async def test_a_url_over_16_kb_is_answered_414(worker: Worker) -> None:
    response = await worker.fetch("/?" + "q" * limits.MAX_URL_BYTES)
    assert response.status == 414
    assert f"at most {limits.MAX_URL_BYTES}" in await response.text()
    assert calls(worker) == []
    assert (await worker.fetch("/?" + "q" * 100)).status == 200


async def test_headers_over_128_kb_in_all_are_answered_431(worker: Worker) -> None:
    filler = {f"x-filler-{i}": "v" * 8_000 for i in range(limits.MAX_HEADER_BYTES // 8_000 + 1)}
    response = await worker.fetch("/", headers=filler)
    assert response.status == 431
    assert "request headers are" in await response.text()
    assert calls(worker) == []


async def test_a_body_over_the_limit_is_answered_413(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_BODY_BYTES", 1_000)
    assert await (await worker.fetch("/", method="POST", body="x" * 1_000)).text() == "got 1000 bytes"
    response = await worker.fetch("/", method="POST", body="x" * 1_001)
    assert response.status == 413
    assert "more than 1000 bytes" in await response.text()
    assert calls(worker) == [1_000]


async def test_a_body_in_chunks_is_refused_once_it_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_BODY_BYTES", 10)
    received: list[dict[str, Any]] = []
    chunks = iter([{"body": b"3456", "more_body": True}, {"body": b"789a", "more_body": False}])

    async def receive() -> dict[str, Any]:
        message = next(chunks)
        received.append(message)
        return message

    assert await read_body({"body": b"12", "more_body": True}, receive) == b"123456789a"  # 10: at the limit
    chunks = iter([{"body": b"3456789", "more_body": True}, {"body": b"never read", "more_body": False}])
    received.clear()
    with pytest.raises(Refusal) as refused:
        await read_body({"body": b"1234", "more_body": True}, receive)
    assert refused.value.status == 413 and "11 bytes had arrived" in refused.value.detail
    assert len(received) == 1  # stopped at the chunk that went over, the rest never read


async def test_the_request_line_of_a_long_url_is_cut(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    await worker.fetch("/?" + "q" * limits.MAX_URL_BYTES)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET /?")]
    assert re.search(
        rf"\.\.\. \({limits.MAX_URL_BYTES + 2} characters\) 414 Request-URI Too Long \(\d+ms\)$", line
    )
    assert len(line) < 300
