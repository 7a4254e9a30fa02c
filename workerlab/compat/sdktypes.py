"""The type names Cloudflare's ``workers`` module exports, as it defines them.

``Headers``, ``Body``, ``JSBody``, ``BlobValue`` and ``FormDataValue`` are type aliases written as
strings there, so ``from workers import Headers`` gives a ``str`` (JS headers are made with
``js.Headers.new(...)``); ``Context`` is a Protocol; the option dicts are TypedDicts.
"""

from __future__ import annotations

from collections.abc import Awaitable
from enum import StrEnum
from typing import Any, Protocol, TypedDict


class Context(Protocol):
    """What a handler's ``ctx`` offers every event kind: ``waitUntil``."""

    def waitUntil(self, other: Awaitable[Any]) -> None: ...


# The aliases are the SDK's strings (they name JS types, which exist only on Cloudflare).
JSBody = "js.Blob | JsBuffer | js.FormData | js.ReadableStream | js.URLSearchParams"
Body = "str | FormData | JSBody"
Headers = "dict[str, str] | list[tuple[str, str]] | js.Headers"
BlobValue = "str | bytes | js.ArrayBuffer | js.TypedArray | js.DataView | js.Blob | Blob | File"
FormDataValue = "str | js.Blob | Blob"


class BlobEnding(StrEnum):
    """How a Blob treats line endings in str parts."""

    TRANSPARENT = "transparent"
    NATIVE = "native"


class RequestInitCfProperties(TypedDict, total=False):
    """The ``cf`` options of an outbound request (cache and image settings)."""

    apps: bool | None
    cacheEverything: bool | None
    cacheKey: str | None
    cacheTags: list[str] | None
    cacheTtl: int
    cacheTtlByStatus: dict[str, int]
    image: Any | None
    mirage: bool | None
    polish: str | None
    resolveOverride: str | None
    scrapeShield: bool | None
    webp: bool | None


class FetchKwargs(TypedDict, total=False):
    """The keyword arguments of ``fetch()`` and ``Request()``."""

    headers: Any
    body: Any
    method: str | None
    redirect: str | None
    cf: RequestInitCfProperties | None
    fetcher: Any
