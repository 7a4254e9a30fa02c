"""A loaded worker: its env and bindings, and the dispatch of fetch, queue and scheduled events."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .clock import Clock, SystemClock
from .config import WorkerConfig
from .context import BackgroundWork, ExecutionContext, Outcome, current_context
from .envvars import merged_vars
from .loader import WorkerModule, load_worker
from .tracebacks import format_user_traceback

if TYPE_CHECKING:
    from .cron import CronScheduler, ScheduledResult
    from .queues.broker import Broker
    from .queues.message import MessageBatch

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
    """One loaded worker with its env, bindings, queue broker and cron scheduler."""

    def __init__(
        self,
        config: WorkerConfig,
        worker: WorkerModule,
        *,
        clock: Clock,
        persist_dir: Path | None,
        durable: bool,
        extra_vars: Mapping[str, str] | None,
        record_history: bool = False,
    ) -> None:
        self.config = config
        self.worker = worker
        self.clock = clock
        self.persist_dir = persist_dir
        self.work = BackgroundWork()
        self._closers: list[Any] = []
        self._loops: list[asyncio.Task[None]] = []
        if not worker.invokers:
            logger.warning(
                "%s defines no handler: expected a class Default(WorkerEntrypoint) with fetch, queue or "
                "scheduled methods, or module-level fetch / queue / scheduled functions",
                worker.path,
            )
        values: dict[str, Any] = merged_vars(config, extra_vars)
        self.broker: Broker | None = None
        if config.producers or config.consumers:
            self.broker = self._open_broker(durable, record_history)
            for producer in config.producers:
                values[producer.binding] = self.broker.producer(
                    producer.queue, delivery_delay_s=producer.delivery_delay_s
                )
        values.update(self._open_storage(durable))
        self.scheduler: CronScheduler | None = None
        if config.crons:
            from .cron import CronScheduler

            self.scheduler = CronScheduler(config.crons, clock, self.scheduled)
        self.env = Env(values)

    @classmethod
    def load(
        cls,
        config: WorkerConfig,
        *,
        clock: Clock | None = None,
        persist_dir: Path | None = None,
        durable: bool = False,
        extra_vars: Mapping[str, str] | None = None,
        record_history: bool = False,
    ) -> Runtime:
        """Import the worker named by ``config`` and open its bindings (``persist_dir`` None: in memory)."""
        worker = load_worker(config.main)
        return cls(
            config,
            worker,
            clock=clock or SystemClock(),
            persist_dir=persist_dir,
            durable=durable,
            extra_vars=extra_vars,
            record_history=record_history,
        )

    def _open_broker(self, durable: bool, record_history: bool) -> Broker:
        from .queues.broker import Broker
        from .queues.store import STORE_FILE_NAME, QueueStore

        path = None if self.persist_dir is None else self.persist_dir / STORE_FILE_NAME
        store = QueueStore.open(path, durable=durable)
        consumers = {consumer.queue: consumer for consumer in self.config.consumers}
        if consumers and "queue" not in self.worker.invokers:
            # Delivering would only fail every message into its dead-letter queue (or drop it):
            # keep the messages stored until the worker can handle them.
            logger.warning(
                "%s has no queue handler, so the consumers of %s are not started; their messages are "
                "kept until it has one (a Default class with async def queue(self, batch), or a "
                "function queue(batch, env, ctx))",
                self.worker.path,
                ", ".join(f'"{name}"' for name in consumers),
            )
            consumers = {}
        broker = Broker(store, self.clock, consumers, self.run_queue_batch, record_history=record_history)
        self._closers.append(store)
        return broker

    def _open_storage(self, durable: bool) -> dict[str, Any]:
        bindings: dict[str, Any] = {}
        if self.config.kv_namespaces:
            from .bindings.kv import open_kv

            for ns in self.config.kv_namespaces:
                bindings[ns.binding] = open_kv(ns, self.persist_dir, self.clock, durable=durable)
        if self.config.d1_databases:
            from .bindings.d1 import open_d1

            for db in self.config.d1_databases:
                bindings[db.binding] = open_d1(db, self.persist_dir, self.clock, durable=durable)
        if self.config.r2_buckets:
            from .bindings.r2 import open_r2

            for bucket in self.config.r2_buckets:
                bindings[bucket.binding] = open_r2(bucket, self.persist_dir, self.clock, durable=durable)
        self._closers.extend(bindings.values())
        return bindings

    def apply_d1_migrations(self) -> dict[str, list[str]]:
        """Apply each D1 binding's pending migrations (if its migrations folder exists); return what ran.

        ``workerlab dev`` does this at start so that a worker's local database is ready to use, and
        the test harness does it for every test's fresh in-memory database.
        """
        applied: dict[str, list[str]] = {}
        if not self.config.d1_databases:
            return applied
        from .bindings.d1_commands import apply_pending, migration_files, migrations_dir

        for db in self.config.d1_databases:
            if migrations_dir(self.config, db).is_dir():
                files = migration_files(self.config, db)
                applied[db.binding] = apply_pending(self.env[db.binding].database, files, self.clock)
        return applied

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the queue and cron loops (``workerlab dev``); tests drive them step by step instead."""
        if self.broker is not None:
            self._loops.append(asyncio.create_task(self.broker.run(), name="workerlab-queues"))
        if self.scheduler is not None:
            self._loops.append(asyncio.create_task(self.scheduler.run(), name="workerlab-crons"))

    async def stop_loops(self) -> None:
        """Stop firing crons and delivering batches; wait for the batches in flight."""
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.broker is not None:
            await self.broker.close()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()

    async def close(self, *, grace_s: float | None = None) -> None:
        """Stop the loops, wait (up to ``grace_s``) for waitUntil work, and close every store."""
        await self.stop_loops()
        if self.work.pending:
            logger.info("Waiting for %d pending waitUntil task(s)...", self.work.pending)
        await self.work.settle(timeout_s=grace_s)
        for closer in reversed(self._closers):
            closer.close()
        self._closers.clear()

    # --- events --------------------------------------------------------------------------

    async def fetch(self, request: Any) -> Any:
        """Run the fetch handler; its exception propagates. waitUntil work goes on in the background."""
        ctx = ExecutionContext(self.work, waits_for_work=False)
        token = current_context.set(ctx)
        try:
            return await self.worker.invoker("fetch")(request, self.env, ctx)
        finally:
            current_context.reset(token)

    async def run_queue_batch(self, batch: MessageBatch) -> tuple[Outcome, BaseException | None]:
        """The broker's dispatch: run the queue handler and wait for its waitUntil work."""
        return await self._run_waited("queue", batch, f"queue handler for {batch.queue!r}")

    async def scheduled(self, cron: str, scheduled_time_ms: int) -> ScheduledResult:
        """Run the scheduled handler once and log ``SCHEDULED "<cron>" <outcome> (<ms>ms)``."""
        from .cron import ScheduledController, ScheduledResult

        controller = ScheduledController(cron, scheduled_time_ms)
        started = time.perf_counter()
        outcome, error = await self._run_waited("scheduled", controller, f"scheduled handler ({cron!r})")
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info('SCHEDULED "%s" %s (%dms)', cron, outcome, round(elapsed_ms))
        return ScheduledResult(outcome=outcome, no_retry=controller.retry_disabled, error=error)

    async def _run_waited(
        self, event: Literal["queue", "scheduled"], argument: Any, what: str
    ) -> tuple[Outcome, BaseException | None]:
        ctx = ExecutionContext(self.work, waits_for_work=True)
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
