"""Helpers for the queue tests: a scripted consumer and a broker on a fake clock (no tests here)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from workerlab.clock import FakeClock
from workerlab.config import QueueConsumer
from workerlab.context import ExecutionContext
from workerlab.queues import Broker, MessageBatch, QueueStore
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


def make_broker(
    *consumers: QueueConsumer,
    behaviour: Behaviour | None = None,
    clock: FakeClock | None = None,
    path: Path | None = None,
    record_history: bool = True,
) -> tuple[Broker, ScriptedConsumer, FakeClock]:
    """A broker over a fresh store (in memory unless ``path``) with a scripted consumer."""
    clock = clock or FakeClock()
    consumer = ScriptedConsumer(behaviour)
    store = QueueStore.open(path)
    broker = Broker(store, clock, {c.queue: c for c in consumers}, consumer, record_history=record_history)
    return broker, consumer, clock


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
        self.made: list[Broker] = []

    def __call__(
        self, *consumers: QueueConsumer, **options: Any
    ) -> tuple[Broker, ScriptedConsumer, FakeClock]:
        made = make_broker(*consumers, **options)
        self.made.append(made[0])
        return made

    async def close(self) -> None:
        for broker in self.made:
            await shut(broker)
