"""JS ``Headers`` (``from js import Headers``; the headers of a JS-style request or response).

A view over a :class:`~workerlab.compat.headers.Headers` with the JS names and behaviour:
iteration gives ``[name, value]`` pairs, ``h["name"]`` calls ``get`` (as Pyodide's proxy does),
``getSetCookie()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from workerlab.compat.headers import Headers
from workerlab.compat.jsvalues import JsArray, JsObject, JsProxy


def _header_pairs(init: Any, where: str) -> Any:
    """What the compat Headers takes for a JS ``HeadersInit``; a plain dict is refused."""
    if init is None or isinstance(init, Headers):
        return init
    if isinstance(init, JsHeaders):
        return init._headers
    if isinstance(init, JsObject):
        return list(dict.items(init))
    if isinstance(init, dict):
        raise TypeError(
            f"{where} got a Python dict for headers: on Cloudflare a dict reaches JavaScript as "
            "an opaque proxy and the headers are refused; pass d.items(), Headers.new(d.items()) "
            "or to_js(d, dict_converter=Object.fromEntries)"
        )
    return list(init)


def js_headers(init: Any, content_type: str | None, where: str) -> Any:
    """What the compat Headers takes for a JS ``HeadersInit``, with the Content-Type a body implies
    (``content_type``) added unless the headers give one."""
    headers = _header_pairs(init, where)
    if content_type is None:
        return headers
    merged = Headers(headers)
    if not merged.has("content-type"):
        merged.set("content-type", content_type)
    return merged


class JsHeaders(JsProxy):
    """JS ``Headers``: ``Headers.new(init)`` where ``init`` is pairs (``d.items()``), a JS object
    or another Headers."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    @classmethod
    def new(cls, init: Iterable[Any] | JsObject | JsHeaders | None = None) -> JsHeaders:
        return cls(Headers(_header_pairs(init, "Headers.new()")))

    def get(self, name: str) -> str | None:
        """Every value of ``name`` joined with ``", "``, or None (JS ``null``) when absent."""
        return self._headers.get(name)

    __getitem__ = get

    def has(self, name: str) -> bool:
        return self._headers.has(name)

    __contains__ = has

    def set(self, name: str, value: str) -> None:
        self._headers.set(name, value)

    def append(self, name: str, value: str) -> None:
        self._headers.append(name, value)

    def delete(self, name: str) -> None:
        self._headers.delete(name)

    def getSetCookie(self) -> JsArray:
        """Each ``Set-Cookie`` value on its own."""
        return JsArray(self._headers.get_all("set-cookie") or ())

    def entries(self) -> Iterator[JsArray]:
        """``[name, value]`` pairs, names sorted, Set-Cookie values one pair each."""
        return (JsArray(pair) for pair in self._headers.items())

    __iter__ = entries

    def keys(self) -> Iterator[str]:
        return (name for name, _ in self._headers.items())

    def values(self) -> Iterator[str]:
        return (value for _, value in self._headers.items())

    def forEach(self, callback: Callable[..., Any]) -> None:
        for name, value in self._headers.items():
            callback(value, name, self)

    def __repr__(self) -> str:
        return f"Headers({list(self._headers.items())!r})"
