"""workerlab's pytest plugin (pytest11 entry point): the ``worker`` fixture and its marker.

Kept cheap to import and inert: nothing of workerlab's runtime loads, and nothing runs,
until a test asks for ``worker``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import Worker

#: The arguments ``@pytest.mark.workerlab(...)`` takes.
MARKER_ARGUMENTS = ("config", "env", "vars", "now", "workers", "bindings")
_FINDER = pytest.StashKey["_WorkersFinder"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "workerlab_config",
        "Path of the worker's wrangler.toml / wrangler.json(c) for the `worker` fixture, relative to the "
        "rootdir (default: the one found in the rootdir)",
        default=None,
    )
    parser.addini(
        "workerlab_workers",
        "More workers the `worker` fixture loads beside the main one: their wrangler.toml / "
        "wrangler.json(c) paths, one per line, relative to the rootdir",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "workerlab(config=None, env=None, vars=None, now=None, workers=None, bindings=None): how the "
        "`worker` fixture loads the worker (config and workers relative to the rootdir; vars override "
        "[vars] and .dev.vars; now: datetime or epoch s; bindings: name -> fake, replacing env values)",
    )
    finder = config.stash[_FINDER] = _WorkersFinder()
    sys.meta_path.append(finder)


def pytest_unconfigure(config: pytest.Config) -> None:
    finder = config.stash.get(_FINDER, None)
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


class _WorkersFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Lets test modules import a worker's module (and so ``import workers``, ``js``, ``pyodide``)
    directly.

    It is the last finder consulted, so until a worker is loaded (which installs workerlab's
    modules for good) it never hides another installed package of those names.
    """

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        from .compat.install import SDK_MODULE_NAMES

        if fullname not in SDK_MODULE_NAMES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package="." not in fullname)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        from .compat.install import sdk_module

        return sdk_module(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        pass


def worker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``worker`` fixture's options: markers (the closest wins; ``vars`` are merged), then the
    ``workerlab_config`` ini option, then the config found in the rootdir."""
    options: dict[str, Any] = {}
    merged_vars: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("workerlab"))):
        if marker.args:
            _fail(
                f"@pytest.mark.workerlab takes keyword arguments only ({', '.join(MARKER_ARGUMENTS)}), "
                f"got positional {marker.args!r}"
            )
        unknown = sorted(set(marker.kwargs) - set(MARKER_ARGUMENTS))
        if unknown:
            _fail(
                f"@pytest.mark.workerlab got unknown argument(s) {unknown}; "
                f"expected {', '.join(MARKER_ARGUMENTS)}"
            )
        marker_vars = marker.kwargs.get("vars") or {}
        if not isinstance(marker_vars, Mapping):
            _fail(f"@pytest.mark.workerlab(vars=...) takes a dict, got {type(marker_vars).__name__}")
        merged_vars.update(marker_vars)
        options.update(marker.kwargs)
    options["vars"] = merged_vars
    now = options.get("now")
    if now is not None and (isinstance(now, bool) or not isinstance(now, datetime | int | float)):
        _fail(
            "@pytest.mark.workerlab(now=...) takes a datetime or epoch seconds, "
            f"got {type(now).__name__} {now!r}"
        )
    rootdir = Path(str(request.config.rootpath))
    workers = options.get("workers")
    if workers is None:
        workers = request.config.getini("workerlab_workers")
    if isinstance(workers, str | Path) or not all(isinstance(w, str | Path) for w in workers):
        _fail(f"@pytest.mark.workerlab(workers=...) takes a list of config paths, got {workers!r}")
    options["workers"] = [_under(rootdir, worker) for worker in workers]
    bindings = options.get("bindings") or {}
    if not isinstance(bindings, Mapping):
        kind = type(bindings).__name__
        _fail(f"@pytest.mark.workerlab(bindings=...) takes a dict of name -> value, got {kind}")
    options["bindings"] = bindings
    config = options.get("config") or request.config.getini("workerlab_config")
    if config:
        options["config"] = _under(rootdir, config)
        return options
    from .config import discover_config
    from .errors import ConfigError

    try:
        options["config"] = discover_config(rootdir)
    except ConfigError as error:
        _fail(
            f"the worker fixture needs a config: {error.message}. Set the workerlab_config ini option "
            "or @pytest.mark.workerlab(config=...)"
        )
    return options


def _under(rootdir: Path, path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else rootdir / path


def _fail(message: str) -> None:
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


async def _worker(request: pytest.FixtureRequest) -> AsyncIterator[Worker]:
    """The project's worker, loaded as `workerlab dev` loads it, with in-memory state and a fake
    clock at 2026-01-01T00:00:00Z, fresh for each test (see @pytest.mark.workerlab). Teardown
    fails the test if waitUntil work it did not settle failed."""
    from .errors import UserError
    from .testing import Worker

    options = worker_options(request)
    problem = None
    try:
        worker = await Worker.start(
            options["config"],
            env=options.get("env"),
            vars=options["vars"],
            now=options.get("now"),
            workers=options["workers"],
            bindings=options["bindings"],
        )
    except UserError as error:
        problem = error.message
    if problem is not None:  # failed outside the except block, so pytest shows the message once
        _fail(f"workerlab could not load the worker: {problem}")
    try:
        yield worker
    finally:
        failures = await worker.close()
    if failures:
        first = failures[0]
        more = f"; {len(failures) - 1} more failure(s) are in the log" if len(failures) > 1 else ""
        first.add_note(f"(raised by the worker's ctx.waitUntil() work, which the test did not settle{more})")
        raise first


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is part of workerlab's test extra

    @pytest.fixture(name="worker")
    def _worker_without_asyncio() -> None:
        _fail("the worker fixture needs pytest-asyncio: pip install pytest-asyncio")

else:
    worker = pytest_asyncio.fixture(_worker, name="worker")
