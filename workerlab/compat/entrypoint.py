"""WorkerEntrypoint and the other base classes, the ``handler`` decorator and module-level ``wait_until``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

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
    """Cloudflare's ``@handler`` for legacy ``on_fetch``-style functions: a JS-style request
    argument reaches ``func`` as the Python ``Request`` (``await request.json()`` gives a dict)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            return await func(*_python_request_first(args), **kwargs)

        return cast(F, call_async)

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return func(*_python_request_first(args), **kwargs)

    return cast(F, call)


def _python_request_first(args: tuple[Any, ...]) -> tuple[Any, ...]:
    from workerlab.compat.jsrequest import sdk_request

    return (sdk_request(args[0]), *args[1:]) if args else args


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
