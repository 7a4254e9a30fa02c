"""The hello worker, through the pytest harness."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.workerlab(config="sample_workers/hello/wrangler.toml")


async def test_greets(worker) -> None:
    response = await worker.fetch("/")
    assert response.status == 200
    assert await response.text() == "Hello from workerlab!"


async def test_echoes_json(worker) -> None:
    response = await worker.fetch("/echo", method="POST", json={"a": 1})
    assert await response.json() == {"received": {"a": 1}}


@pytest.mark.workerlab(config="sample_workers/hello/wrangler.toml", vars={"GREETING": "bonjour"})
async def test_marker_vars_override_config_vars(worker) -> None:
    response = await worker.fetch("/env")
    assert await response.json() == {"greeting": "bonjour"}
