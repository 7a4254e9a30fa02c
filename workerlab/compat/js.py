"""The ``js`` module (``from js import Response, Headers, fetch, console``): JavaScript's globals
as Python Workers code uses them through Pyodide, played locally by Python classes.

Classes are made with ``.new(...)``; keyword arguments stand for the JS options object, as
Pyodide passes them. A global with no local equivalent (``HTMLRewriter``, ``caches``,
``WebSocketPair``...) is an ``AttributeError`` / ``ImportError`` naming it.
"""

from __future__ import annotations

from typing import Any

from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array
from workerlab.compat.ffi import JsException
from workerlab.compat.jsglobals import JSON, Date, Object, TextDecoder, TextEncoder, console, crypto
from workerlab.compat.jsheaders import JsHeaders
from workerlab.compat.jsrequest import JsRequest, request_from_init
from workerlab.compat.jsresponse import JsResponse
from workerlab.compat.jsurl import URL, URLSearchParams
from workerlab.compat.request import Request as _SdkRequest

Response = JsResponse
Request = JsRequest
Headers = JsHeaders
Error = JsException


async def fetch(resource: str | URL | _SdkRequest, init: Any = None, /, **options: Any) -> JsResponse:
    """JavaScript's ``fetch(resource, init)``: a real outbound request; the JS-style response.

    Options (keywords, or a JS object as ``init``): ``method``, ``headers``, ``body``,
    ``redirect``, ``cf``; they are read as ``js.Request.new(resource, init)`` reads them.
    """
    from workerlab.compat.fetch import fetch as sdk_fetch

    request = request_from_init(resource, init, options, "fetch()")
    return JsResponse._view_of(await sdk_fetch(request))


class Uint8Array:
    """JavaScript's ``Uint8Array``: ``Uint8Array.new(bytes_or_length_or_list)``."""

    @staticmethod
    def new(source: Any = 0) -> JsUint8Array:
        return JsUint8Array(bytes(source))  # a length gives that many zero bytes, as in JS


class ArrayBuffer:
    """JavaScript's ``ArrayBuffer``: ``ArrayBuffer.new(length)``."""

    @staticmethod
    def new(length: int = 0) -> JsArrayBuffer:
        return JsArrayBuffer(bytes(length))


__all__ = [
    "JSON",
    "URL",
    "ArrayBuffer",
    "Date",
    "Error",
    "Headers",
    "Object",
    "Request",
    "Response",
    "TextDecoder",
    "TextEncoder",
    "URLSearchParams",
    "Uint8Array",
    "console",
    "crypto",
    "fetch",
]


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"module 'js' has no attribute {name!r}: workerlab has no local equivalent of the JavaScript "
        f"global {name} (its js module offers {', '.join(__all__)})"
    )
