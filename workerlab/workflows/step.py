"""The ``step`` a workflow's ``run(event, step)`` receives, as Cloudflare's Python SDK shapes it.

``step.do`` is a decorator factory; the decorated function becomes a step that runs when awaited::

    @step.do("fetch order", config={"retries": {"limit": 3, "delay": "5 seconds"}})
    async def order():
        ...

    @step.do()                      # the name defaults to the function's name
    async def receipt(order, ctx):  # `order` names an earlier step: its result is passed in
        ...

    total = await receipt()

Both of Cloudflare's forms are accepted: the current one, whose dependencies come from the
function's parameter names (a parameter named ``ctx`` gets the step context), and the older
``step.do(name, depends=[...], concurrent=False, config=None)``, which fills the parameters in
order from ``depends``. A dependency that has not run yet runs first (all of them at once with
``concurrent=True``); within one run each step's result is reused by whoever depends on it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from ..bindings.results import JsObject
from .run import DEFAULT_EVENT_TIMEOUT, Run

_CTX = "ctx"

#: Which ``step.do`` a worker gets. Cloudflare picks by compatibility date: "implicit" (parameter
#: names) from 2026-02-25 (flag ``python_workflows_implicit_dependencies``), "legacy" (``depends=``)
#: before; "both" accepts either, for a worker whose date is not known.
StepForm = Literal["implicit", "legacy", "both"]
_FLAG = "compatibility flag python_workflows_implicit_dependencies, on from 2026-02-25"


class StepFunction:
    """A function decorated with ``@step.do(...)``: ``await fn()`` runs the step (once per call)."""

    def __init__(
        self,
        step: WorkflowStep,
        name: str,
        func: Callable[..., Any],
        depends: Sequence[Any] | None,
        concurrent: bool,
        config: Any,
    ) -> None:
        self._step = step
        self._step_name = name
        self.__wrapped__ = func
        self._depends = depends
        self._concurrent = concurrent
        self._config = config

    @property
    def step_name(self) -> str:
        return self._step_name

    def __call__(self) -> Any:
        return self._step._call(self)

    def __repr__(self) -> str:
        return f"<workflow step {self._step_name!r}>"


class WorkflowStep:
    """``step.do``, ``step.sleep``, ``step.sleep_until`` and ``step.wait_for_event`` for one run."""

    def __init__(self, run: Run, form: StepForm = "both") -> None:
        self._run = run
        self._form = form
        self._declared: dict[str, StepFunction] = {}
        self._results: dict[str, Any] = {}
        self._in_flight: dict[str, asyncio.Future[Any]] = {}

    def do(
        self,
        name: str | None = None,
        depends: Sequence[Any] | None = None,
        concurrent: bool = False,
        config: Any = None,
    ) -> Callable[[Callable[..., Any]], StepFunction]:
        """Decorate an async (or plain) function as the step ``name`` (default: its ``__name__``)."""
        if callable(name):
            raise TypeError(
                'step.do() is a decorator factory: write @step.do() or @step.do("name") above the '
                f"function (found @step.do without parentheses on {getattr(name, '__name__', name)!r})"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"step.do(): expected the step name as a str, found {type(name).__name__} {name!r}"
            )
        if depends is not None and (callable(depends) or isinstance(depends, str | bytes)):
            raise TypeError(
                "step.do(): depends= takes a list of steps declared with @step.do; to run a function as "
                'a step, decorate it: @step.do("name") above an async def, then await it'
            )
        if depends is not None and self._form == "implicit":
            raise TypeError(
                f"step.do() takes no depends= for this worker ({_FLAG}): name the earlier steps as the "
                "function's parameters instead"
            )
        if name is None and self._form == "legacy":
            raise TypeError(
                f'step.do() needs the step name for this worker (before the {_FLAG}): @step.do("name")'
            )

        def decorate(func: Callable[..., Any]) -> StepFunction:
            if not callable(func):
                raise TypeError(f"@step.do() decorates a function, found {type(func).__name__} {func!r}")
            step_name = func.__name__ if name is None else name
            wrapper = StepFunction(self, step_name, func, depends, concurrent, config)
            self._declared[step_name] = wrapper
            return wrapper

        return decorate

    def sleep(self, name: str, duration: str | int | float) -> Any:
        """``await step.sleep("name", "1 hour")`` (or milliseconds)."""
        return self._run.sleep(name, duration)

    def sleep_until(self, name: str, timestamp: datetime | int | float) -> Any:
        """``await step.sleep_until("name", when)``: a datetime or epoch milliseconds."""
        return self._run.sleep_until(name, timestamp)

    def wait_for_event(
        self, name: str, event_type: str, /, timeout: str | int | float = DEFAULT_EVENT_TIMEOUT
    ) -> Any:
        """``await step.wait_for_event("name", "approval", timeout="24 hours")`` → the event
        (``payload``, ``timestamp``, ``type``)."""
        return self._run.wait_for_event(name, event_type, timeout)

    # --- running a decorated step ----------------------------------------------------------

    async def _call(self, fn: StepFunction) -> Any:
        name, func = fn.step_name, fn.__wrapped__
        sources = self._sources(fn)
        if fn._concurrent:
            values = await asyncio.gather(*(self._resolve(source) for source in sources))
        else:
            values = [await self._resolve(source) for source in sources]

        def call(ctx: JsObject) -> Any:
            return func(
                *(ctx if source is None else value for source, value in zip(sources, values, strict=True))
            )

        task = asyncio.ensure_future(self._run.do(name, fn._config, call))
        self._in_flight[name] = task
        try:
            result = await task
        finally:
            if self._in_flight.get(name) is task:
                del self._in_flight[name]
        self._results[name] = result
        return result

    def _sources(self, fn: StepFunction) -> list[StepFunction | None]:
        """Where each parameter of the step's function comes from: a step, or None for the step context."""
        name, depends = fn.step_name, fn._depends
        params = list(inspect.signature(fn.__wrapped__).parameters)
        if depends is None and self._form == "legacy" and any(param != _CTX for param in params):
            raise TypeError(
                f"Step \"{name}\" has non-ctx parameter(s) but no 'depends' list provided (before the "
                f"{_FLAG}, dependencies are given as depends=[...])"
            )
        if depends is None:
            sources: list[StepFunction | None] = []
            for param in params:
                if param == _CTX:
                    sources.append(None)
                elif param in self._declared and self._declared[param] is not fn:
                    sources.append(self._declared[param])
                else:
                    declared = ", ".join(n for n in self._declared if n != name) or "none"
                    raise TypeError(
                        f'Received unexpected parameter {param}: a parameter of step "{name}" names an '
                        f'earlier step (declared: {declared}) or is "ctx" (the step context)'
                    )
            return sources
        wanted = [param for param in params if param != _CTX]
        if len(wanted) != len(depends):
            raise TypeError(
                f"Step \"{name}\" declares {len(wanted)} non-ctx parameter(s) but 'depends' has "
                f"{len(depends)} item(s)"
            )
        given = iter(depends)
        sources = []
        for param in params:
            if param == _CTX:
                sources.append(None)
                continue
            dependency = next(given)
            if not isinstance(dependency, StepFunction):
                raise TypeError(
                    f'step "{name}": depends= lists steps declared with @step.do, found '
                    f"{type(dependency).__name__} {dependency!r}"
                )
            sources.append(dependency)
        return sources

    async def _resolve(self, source: StepFunction | None) -> Any:
        if source is None:
            return None
        name = source.step_name
        if name in self._results:
            return self._results[name]
        if name in self._in_flight:
            return await self._in_flight[name]
        return await source()
