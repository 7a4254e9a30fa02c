"""workerlab's pytest plugin: registered through the pytest11 entry point."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("workerlab_config", "Path of the worker's wrangler config, relative to the rootdir.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "workerlab(config=None, env=None, vars=None, now=None): how the `worker` fixture loads the worker",
    )
