"""uvicorn's httptools protocol, with the writes of one response sent as one system call and one
keep-alive timer per connection instead of one per response.

uvicorn writes a response's status line and headers as soon as the app sends them, and its
body when that arrives: two system calls for every response. The transport here keeps what is
written during one step of the event loop and sends it when the step ends, so a response the
handler produces at once (the usual case) leaves in a single write.

uvicorn also starts a timer after every response, to close the connection if it stays idle for
``timeout_keep_alive`` seconds, and cancels it when the next request arrives: on a busy
connection that costs as much as a tenth of serving the request. Here a response notes when the
connection went idle, and one timer per connection, when it fires, closes the connection if it
is still idle by then or waits out the rest: connections close when they did before.

The protocol subclasses a class of uvicorn's that is not public API (pyproject pins the uvicorn
versions it was checked with). When it cannot be built as expected, the dev server uses
uvicorn's own protocol (``"auto"``): the same behaviour, one more write per response.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Literal, TypeAlias

logger = logging.getLogger("workerlab")

#: What uvicorn's ``Config(http=...)`` takes: a protocol class or the name of one of its own.
HttpProtocolChoice: TypeAlias = "type[asyncio.Protocol] | Literal['auto']"
#: The protocol uvicorn picks itself (httptools when installed, else h11).
UVICORN_DEFAULT_PROTOCOL: Literal["auto"] = "auto"


class CoalescingTransport:
    """A transport whose ``write`` calls are joined until the current event-loop step ends."""

    __slots__ = ("_loop", "_pending", "_transport", "is_closing")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        #: The real transport's, asked twice per response: bound here rather than found by __getattr__.
        self.is_closing = transport.is_closing

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        # Everything else (get_extra_info, pause_reading, abort, ...) is the real transport's.
        return getattr(self._transport, name)


def coalescing_protocol() -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol over a :class:`CoalescingTransport`, or None when uvicorn's
    class is missing or its ``connection_made`` no longer takes just the transport."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as error:  # httptools not installed, or uvicorn moved the class
        logger.debug("uvicorn's httptools protocol is not available (%s): using uvicorn's own", error)
        return None
    try:
        parameters = list(inspect.signature(HttpToolsProtocol.connection_made).parameters)
    except (TypeError, ValueError):
        parameters = []
    if parameters != ["self", "transport"]:
        logger.debug(
            "uvicorn's HttpToolsProtocol.connection_made%s is not as expected: using uvicorn's own",
            parameters,
        )
        return None
    missing = [name for name in _KEEP_ALIVE_PARTS if not hasattr(HttpToolsProtocol, name)]
    if missing:
        logger.debug("uvicorn's HttpToolsProtocol has no %s: using uvicorn's own", ", ".join(missing))
        return None

    class CoalescingHttpProtocol(HttpToolsProtocol):
        """The dev server's HTTP/1.1 protocol: uvicorn's, over a :class:`CoalescingTransport`, with
        a keep-alive timer per connection."""

        _idle_since: float | None = None  # loop time the last response finished (None: busy)
        _keep_alive: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
            super().connection_made(coalescing)  # type: ignore[arg-type]

        def connection_lost(self, exc: Exception | None) -> None:
            if self._keep_alive is not None:
                self._keep_alive.cancel()
                self._keep_alive = None
            super().connection_lost(exc)

        def _unset_keepalive_if_required(self) -> None:
            # Called as a request arrives (and by uvicorn's own paths): the connection is busy.
            self._idle_since = None
            super()._unset_keepalive_if_required()  # uvicorn's timer (never armed here)

        def on_response_complete(self) -> None:
            if self.pipeline or self.transport.is_closing():
                super().on_response_complete()  # uvicorn's own: the next request, or nothing
                return
            # uvicorn's, except for the timer: the connection is idle from now on.
            self.server_state.total_requests += 1
            self.flow.resume_reading()
            self._idle_since = self.loop.time()
            if self._keep_alive is None:
                self._keep_alive = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_due)

        def _keep_alive_due(self) -> None:
            self._keep_alive = None
            if self._idle_since is None:
                return  # serving a request: its response starts the timer again
            left = self._idle_since + self.timeout_keep_alive - self.loop.time()
            if left > 0:
                self._keep_alive = self.loop.call_later(left, self._keep_alive_due)
            else:
                self.timeout_keep_alive_handler()

    return CoalescingHttpProtocol


#: What the keep-alive timer per connection replaces of uvicorn's protocol (checked, since it is
#: not public API).
_KEEP_ALIVE_PARTS = (
    "on_response_complete",
    "_unset_keepalive_if_required",
    "timeout_keep_alive_handler",
)


def http_protocol() -> HttpProtocolChoice:
    """What the dev server passes to uvicorn as ``http=``."""
    return coalescing_protocol() or UVICORN_DEFAULT_PROTOCOL


#: ``http_protocol()`` as this process found it (the name workerlab.dev imports).
HttpProtocol: HttpProtocolChoice = http_protocol()
