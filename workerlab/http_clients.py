"""Outbound HTTP clients shared by every call of one kind (the workers' ``fetch``, service calls to
other processes): one httpx connection pool each, made on first use on the running event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

#: Every shared client made, so that shutdown closes them all.
_ALL: list[SharedClient] = []


class SharedClient:
    """An ``httpx.AsyncClient`` made by ``make`` on first use, and again when the event loop changed
    (a client bound to an earlier loop, an earlier test's, cannot be used or closed from this one)."""

    def __init__(self, make: Callable[[], httpx.AsyncClient]) -> None:
        self._make = make
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        _ALL.append(self)

    @property
    def current(self) -> httpx.AsyncClient | None:
        """The client made last (None before the first use and after :meth:`aclose`)."""
        return self._client

    def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = self._make(), loop
        return self._client

    async def aclose(self) -> None:
        """Close the client (the next :meth:`get` makes a new one)."""
        client, loop = self._client, self._loop
        self._client = self._loop = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()


async def aclose_all() -> None:
    """Close every shared client (at shutdown, and when a test's worker closes)."""
    for shared in _ALL:
        await shared.aclose()
