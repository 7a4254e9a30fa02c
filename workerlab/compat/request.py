"""Request: an incoming or outgoing HTTP request, shaped like Cloudflare's Python ``Request``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPMethod
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from workerlab.compat.body import Body, BodyMixin, BodyUsedError, encode_body
from workerlab.compat.buffers import JsArrayBuffer
from workerlab.compat.headers import Headers, HeadersInit, RequestHeaders, _header_name
from workerlab.compat.jsvalues import JsObject

if TYPE_CHECKING:
    from workerlab.compat.jsrequest import JsRequest

#: The values of a Request's ``redirect`` option (Fetch standard).
REDIRECT_MODES = ("follow", "manual", "error")
_NO_BODY_METHODS = ("GET", "HEAD")
# Cloudflare's Request.method is an http.HTTPMethod (a str enum); other verbs stay str.
_METHODS: Mapping[str, HTTPMethod] = HTTPMethod.__members__
#: JS names code sometimes calls on Cloudflare's Python Request, and what that Request has instead.
_JS_NAMES = {
    "arrayBuffer": "await request.buffer() or await request.bytes()",
    "formData": "await request.form_data()",
    "bodyUsed": "request.body_used",
}


def absolute_url(url: str, where: str) -> str:
    """``url`` checked to be absolute; an empty path becomes ``/`` as a JS URL does."""
    if not isinstance(url, str):
        raise TypeError(f"{where} expects the URL as a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise TypeError(f"Invalid URL {url!r} in {where}: {exc}") from None
    if not parts.scheme or not parts.netloc:
        raise TypeError(
            f"Invalid URL {url!r} in {where}: expected an absolute URL such as "
            "'https://example.com/path' (Cloudflare rejects relative URLs here too)"
        )
    if not parts.path:
        return urlunsplit(parts._replace(path="/"))
    return url


class Request(BodyMixin):
    """An HTTP request: ``Request(url, method="GET", headers=None, body=None, cf=None)``.

    ``url`` may also be another Request, whose method, headers, body and ``cf`` are taken
    unless given (its body is then marked used, as in JS). ``headers`` is a dict, a list of
    (name, value) pairs (str or bytes) or a :class:`Headers`; ``body`` is str, bytes,
    FormData or None (a GET or HEAD request cannot have one). ``method`` is an
    ``http.HTTPMethod`` (a str), as on Cloudflare.

    It has the names of Cloudflare's Python ``Request`` only: the JS ones (``arrayBuffer()``,
    ``formData()``) fail here as they fail there; ``js_object`` is the JS-style request.
    """

    __slots__ = ("_cf", "_headers", "_js", "_raw_headers", "method", "redirect", "url")

    url: str
    method: str
    redirect: str
    _headers: Headers | None
    _raw_headers: list[tuple[bytes, bytes]] | None
    _cf: JsObject | None
    _js: JsRequest | None

    def __init__(
        self,
        url: str | Request,
        method: str | None = None,
        headers: HeadersInit = None,
        body: Body = None,
        cf: dict[str, Any] | None = None,
        *,
        redirect: str | None = None,
    ) -> None:
        data: bytes | None
        content_type: str | None = None
        if isinstance(url, Request):
            source = url
            self.url = source.url
            data = source._body
            if body is None and data is not None:
                if source.body_used:
                    raise TypeError("Cannot build a Request from a Request whose body was already read")
                source._take_body()
            default_method, default_headers = source.method, source._sdk_headers()
            default_cf, default_redirect = source.cf, source.redirect
        else:
            self.url = absolute_url(url, "Request()")
            data = None
            default_method, default_headers, default_cf, default_redirect = "GET", None, None, "follow"
        if body is not None:
            data, content_type = encode_body(body, "Request")
        if method is None:
            method = default_method
        elif not isinstance(method, str):
            raise TypeError(f"Request method must be a str, got {type(method).__name__}")
        else:
            method = _header_name(method).upper()
        method = _METHODS.get(method, method)
        if data is not None and method in _NO_BODY_METHODS:
            raise TypeError(f"A {method} request cannot have a body (got {len(data)} bytes for {self.url})")
        redirect = redirect or default_redirect
        if redirect not in REDIRECT_MODES:
            raise ValueError(f"Request redirect must be one of {', '.join(REDIRECT_MODES)}; got {redirect!r}")
        self.method = method
        self.redirect = redirect
        self._headers = RequestHeaders(headers if headers is not None else default_headers)
        if content_type is not None and not self._headers.has("content-type"):
            self._headers.append("content-type", content_type)
        self._raw_headers = None
        self._body = data
        self._body_used = False
        chosen_cf = cf if cf is not None else default_cf
        self._cf = JsObject(chosen_cf) if chosen_cf is not None else None
        self._js = None

    @classmethod
    def _from_asgi(
        cls,
        url: str,
        method: str,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        cf: JsObject | Callable[[], JsObject] | None = None,
    ) -> Request:
        """A Request for the server, built with no checks; headers are decoded when first read.

        ``cf`` is the request's ``request.cf`` (see :func:`workerlab.compat.cf.local_cf`), or what makes
        it when the worker first reads it (most never do).
        """
        self = cls.__new__(cls)
        self.url = url
        self.method = _METHODS.get(method, method)
        self.redirect = "follow"
        self._headers = None
        self._raw_headers = raw_headers
        self._body = body or None  # an empty body is no body, as for an incoming GET in JS
        self._body_used = False
        self._cf = cf  # type: ignore[assignment]
        self._js = None
        return self

    @property
    def headers(self) -> Headers:
        """The request headers (case-insensitive)."""
        return self._sdk_headers()

    def _sdk_headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = RequestHeaders._from_raw(self._raw_headers or [])
        return headers

    @property
    def cf(self) -> JsObject | None:
        """Cloudflare's properties of the incoming request (``request.cf.colo``, ``request.cf["country"]``).

        None for a request built in code without ``cf``, as on Cloudflare.
        """
        cf = self._cf
        if cf is not None and not isinstance(cf, dict):
            cf = self._cf = cf()  # made on first read
        return cf

    @property
    def js_object(self) -> JsRequest:
        """The JS-style request (``arrayBuffer()``, ``formData()``, ``headers.get()``) behind this
        one; reading the body through either uses it up for both."""
        view = self._js
        if view is None:
            from workerlab.compat.jsrequest import JsRequest

            view = self._js = JsRequest._view_of(self)
        return view

    async def buffer(self) -> JsArrayBuffer:
        """The body as a JS ``ArrayBuffer`` (``.to_bytes()``, ``.to_py()``; also usable as bytes)."""
        return JsArrayBuffer(self._take_body())

    def clone(self) -> Request:
        """A copy whose body can be read independently of this one's."""
        if self.body_used:
            raise BodyUsedError("Body already used: cannot clone() a Request whose body was read")
        twin = Request.__new__(Request)
        twin.url, twin.method, twin.redirect = self.url, self.method, self.redirect
        twin._headers = self._sdk_headers().copy()
        twin._raw_headers = None
        twin._body, twin._body_used = self._body, False
        twin._cf = JsObject(self.cf) if self.cf is not None else None
        twin._js = None
        return twin

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the class lacks (or hides): say what the request offers instead.
        hidden_error = getattr(getattr(type(self), name, None), "hidden_error", None)
        if hidden_error is not None:
            raise hidden_error(type(self))
        instead = _JS_NAMES.get(name)
        if instead is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        raise AttributeError(
            f"'Request' object has no attribute {name!r}: Cloudflare's Python Request uses "
            f"Python names; use {instead} (the JS-style request is request.js_object)"
        )

    def __repr__(self) -> str:
        return f"Request(method={str(self.method)!r}, url={self.url!r})"
