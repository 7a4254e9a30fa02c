"""Import the user's worker module and find its handlers (SPEC §2.1)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from .errors import HandlerNotFoundError, WorkerLoadError
from .tracebacks import format_user_traceback

Event = Literal["fetch", "queue", "scheduled"]
EVENTS: tuple[Event, ...] = ("fetch", "queue", "scheduled")

#: What each event passes, in order; handlers take as many leading arguments as they declare.
_ARGUMENT_NAMES: dict[Event, str] = {
    "fetch": "request, env, ctx",
    "queue": "batch, env, ctx",
    "scheduled": "controller, env, ctx",
}

#: Folders of every worker loaded in this process, each with the modules that are not the worker's.
_worker_folders: dict[Path, frozenset[str]] = {}

#: Calls a handler with (event argument, env, ctx) and returns what it returned.
Invoker = Callable[[Any, Any, Any], Awaitable[Any]]


def install_workers_module() -> None:
    """Make ``import workers`` resolve to workerlab's implementation of Cloudflare's SDK.

    A worker always gets it, even where some other package named ``workers`` is installed:
    the code must behave as it will on Cloudflare.
    """
    from .compat import workers

    sys.modules["workers"] = workers


@dataclass
class WorkerModule:
    """A loaded worker: its module and one invoker per event it handles."""

    module: ModuleType
    path: Path
    invokers: dict[Event, Invoker]

    def invoker(self, event: Event) -> Invoker:
        try:
            return self.invokers[event]
        except KeyError:
            raise HandlerNotFoundError(
                f"{self.path} has no {event} handler: looked for a class Default with an "
                f"async def {event}(self, ...) method, a function {event}({_ARGUMENT_NAMES[event]}), "
                f"and the legacy on_{event}({_ARGUMENT_NAMES[event]})"
            ) from None


def load_worker(main: Path) -> WorkerModule:
    """Import ``main`` afresh (its folder importable) and find its handlers."""
    main = main.resolve()
    if not main.is_file():
        raise WorkerLoadError(f"the worker's main module {main} does not exist")
    install_workers_module()
    # Another worker loaded earlier in this process (tests load many) may have modules of the same
    # name: forget them all, and put this worker's folder first on the path.
    if main.parent not in _worker_folders:
        # What is already imported from the folder before its first load (tests, conftest.py) is not
        # the worker's and stays.
        _worker_folders[main.parent] = frozenset(_modules_under(main.parent))
    forget_worker_modules()
    with contextlib.suppress(ValueError):
        sys.path.remove(str(main.parent))
    sys.path.insert(0, str(main.parent))
    name = main.stem
    spec = importlib.util.spec_from_file_location(name, main)
    if spec is None or spec.loader is None:
        raise WorkerLoadError(f"{main} cannot be imported as a Python module (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        sys.modules.pop(name, None)
        if isinstance(error, KeyboardInterrupt):
            raise
        if isinstance(error, SystemExit):
            raise WorkerLoadError(
                f"importing {main} failed: the module called sys.exit({error.code!r}) "
                "(a worker module must not exit the process)",
                code="import",
            ) from None
        raise WorkerLoadError(
            f"importing {main} failed:\n{format_user_traceback(error)}", code="import"
        ) from None
    return WorkerModule(module=module, path=main, invokers=find_invokers(module))


def forget_worker_modules() -> None:
    """Drop the workers' modules from sys.modules so that the next import reads the files again.

    A module belongs to the deepest worker folder that holds its file, and stays if it was already
    imported before that folder's first load (a test module, a conftest.py).
    """
    for name, file in _user_module_files():
        owner = None
        for folder in _worker_folders:
            if file.startswith(f"{folder}{os.sep}") and (
                owner is None or len(folder.parts) > len(owner.parts)
            ):
                owner = folder
        if owner is not None and name not in _worker_folders[owner]:
            del sys.modules[name]


def _modules_under(folder: Path) -> list[str]:
    prefix = f"{folder}{os.sep}"
    return [name for name, file in _user_module_files() if file.startswith(prefix)]


def _user_module_files() -> list[tuple[str, str]]:
    """(name, file) of every imported module that is not installed (a venv may sit in the project)."""
    installed = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, _WORKERLAB_DIR})
    found = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and not file.startswith(installed) and "site-packages" not in file:
            found.append((name, file))
    return found


def find_invokers(module: ModuleType) -> dict[Event, Invoker]:
    """The first handler style found wins, per event: Default class, plain functions, on_* functions."""
    entrypoint = getattr(module, "Default", None)
    if not inspect.isclass(entrypoint):
        entrypoint = None
    invokers: dict[Event, Invoker] = {}
    for event in EVENTS:
        if entrypoint is not None and callable(getattr(entrypoint, event, None)):
            invokers[event] = _method_invoker(entrypoint, event)
            continue
        for name in (event, f"on_{event}"):
            function = getattr(module, name, None)
            if callable(function) and not _is_workerlab_own(function):
                invokers[event] = _function_invoker(function)
                break
    return invokers


def _is_workerlab_own(obj: Any) -> bool:
    # `from workers import fetch` puts the outbound fetch at module level: it is not a handler.
    return str(getattr(obj, "__module__", "")).startswith("workerlab")


def _arity(function: Callable[..., Any], *, bound: bool) -> int:
    """How many leading positional arguments ``function`` accepts (of the three an event passes)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return 3
    if bound and parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return 3
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return min(count, 3)


def _function_invoker(function: Callable[..., Any]) -> Invoker:
    arity = _arity(function, bound=False)
    if inspect.iscoroutinefunction(function):
        # Returns the handler's coroutine rather than awaiting it: one frame less per event.
        return lambda argument, env, ctx: function(*(argument, env, ctx)[:arity])

    async def invoke_sync(argument: Any, env: Any, ctx: Any) -> Any:
        return await _in_thread(function, (argument, env, ctx)[:arity], ctx)

    return invoke_sync


async def _in_thread(function: Callable[..., Any], args: tuple[Any, ...], ctx: Any) -> Any:
    """Run a plain `def` handler in a worker thread, so that it never blocks the event loop."""
    enter = getattr(ctx, "_enter_thread", None)
    if enter is not None:  # let waitUntil() called in the thread start work on this loop
        enter(asyncio.get_running_loop())
    result = await asyncio.to_thread(function, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _method_invoker(entrypoint: type, event: Event) -> Invoker:
    method = getattr(entrypoint, event)
    arity = _arity(method, bound=True)
    if inspect.iscoroutinefunction(method):
        # Returns the method's coroutine rather than awaiting it: one frame less per event.
        if arity == 1:
            return lambda argument, env, ctx: method(entrypoint(ctx, env), argument)
        if arity == 0:
            return lambda argument, env, ctx: method(entrypoint(ctx, env))

        def invoke_async(argument: Any, env: Any, ctx: Any) -> Awaitable[Any]:
            return method(entrypoint(ctx, env), *(argument, env, ctx)[:arity])

        return invoke_async

    async def invoke_sync(argument: Any, env: Any, ctx: Any) -> Any:
        return await _in_thread(method, (entrypoint(ctx, env), *(argument, env, ctx)[:arity]), ctx)

    return invoke_sync


_WORKERLAB_DIR = str(Path(__file__).resolve().parent)
