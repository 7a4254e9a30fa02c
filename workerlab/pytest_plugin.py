"""workerlab's pytest plugin (pytest11 entry point): the ``worker`` fixture and its marker.

Kept cheap to import: nothing of workerlab's runtime loads until a test asks for ``worker``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import Worker

_CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("workerlab_config", "Path of the worker's wrangler config, relative to the rootdir.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "workerlab(config=None, env=None, vars=None, now=None): how the `worker` fixture loads the worker",
    )


def _worker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    rootdir = Path(str(request.config.rootpath))
    marker = request.node.get_closest_marker("workerlab")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - {"config", "env", "vars", "now"}
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.workerlab got unknown argument(s) {sorted(unknown)}; expected config, env, vars, now"
        )
    config = options.get("config") or request.config.getini("workerlab_config")
    if config:
        path = Path(config)
        options["config"] = path if path.is_absolute() else rootdir / path
    else:
        found = next((rootdir / name for name in _CONFIG_NAMES if (rootdir / name).is_file()), None)
        if found is None:
            raise pytest.UsageError(
                f"the worker fixture found no wrangler.json, wrangler.jsonc or wrangler.toml in {rootdir}; "
                "set the workerlab_config ini option or @pytest.mark.workerlab(config=...)"
            )
        options["config"] = found
    return options


async def _worker(request: pytest.FixtureRequest) -> AsyncIterator[Worker]:
    from .errors import UserError
    from .testing import Worker

    options = _worker_options(request)
    try:
        worker = await Worker.start(
            options["config"], env=options.get("env"), vars=options.get("vars"), now=options.get("now")
        )
    except UserError as error:
        pytest.fail(f"workerlab could not load the worker: {error.message}", pytrace=False)
    try:
        yield worker
    finally:
        failures = await worker.close()
    if failures:
        raise failures[0]


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is part of workerlab's test extra

    @pytest.fixture
    def worker() -> None:
        pytest.fail("the worker fixture needs pytest-asyncio: pip install pytest-asyncio", pytrace=False)

else:
    worker = pytest_asyncio.fixture(_worker, name="worker")
