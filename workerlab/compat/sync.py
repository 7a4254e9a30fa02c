"""``pyodide.ffi.run_sync``: wait for an awaitable from synchronous code.

On Cloudflare, ``run_sync`` suspends the WebAssembly stack (JSPI) so that a plain function can
wait for a coroutine. Locally that works where synchronous code runs outside the event loop:
in the worker thread of a plain ``def`` handler or of ``wsgi.fetch``, the awaitable runs on the
event loop and the thread blocks until it is done.

On the event loop's own thread it cannot: blocking there would stop the very loop the
awaitable needs (a deadlock), and running it on a second loop breaks every object tied to the
first one (bindings, locks, the fetch client). So that case raises at once, saying what to do.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Generator
from typing import Any, TypeVar

from workerlab.context import current_context

T = TypeVar("T")

#: The event loop that synchronous code running in this context's worker thread belongs to.
thread_event_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "workerlab_thread_event_loop", default=None
)

_ON_LOOP_THREAD = (
    "run_sync() was called on the event loop's thread (from async code, directly or through a "
    "plain function it called): locally it cannot suspend the running loop as Cloudflare's "
    "Pyodide does, since the awaitable needs that very loop. Await it instead, or move the "
    "synchronous code off the loop: a plain `def` handler, wsgi.fetch and asyncio.to_thread() "
    "run in a worker thread, where run_sync() works"
)


def _owning_loop() -> asyncio.AbstractEventLoop | None:
    loop = thread_event_loop.get()
    if loop is None:
        # A plain `def` handler: the runtime told the event's context which loop it came from.
        loop = getattr(current_context.get(), "_loop", None)
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


async def _wait(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close(awaitable: object) -> None:
    if inspect.iscoroutine(awaitable):
        awaitable.close()  # it will never run; closing it avoids a "never awaited" warning


def run_sync(awaitable: Awaitable[T] | Generator[Any, None, T]) -> T:
    """Block until ``awaitable`` is done and return its result (or raise its exception).

    From a worker thread the awaitable runs on the event loop the thread serves; with no event
    loop anywhere it runs on a new one. On the event loop's thread it raises ``RuntimeError``.
    """
    if not inspect.isawaitable(awaitable):
        raise TypeError(
            f"run_sync() expects an awaitable (a coroutine, task or future), got {type(awaitable).__name__}"
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        _close(awaitable)
        raise RuntimeError(_ON_LOOP_THREAD)
    loop = _owning_loop()
    if loop is None:
        return asyncio.run(_wait(awaitable))
    return asyncio.run_coroutine_threadsafe(_wait(awaitable), loop).result()


def can_run_sync() -> bool:
    """Whether :func:`run_sync` can work here (Pyodide's ``can_run_sync``): off the loop's thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False
