"""Cloudflare's limits on the size of an incoming request, checked before a worker sees it.

:func:`refusal` looks at what arrives first (the URL and the headers); :func:`read_body` reads
the body, stopping once it is larger than Cloudflare accepts. Each answer is the status
Cloudflare sends, with what was found and the limit it broke.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import limits

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class Refusal(Exception):
    """A request over one of the limits: its status, a title and what was found."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def refusal(scope: MutableMapping[str, Any]) -> Refusal | None:
    """The refusal of a request whose URL or headers are over the limits (None: within them)."""
    url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string") or b"")
    if url_bytes > limits.MAX_URL_BYTES:
        return Refusal(
            414,
            "URI Too Long",
            f"The URL is {url_bytes} bytes; Cloudflare accepts at most {limits.MAX_URL_BYTES} "
            "(MAX_URL_BYTES)",
        )
    header_bytes = sum([len(name) + len(value) for name, value in scope["headers"]])
    if header_bytes > limits.MAX_HEADER_BYTES:
        return Refusal(
            431,
            "Request Header Fields Too Large",
            f"The request headers are {header_bytes} bytes; Cloudflare accepts at most "
            f"{limits.MAX_HEADER_BYTES} in all (MAX_HEADER_BYTES)",
        )
    return None


def body_too_large(size: int) -> Refusal:
    return Refusal(
        413,
        "Payload Too Large",
        f"The request body is more than {limits.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES): "
        f"{size} bytes had arrived when it was refused",
    )


async def request_body(receive: Receive) -> bytes:
    """A request's whole body, read from its first ASGI message on (see :func:`read_body`)."""
    return await read_body(await receive(), receive)


async def read_body(first: MutableMapping[str, Any], receive: Receive) -> bytes:
    """The body of a request whose first ASGI message was ``first``; :class:`Refusal` (413) once it
    is larger than ``MAX_BODY_BYTES``."""
    message = first
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limits.MAX_BODY_BYTES:
            raise body_too_large(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        message = await receive()
