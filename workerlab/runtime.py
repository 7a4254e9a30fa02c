"""One loaded worker of a session: its env, and the dispatch of its fetch, queue, scheduled and RPC events."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .config import Var, WorkerConfig
from .context import ExecutionContext, Outcome, current_context
from .envvars import merged_vars
from .events import CronRun
from .loader import WorkerModule
from .tracebacks import format_user_traceback

if TYPE_CHECKING:
    from .bindings.assets import AssetsBinding
    from .bindings.registry import BindingKind, BindingSite
    from .cron import ScheduledResult
    from .queues.message import MessageBatch
    from .session import Session

logger = logging.getLogger("workerlab")


class Env:
    """The ``env`` handlers receive: vars and bindings, by attribute or by item."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise KeyError(self._missing(name)) from None

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(self._missing(name))

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def keys(self) -> list[str]:
        return list(self.__dict__)

    def _missing(self, name: str) -> str:
        known = ", ".join(sorted(self.__dict__)) or "nothing"
        return f"env has no {name!r}: it holds {known} (vars, .dev.vars and bindings from the config)"

    def __repr__(self) -> str:
        return f"Env({', '.join(sorted(self.__dict__))})"


class Runtime:
    """A worker of a session: ``env`` (filled when the session opens its bindings) and its events."""

    def __init__(self, config: WorkerConfig, worker: WorkerModule, session: Session) -> None:
        self.config = config
        self.worker = worker
        self.session = session
        self.name = config.name
        self.clock = session.clock
        self.work = session.work
        self.env = Env({})
        #: (spec, kind, site) of every binding, for the start-up table.
        self.bindings: list[tuple[Any, BindingKind, BindingSite]] = []
        #: The static assets served in front of the worker (``[assets]``), if any.
        self.assets: AssetsBinding | None = None
        if not worker.invokers:
            logger.warning(
                "%s defines no handler: expected a class Default(WorkerEntrypoint) with fetch, queue or "
                "scheduled methods, or module-level fetch / queue / scheduled functions",
                worker.path,
            )

    async def open_bindings(self) -> None:
        """Fill ``env``: ``[vars]``, then ``.dev.vars`` and the session's extra vars, then each binding
        (a binding the session overrides is replaced by the override)."""
        from .bindings.registry import BindingSite, kind_of

        site = BindingSite(self.name, self.config, self.session, self.work)
        options = self.session.options
        values = merged_vars(self.config, options.extra_vars)
        for spec in self.config.bindings:
            kind = kind_of(spec)
            self.bindings.append((spec, kind, site))
            if isinstance(spec, Var):
                continue
            if spec.binding in options.overrides:
                values[spec.binding] = options.overrides[spec.binding]
                continue
            value = await kind.open(spec, site)
            if kind.section == "assets":  # the server serves them before the worker
                self.assets = value
            if spec.binding:
                values[spec.binding] = value
        for name, value in options.overrides.items():
            values.setdefault(name, value)
        self.env.__dict__.update(values)

    # --- events --------------------------------------------------------------------------

    async def fetch(self, request: Any) -> Any:
        """Run the fetch handler; its exception propagates. waitUntil work goes on in the background."""
        env = self.env
        ctx = ExecutionContext(self.work, False, env)  # positional: built on every request
        token = current_context.set(ctx)
        try:
            return await self.worker.invoker("fetch")(request, env, ctx)
        finally:
            current_context.reset(token)

    async def run_queue_batch(self, batch: MessageBatch) -> tuple[Outcome, BaseException | None]:
        """The broker's dispatch: run the queue handler and wait for its waitUntil work."""
        return await self._run_waited("queue", batch, f"queue handler for {batch.queue!r}")

    async def scheduled(self, cron: str, scheduled_time_ms: int) -> ScheduledResult:
        """Run the scheduled handler once (a :class:`~workerlab.events.CronRun` event tells how it went)."""
        from .cron import ScheduledController, ScheduledResult

        controller = ScheduledController(cron, scheduled_time_ms)
        started = time.perf_counter()
        outcome, error = await self._run_waited("scheduled", controller, f"scheduled handler ({cron!r})")
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.session.bus.emit(CronRun(self.name, cron, scheduled_time_ms, outcome, error, elapsed_ms))
        return ScheduledResult(outcome=outcome, no_retry=controller.retry_disabled, error=error)

    async def call_entrypoint(
        self, entrypoint: str | None, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Any:
        """An RPC call (or a service binding's fetch, ``method == "fetch"``) on the worker's ``Default``
        class or its named ``WorkerEntrypoint`` subclass; the target's exception propagates."""
        from .rpc import call_method, clone

        if method == "fetch" and entrypoint is None:
            return await self.fetch_response(args[0])  # the fetch handler, in whatever style
        cls = self.entrypoint_class(entrypoint)
        label = self.name if entrypoint is None else f"{self.name}#{entrypoint}"
        if cls is None:
            raise TypeError(
                f"The RPC receiver {label} has no Default class: {self.worker.path} must define "
                f"class Default(WorkerEntrypoint) with the method {method}() to be called over RPC"
            )
        ctx = ExecutionContext(self.work, waits_for_work=False, env=self.env)
        token = current_context.set(ctx)
        try:
            instance = cls(ctx, self.env)
            if method == "fetch":
                return clone(await instance.fetch(args[0]), "the result of fetch()")
            return await call_method(instance, method, args, kwargs, label)
        finally:
            current_context.reset(token)

    async def fetch_response(self, request: Any) -> Any:
        """The fetch handler's result as a workers ``Response`` (a Starlette response is converted)."""
        from .compat.response import Response
        from .starlette_results import to_workers_response

        result = await self.fetch(request)
        if isinstance(result, Response):
            return result
        converted = await to_workers_response(result)
        if converted is None:
            raise TypeError(
                f"The fetch handler of {self.worker.path} returned {type(result).__name__}; "
                "expected a workers.Response (or a Starlette Response)"
            )
        return converted

    def entrypoint_class(self, entrypoint: str | None) -> type | None:
        """``Default`` (None when the module has none), or the named ``WorkerEntrypoint`` subclass."""
        module = self.worker.module
        if entrypoint is None:
            cls = getattr(module, "Default", None)
            return cls if isinstance(cls, type) else None
        from .compat.entrypoint import WorkerEntrypoint
        from .errors import ConfigError

        cls = getattr(module, entrypoint, None)
        if not (isinstance(cls, type) and issubclass(cls, WorkerEntrypoint)):
            found = "nothing of that name" if cls is None else f"a {type(cls).__name__}"
            raise ConfigError(
                f'entrypoint "{entrypoint}" of the service {self.name} must be a WorkerEntrypoint subclass '
                f"exported by {self.worker.path}, found {found}"
            )
        return cls

    async def _run_waited(
        self, event: Literal["queue", "scheduled"], argument: Any, what: str
    ) -> tuple[Outcome, BaseException | None]:
        ctx = ExecutionContext(self.work, waits_for_work=True, env=self.env)
        token = current_context.set(ctx)
        error: BaseException | None = None
        try:
            await self.worker.invoker(event)(argument, self.env, ctx)
        except Exception as raised:
            error = raised
            logger.error("%s raised:\n%s", what, format_user_traceback(raised))
        finally:
            current_context.reset(token)
        failures = await ctx.wait()
        if error is None and failures:
            error = failures[0]
        return ("exception" if error is not None else "ok"), error
