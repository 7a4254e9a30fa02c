"""uvicorn's httptools protocol, with the writes of one response sent as one system call.

uvicorn writes a response's status line and headers as soon as the app sends them, and its
body when that arrives: two system calls for every response. The transport here keeps what is
written during one step of the event loop and sends it when the step ends, so a response the
handler produces at once (the usual case) leaves in a single write.

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

    class CoalescingHttpProtocol(HttpToolsProtocol):
        """The dev server's HTTP/1.1 protocol: uvicorn's, over a :class:`CoalescingTransport`."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
            super().connection_made(coalescing)  # type: ignore[arg-type]

    return CoalescingHttpProtocol


def http_protocol() -> HttpProtocolChoice:
    """What the dev server passes to uvicorn as ``http=``."""
    return coalescing_protocol() or UVICORN_DEFAULT_PROTOCOL


#: ``http_protocol()`` as this process found it (the name workerlab.dev imports).
HttpProtocol: HttpProtocolChoice = http_protocol()
