"""Import the user's worker module and find its handlers (SPEC §2.1)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from .errors import HandlerNotFoundError, WorkerLoadError
from .namespace import WorkerNamespace
from .signatures import positional_arity
from .tracebacks import format_user_traceback

Event = Literal["fetch", "queue", "scheduled"]
EVENTS: tuple[Event, ...] = ("fetch", "queue", "scheduled")

#: What each event passes, in order; handlers take as many leading arguments as they declare.
_ARGUMENT_NAMES: dict[Event, str] = {
    "fetch": "request, env, ctx",
    "queue": "batch, env, ctx",
    "scheduled": "controller, env, ctx",
}

#: Calls a handler with (event argument, env, ctx) and returns what it returned.
Invoker = Callable[[Any, Any, Any], Awaitable[Any]]


Style = Literal["class", "function", "legacy"]


@dataclass(frozen=True)
class Handler:
    """Where an event's handler was found: ``Default.<event>`` (class), ``<event>`` (function) or
    ``on_<event>`` (legacy), and the function or method itself."""

    style: Style
    name: str
    function: Callable[..., Any]
    #: The class of a ``class`` handler (``Default``).
    owner: type | None = None


@dataclass
class WorkerModule:
    """A loaded worker: its module and one invoker per event it handles."""

    module: ModuleType
    path: Path
    invokers: dict[Event, Invoker]
    namespace: WorkerNamespace
    handlers: dict[Event, Handler]

    def unload(self) -> None:
        """Forget the worker's modules (after its runtime has closed)."""
        self.namespace.forget()

    def invoker(self, event: Event) -> Invoker:
        try:
            return self.invokers[event]
        except KeyError:
            raise HandlerNotFoundError(
                f"{self.path} has no {event} handler: looked for a class Default with an "
                f"async def {event}(self, ...) method, a function {event}({_ARGUMENT_NAMES[event]}), "
                f"and the legacy on_{event}({_ARGUMENT_NAMES[event]})"
            ) from None


def load_worker(main: Path, name: str | None = None) -> WorkerModule:
    """Import ``main`` afresh into a namespace of its own (see :mod:`workerlab.namespace`) and find
    its handlers. ``name`` is the worker's name (default: the module's folder name)."""
    main = main.resolve()
    if not main.is_file():
        raise WorkerLoadError(f"the worker's main module {main} does not exist")
    if main.suffix != ".py":
        raise WorkerLoadError(f"{main} cannot be imported as a Python module (expected a .py file)")
    from .compat.install import install_sdk_modules

    # A worker always gets workerlab's `workers`, `js` and `pyodide`, even where some other package
    # of those names is installed: the code must behave as it will on Cloudflare.
    install_sdk_modules()
    namespace = WorkerNamespace(name or main.parent.name, main.parent)
    try:
        module = namespace.import_main(main)
    except BaseException as error:
        namespace.forget()
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
    handlers = find_handlers(module)
    invokers = {event: _invoker(event, handler) for event, handler in handlers.items()}
    return WorkerModule(module=module, path=main, invokers=invokers, namespace=namespace, handlers=handlers)


def find_handlers(module: ModuleType) -> dict[Event, Handler]:
    """The first handler style found wins, per event: Default class, plain functions, on_* functions."""
    entrypoint = getattr(module, "Default", None)
    if not inspect.isclass(entrypoint):
        entrypoint = None
    handlers: dict[Event, Handler] = {}
    for event in EVENTS:
        if entrypoint is not None and callable(getattr(entrypoint, event, None)):
            handlers[event] = Handler("class", f"Default.{event}", getattr(entrypoint, event), entrypoint)
            continue
        for style, name in (("function", event), ("legacy", f"on_{event}")):
            function = getattr(module, name, None)
            if callable(function) and not _is_workerlab_own(function):
                handlers[event] = Handler(style, name, function)  # type: ignore[arg-type]
                break
    return handlers


def _invoker(event: Event, handler: Handler) -> Invoker:
    if handler.owner is not None:
        return _method_invoker(handler.owner, event)
    invoker = _function_invoker(handler.function)
    if handler.style == "legacy" and event == "fetch":
        # A legacy on_fetch receives the JS runtime's request object, with its JS names.
        from .compat.jsrequest import js_request

        return lambda request, env, ctx: invoker(js_request(request), env, ctx)
    return invoker


def _is_workerlab_own(obj: Any) -> bool:
    # `from workers import fetch` puts the outbound fetch at module level: it is not a handler.
    return str(getattr(obj, "__module__", "")).startswith("workerlab")


def _function_invoker(function: Callable[..., Any]) -> Invoker:
    arity = positional_arity(function, 3)
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
    arity = positional_arity(method, 3, skip_first=True)
    if inspect.iscoroutinefunction(method):
        # Returns the method's coroutine rather than awaiting it: one frame less per event.
        if arity == 1:
            return lambda argument, env, ctx: method(entrypoint(ctx, env), argument)
        if arity == 0:
            return lambda argument, env, ctx: method(entrypoint(ctx, env))

        def invoke_async(argument: Any, env: Any, ctx: Any) -> Awaitable[Any]:
            result: Awaitable[Any] = method(entrypoint(ctx, env), *(argument, env, ctx)[:arity])
            return result

        return invoke_async

    async def invoke_sync(argument: Any, env: Any, ctx: Any) -> Any:
        return await _in_thread(method, (entrypoint(ctx, env), *(argument, env, ctx)[:arity]), ctx)

    return invoke_sync
