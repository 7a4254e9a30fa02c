"""Helpers for the queue tests: a scripted consumer and a broker on a fake clock (no tests here)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from workerlab.clock import Clock, FakeClock
from workerlab.config import QueueConsumer
from workerlab.context import ExecutionContext
from workerlab.loglines import logging_bus
from workerlab.queues import Broker, MessageBatch, QueueHistory, QueueStore, QueueView
from workerlab.queues.message import Outcome

Behaviour = Callable[[MessageBatch, ExecutionContext], Awaitable[None] | None]


class ScriptedConsumer:
    """The broker's ``dispatch``, run the way the runtime runs a handler: the behaviour gets the
    batch and a ctx; a raise or a failed waitUntil makes the outcome ``exception``."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour
        self.batches: list[MessageBatch] = []

    async def __call__(self, batch: MessageBatch) -> tuple[Outcome, BaseException | None]:
        self.batches.append(batch)
        ctx = ExecutionContext()
        error: BaseException | None = None
        try:
            if self.behaviour is not None:
                result = self.behaviour(batch, ctx)
                if inspect.isawaitable(result):
                    await result
        except Exception as raised:
            error = raised
        failures = await ctx.wait()
        if error is None and failures:
            error = failures[0]
        return ("exception" if error else "ok"), error

    def bodies(self) -> list[list[Any]]:
        return [[m.body for m in batch.messages] for batch in self.batches]

    def attempts(self) -> list[list[int]]:
        return [[m.attempts for m in batch.messages] for batch in self.batches]


class SteppedBroker(Broker):
    """A broker with what the harness puts around one: ``drain()`` (jumping a fake clock to each next
    due batch) and ``inspect()`` (the store plus the event history)."""

    def __init__(
        self, store: QueueStore, clock: Clock, consumers: dict[str, QueueConsumer], dispatch: Any
    ) -> None:
        bus = logging_bus()
        super().__init__(store, clock, consumers, dispatch, bus=bus)
        self.clock = clock
        self.history = QueueHistory(bus)

    async def drain(self) -> None:
        """Deliver everything due, moving the fake clock to each next due time (a broker on the real
        clock runs with ``run()`` instead)."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("drain() steps a FakeClock; run a broker on the real clock with run()")
        while True:
            await self.run_due()
            due_s = self.next_due_s()
            if due_s is None:
                return
            if due_s > self.clock.now_s():
                self.clock.set(due_s)

    def inspect(self, queue: str) -> QueueView:
        return self.history.view(queue, self.pending(queue), self.dropped(queue))


def make_broker(
    *consumers: QueueConsumer,
    behaviour: Behaviour | None = None,
    clock: Clock | None = None,
    path: Path | None = None,
) -> tuple[SteppedBroker, ScriptedConsumer, FakeClock]:
    """A broker over a fresh store (in memory unless ``path``) with a scripted consumer."""
    clock = clock or FakeClock()
    consumer = ScriptedConsumer(behaviour)
    store = QueueStore.open(path)
    broker = SteppedBroker(store, clock, {c.queue: c for c in consumers}, consumer)
    return broker, consumer, clock  # type: ignore[return-value]


async def shut(broker: Broker) -> None:
    await broker.close()
    broker.store.close()


def warnings_of(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.name == "workerlab" and r.levelno == logging.WARNING]


def infos_of(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.name == "workerlab" and r.levelno == logging.INFO]


class Brokers:
    """Builds brokers for one test and closes them (and their stores) at teardown."""

    def __init__(self) -> None:
        self.made: list[SteppedBroker] = []

    def __call__(
        self, *consumers: QueueConsumer, **options: Any
    ) -> tuple[SteppedBroker, ScriptedConsumer, FakeClock]:
        made = make_broker(*consumers, **options)
        self.made.append(made[0])
        return made

    async def close(self) -> None:
        for broker in self.made:
            await shut(broker)
