"""The ``ctx`` a Durable Object receives: its id, its storage, waitUntil and blockConcurrencyWhile."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ..context import BackgroundWork, ExecutionContext
from .gate import InputGate
from .ids import DurableObjectId
from .names import CloudflareNames
from .storage import DurableObjectStorage


class DurableObjectState(CloudflareNames):
    """``ctx`` of a Durable Object (Cloudflare's DurableObjectState): ``id``, ``storage``,
    ``waitUntil`` and ``blockConcurrencyWhile``."""

    __slots__ = ("_background", "_failed", "_gate", "_props", "_work", "id", "storage")
    _not_emulated = frozenset(
        {
            "abort",
            "acceptWebSocket",
            "container",
            "exports",
            "facets",
            "getHibernatableWebSocketEventTimeout",
            "getTags",
            "getWebSocketAutoResponse",
            "getWebSocketAutoResponseTimestamp",
            "getWebSockets",
            "setHibernatableWebSocketEventTimeout",
            "setWebSocketAutoResponse",
        }
    )

    def __init__(
        self,
        object_id: DurableObjectId,
        storage: DurableObjectStorage,
        gate: InputGate,
        work: BackgroundWork | None,
        failed: Callable[[BaseException], None],
    ) -> None:
        self.id = object_id
        self.storage = storage
        self._gate = gate
        self._work = work
        self._failed = failed
        self._background = 0
        self._props: dict[str, Any] | None = None

    @property
    def props(self) -> dict[str, Any]:
        """Cloudflare's ``ctx.props`` (empty locally)."""
        if self._props is None:
            self._props = {}
        return self._props

    @property
    def background(self) -> int:
        """How many waitUntil tasks of this object are still running."""
        return self._background

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the event returns (its failure is logged)."""
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                "waitUntil() expects an awaitable (a coroutine, task or future), "
                f"got {type(awaitable).__name__}"
            )
        self._background += 1

        async def counted() -> Any:
            try:
                return await awaitable
            finally:
                self._background -= 1

        ExecutionContext(self._work, waits_for_work=False).waitUntil(counted())

    def blockConcurrencyWhile(self, callback: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``callback()`` (an async function) with every other event on this object held back
        until it finishes; returns an awaitable of its result. It starts even when not awaited (as
        from ``__init__``). If it raises, the object is reset: the events it held fail with its
        error and the next event constructs the object again."""
        if not callable(callback):
            if inspect.iscoroutine(callback):
                callback.close()
            raise TypeError(
                f"blockConcurrencyWhile() expects a function (such as an async def), found "
                f"{type(callback).__name__}: pass the function itself, not its call"
            )
        gate = self._gate
        gate.close()

        async def blocking() -> Any:
            try:
                result = callback()
                if inspect.isawaitable(result):
                    result = await result
                return result
            except Exception as error:
                self._failed(error)
                raise

        task = asyncio.ensure_future(blocking())
        # The gate opens from the first callback of the finished task, so the event awaiting it
        # resumes before the held events start (up to its next suspension), as on Cloudflare,
        # where that continuation is a microtask and held events wait for the next turn.
        task.add_done_callback(lambda done: gate.open())
        # The error reaches the held events; an unawaited task must not also be reported as lost.
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return task

    def __repr__(self) -> str:
        return f"<DurableObjectState {self.id}>"
