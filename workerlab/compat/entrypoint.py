"""WorkerEntrypoint, the ``handler`` marker and module-level ``wait_until``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from workerlab.context import current_context

F = TypeVar("F", bound=Callable[..., Any])


class WorkerEntrypoint:
    """Base class of a worker's ``Default`` class; one instance is made per event.

    The runtime calls ``Default(ctx, env)``; handlers reach them as ``self.ctx`` and
    ``self.env``.
    """

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base class of a Durable Object class; the runtime makes one instance per object id as
    ``Cls(ctx, env)``, where ``ctx`` is the object's state (``ctx.id``, ``ctx.storage``, ...)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class of a Workflow class: the runtime calls ``await instance.run(event, step)``."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


def handler(func: F) -> F:
    """Mark a handler (Cloudflare's older SDK style); the function is returned unchanged."""
    return func


def wait_until(awaitable: Awaitable[Any]) -> None:
    """``ctx.waitUntil(awaitable)`` on the context of the event being handled."""
    ctx = current_context.get()
    if ctx is None:
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # it will never run; closing it avoids a "never awaited" warning
        raise RuntimeError(
            "wait_until() was called while no event is being handled: call it from inside a "
            "fetch, queue or scheduled handler (or use the handler's ctx.waitUntil)"
        )
    ctx.waitUntil(awaitable)


waitUntil = wait_until
