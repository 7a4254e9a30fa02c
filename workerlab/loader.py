"""Import the user's worker module and find its handlers (SPEC §2.1)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from .errors import HandlerNotFoundError, WorkerLoadError

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
    """Make ``import workers`` resolve to workerlab's implementation of Cloudflare's SDK."""
    if "workers" not in sys.modules or not getattr(sys.modules["workers"], "__workerlab__", False):
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
    for folder, keep in _worker_folders.items():
        forget_modules_under(folder, keep=keep)
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
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        raise WorkerLoadError(
            f"importing {main} failed:\n{format_user_traceback(error)}", code="import"
        ) from None
    return WorkerModule(module=module, path=main, invokers=find_invokers(module))


def forget_modules_under(folder: Path, *, keep: frozenset[str] = frozenset()) -> None:
    """Drop the worker's modules from sys.modules so that a reload imports the edited files."""
    for name in _modules_under(folder):
        if name not in keep:
            del sys.modules[name]


def _modules_under(folder: Path) -> list[str]:
    prefix = str(folder.resolve())
    # A virtual environment inside the project folder holds installed packages, not the worker's code.
    installed = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, _WORKERLAB_DIR})
    names = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (
            file
            and file.startswith(prefix)
            and not file.startswith(installed)
            and "site-packages" not in file
        ):
            names.append(name)
    return names


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


def _call(function: Callable[..., Any]) -> Callable[[tuple[Any, ...]], Awaitable[Any]]:
    """An async caller for a handler: coroutines run on the loop, plain functions in a thread."""
    if inspect.iscoroutinefunction(function):

        async def call_async(args: tuple[Any, ...]) -> Any:
            return await function(*args)

        return call_async

    async def call_sync(args: tuple[Any, ...]) -> Any:
        result = await asyncio.to_thread(function, *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    return call_sync


def _function_invoker(function: Callable[..., Any]) -> Invoker:
    arity = _arity(function, bound=False)
    call = _call(function)

    async def invoke(argument: Any, env: Any, ctx: Any) -> Any:
        return await call((argument, env, ctx)[:arity])

    return invoke


def _method_invoker(entrypoint: type, event: Event) -> Invoker:
    method = getattr(entrypoint, event)
    arity = _arity(method, bound=True)
    is_async = inspect.iscoroutinefunction(method)

    async def invoke(argument: Any, env: Any, ctx: Any) -> Any:
        instance = entrypoint(ctx, env)
        args = (argument, env, ctx)[:arity]
        if is_async:
            return await getattr(instance, event)(*args)
        result = await asyncio.to_thread(getattr(instance, event), *args)
        if inspect.isawaitable(result):
            result = await result
        return result

    return invoke


_WORKERLAB_DIR = str(Path(__file__).resolve().parent)


def format_user_traceback(error: BaseException) -> str:
    """A traceback limited to the user's frames (workerlab's and importlib's own are left out)."""
    summary = traceback.TracebackException.from_exception(error)
    _trim(summary)
    return "".join(summary.format()).rstrip()


def _trim(summary: traceback.TracebackException) -> None:
    frames = [
        frame
        for frame in summary.stack
        if not frame.filename.startswith(_WORKERLAB_DIR) and "<frozen importlib" not in frame.filename
    ]
    summary.stack = traceback.StackSummary.from_list(frames)
    for linked in (summary.__cause__, summary.__context__):
        if linked is not None:
            _trim(linked)
