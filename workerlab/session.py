"""The workers loaded together: one clock, one event bus, one set of timers, one persist directory.

A session loads in two phases. First every worker's module is imported (each into its own
namespace) and the queue consumers of all of them are checked together; then each worker's
bindings are opened and its ``env`` filled, so that a binding may refer to a worker loaded
after its own. ``workerlab dev`` runs a session on the real clock; the harness runs one on a
fake clock and steps its timers. Everything a session opens is closed by one exit stack, in
reverse order, even when opening fails half-way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .clock import Clock, SystemClock
from .config import QueueConsumer, WorkerConfig
from .context import BackgroundWork, Outcome
from .errors import ConfigError
from .events import EventBus
from .loader import load_worker
from .loglines import LogLines
from .portability import warn_handler_differences
from .runtime import Runtime
from .timers import Timers

if TYPE_CHECKING:
    from .dev_registry import DevRegistry, RunningWorker
    from .durable import DurableObjects
    from .queues.broker import Broker
    from .queues.message import MessageBatch
    from .workflows import WorkflowEngine

logger = logging.getLogger("workerlab")


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class SessionOptions:
    """How a session loads its workers (``workerlab dev`` flags, or the harness's choices)."""

    #: Where state lives; None keeps everything in memory (tests).
    persist_dir: Path | None = None
    #: SQLite synchronous=FULL: survive power loss, not only crashes.
    durable: bool = False
    clock: Clock = field(default_factory=SystemClock)
    #: ``--var`` flags (or the harness marker's ``vars``): override every worker's vars.
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    #: Fire cron triggers (``--no-crons`` turns this off).
    crons: bool = True
    #: Binding name -> value that replaces that binding on every worker's env.
    overrides: Mapping[str, Any] = field(default_factory=dict)


class Session:
    """The loaded workers (the first is the primary, served on the port) and what they share."""

    def __init__(self, options: SessionOptions, *, log: LogLines | None = None) -> None:
        self.options = options
        self.persist_dir = options.persist_dir
        self.durable = options.durable
        self.clock = options.clock
        self.bus = EventBus()
        (log or LogLines()).attach(self.bus)
        self.timers = Timers(self.clock)
        self.work = BackgroundWork(self.bus)
        self.workers: dict[str, Runtime] = {}
        self._stack = AsyncExitStack()
        self._consumers: dict[str, tuple[QueueConsumer, Runtime]] = {}
        #: Consumers not started (their worker has no queue handler): their settings still apply.
        self._idle_consumers: list[QueueConsumer] = []
        self._broker: Broker | None = None
        self._workflows: WorkflowEngine | None = None
        self._durable_objects: DurableObjects | None = None
        self._shared: dict[tuple[str, str], Closable] = {}
        self._registry: DevRegistry | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, configs: Sequence[WorkerConfig], options: SessionOptions, *, log: LogLines | None = None
    ) -> Session:
        """Load ``configs`` (the first is the primary) and open every binding; a failure closes
        whatever was opened and propagates."""
        session = cls(options, log=log)
        try:
            await session._load(configs)
        except BaseException:
            await session.close(grace_s=0)
            raise
        return session

    @property
    def primary(self) -> Runtime:
        """The worker whose fetch handler serves HTTP."""
        return next(iter(self.workers.values()))

    # --- loading -----------------------------------------------------------------------------

    async def _load(self, configs: Sequence[WorkerConfig]) -> None:
        if not configs:
            raise ConfigError("no worker to load: pass at least one config")
        for config in configs:
            if config.name in self.workers:
                other = self.workers[config.name].config.path
                raise ConfigError(
                    f"{config.path}: name must differ from every other loaded worker's, found "
                    f'"{config.name}" (the name of {other} too)'
                )
            module = load_worker(config.main, config.name)
            self._stack.callback(module.unload)
            warn_handler_differences(config, module)
            self.workers[config.name] = Runtime(config, module, self)
        self._collect_consumers()
        # Crons first: at one instant they fire before alarms, workflow steps and deliveries.
        for runtime in self.workers.values():
            if runtime.config.crons and self.options.crons:
                from .cron import CronScheduler

                self.timers.add(CronScheduler(runtime.config.crons, self.clock, runtime.scheduled))
        for runtime in self.workers.values():
            await runtime.open_bindings()
        if any(consumer.type == "worker" for consumer, _ in self._consumers.values()):
            self.timers.add(self.queue_broker())  # pull consumers are served on request, not on time

    def _collect_consumers(self) -> None:
        """One consumer per queue across every loaded worker; a worker without a queue handler keeps
        its queues' messages stored instead of failing them all."""
        owners: dict[str, str] = {}
        for runtime in self.workers.values():
            consumers = runtime.config.consumers
            for consumer in consumers:
                if consumer.queue in owners:
                    other = owners[consumer.queue]
                    raise ConfigError(
                        f'{runtime.config.path}: queues.consumers: the queue "{consumer.queue}" must have '
                        f"one consumer across the loaded workers, found a second ({other} consumes it too)"
                    )
                owners[consumer.queue] = str(runtime.config.path)
            pushed = [c for c in consumers if c.type == "worker"]
            if pushed and "queue" not in runtime.worker.invokers:
                # Delivering would only fail every message into its dead-letter queue (or drop it).
                logger.warning(
                    "%s has no queue handler, so the consumers of %s are not started; their messages are "
                    "kept until it has one (a Default class with async def queue(self, batch), or a "
                    "function queue(batch, env, ctx))",
                    runtime.worker.path,
                    ", ".join(f'"{c.queue}"' for c in pushed),
                )
                self._idle_consumers += pushed
                consumers = tuple(c for c in consumers if c.type != "worker")  # pull ones still serve
            for consumer in consumers:
                self._consumers[consumer.queue] = (consumer, runtime)

    # --- what bindings use (workerlab.bindings.registry.SessionServices) ---------------------

    def queue_broker(self) -> Broker:
        """The session's queue broker, over ``<persist>/queues.sqlite3`` (opened on first use)."""
        if self._broker is None:
            from .queues.broker import Broker
            from .queues.store import STORE_FILE_NAME, QueueStore

            path = None if self.persist_dir is None else self.persist_dir / STORE_FILE_NAME
            store = QueueStore.open(path, durable=self.durable, on_loop=True)
            self._stack.callback(store.close)
            consumers = {queue: consumer for queue, (consumer, _) in self._consumers.items()}
            workers = {queue: runtime.name for queue, (_, runtime) in self._consumers.items()}
            self._broker = Broker(
                store,
                self.clock,
                consumers,
                self._dispatch,
                bus=self.bus,
                workers=workers,
                idle=self._idle_consumers,  # not started, but their retention and metrics apply
            )
            self._stack.push_async_callback(self._broker.close)
        return self._broker

    def workflow_engine(self) -> WorkflowEngine:
        """The session's workflow engine, over ``<persist>/workflows.sqlite3`` (opened on first use)."""
        if self._workflows is None:
            from .workflows import STORE_FILE_NAME, WorkflowEngine

            path = None if self.persist_dir is None else self.persist_dir / STORE_FILE_NAME
            self._workflows = WorkflowEngine(path, self.clock, self.bus, durable=self.durable)
            self._stack.push_async_callback(self._workflows.close)
            self.timers.add(self._workflows)
        return self._workflows

    def durable_objects(self) -> DurableObjects:
        """The session's Durable Objects, under ``<persist>/durable_objects/`` (opened on first use)."""
        if self._durable_objects is None:
            from .durable import DurableObjects

            engine = DurableObjects(self.persist_dir, clock=self.clock, bus=self.bus, durable=self.durable)
            self._durable_objects = engine
            self._stack.push_async_callback(engine.close)
            self.timers.add(engine.alarms)
        return self._durable_objects

    @property
    def workflows(self) -> WorkflowEngine | None:
        """The workflow engine, when some worker binds a workflow."""
        return self._workflows

    @property
    def broker(self) -> Broker | None:
        """The queue broker, when some worker produces or consumes."""
        return self._broker

    async def _dispatch(self, batch: MessageBatch) -> tuple[Outcome, BaseException | None]:
        return await self._consumers[batch.queue][1].run_queue_batch(batch)

    def shared(self, key: tuple[str, str], make: Callable[[], Closable]) -> Any:
        """One object per ``key`` for the whole session, closed with it: a KV namespace, D1 database or
        R2 bucket that several workers bind is one store, in memory as on disk."""
        found = self._shared.get(key)
        if found is None:
            found = self._shared[key] = make()
            self._stack.callback(found.close)
        return found

    def loaded_worker(self, name: str) -> Runtime | None:
        return None if self._closed else self.workers.get(name)

    def running_elsewhere(self, name: str) -> RunningWorker | None:
        """The `workerlab dev` process sharing the persist directory that serves ``name``, if any."""
        registry = self.dev_registry()
        return None if registry is None else registry.lookup(name)

    def dev_registry(self) -> DevRegistry | None:
        """The registry of running workers in the persist directory (None in memory)."""
        if self._registry is None and self.persist_dir is not None:
            from .dev_registry import DevRegistry

            self._registry = DevRegistry(self.persist_dir)
        return self._registry

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the timers on the real clock (``workerlab dev``); tests step them instead."""
        self.timers.start()

    async def stop_timers(self) -> None:
        """Stop firing crons and delivering batches; wait for the work in flight."""
        await self.timers.close()

    async def close(self, *, grace_s: float | None = None) -> None:
        """Stop the timers, wait (up to ``grace_s``) for waitUntil work, close everything opened."""
        if self._closed:
            return
        self._closed = True
        await self.timers.close()
        if self.work.pending:
            logger.info("Waiting for %d pending waitUntil task(s)...", self.work.pending)
        await self.work.settle(timeout_s=grace_s)
        asgi = sys.modules.get("workerlab.compat.asgi")
        if asgi is not None:  # ASGI apps of these workers (FastAPI, Starlette) get their shutdown
            await asgi.shutdown_lifespans([runtime.env for runtime in self.workers.values()])
        await self._stack.aclose()
