"""The jobs_sdk tests: the SDK's clock on the fake clock, and the email provider mocked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import respx


@pytest.fixture(autouse=True)
def sdk(worker: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The SDK module the worker imported, its clock on the harness's fake clock."""
    module = worker.runtime.worker.module.jobs_sdk
    monkeypatch.setattr(module, "now_ms", worker.clock.now_ms)
    return module


@pytest.fixture
def provider(worker: Any) -> Iterator[respx.Route]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router.post(worker.env.EMAIL_API_URL).respond(202, json={"id": "m1"})
