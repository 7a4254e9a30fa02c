"""The JS-style request: what a legacy ``on_fetch`` handler receives, ``js.Request.new(...)``
and ``request.js_object``.

It has JS names (``arrayBuffer()``, ``formData()``, ``headers.get()``, ``bodyUsed``) and not the
Python ones of Cloudflare's Python ``Request``; ``await request.json()`` gives a JS object
(attribute access, ``.to_py()``), as the JS proxy does on Cloudflare.
"""

from __future__ import annotations

import builtins
from typing import Any

from workerlab.compat.body import Body
from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array
from workerlab.compat.formdata import FormData
from workerlab.compat.headers import Headers
from workerlab.compat.jsheaders import JsHeaders, js_headers
from workerlab.compat.jsnames import PythonOnly, js_errors, refuse_python_bytes
from workerlab.compat.jsurl import URL, URLSearchParams
from workerlab.compat.jsvalues import JsObject, JsObjectProxy, js_value
from workerlab.compat.request import Request

#: Content-Type JS gives a URLSearchParams body (Fetch standard, "extract a body").
FORM_URLENCODED = "application/x-www-form-urlencoded;charset=UTF-8"
#: The options of JS ``new Request(input, init)`` and ``fetch(input, init)`` that workerlab takes.
REQUEST_OPTIONS = frozenset({"method", "headers", "body", "redirect", "cf"})


def js_body(body: Any, where: str) -> tuple[Body, str | None]:
    """A JS body value as a body the compat classes take, and a Content-Type it implies."""
    if body is None or isinstance(body, str | bytes | FormData):
        refuse_python_bytes(body, where)
        return body, None
    if isinstance(body, URLSearchParams):
        return body.toString(), FORM_URLENCODED
    if isinstance(body, int | float) and not isinstance(body, bool):
        return str(body), None
    raise TypeError(
        f"{where}: unsupported body type {type(body).__name__}; expected str, a JS buffer "
        "(to_js(data) or to_js(data).buffer), FormData or URLSearchParams"
    )


def _options(init: Any, options: dict[str, Any], where: str) -> dict[str, Any]:
    """A JS init object (positional) and keyword options, as one dict of JS option names."""
    if init is None:
        return options
    if isinstance(init, Request):  # new Request(url, otherRequest) takes its fields
        merged = {"method": str(init.method), "headers": init._sdk_headers(), "redirect": init.redirect}
    elif isinstance(init, JsObject):
        merged = dict(dict.items(init))
    else:
        kind = type(init).__name__
        raise TypeError(
            f"{where} got a Python {kind} as its init: on Cloudflare it reaches JavaScript as an opaque "
            "proxy and its fields are ignored; pass the options as keyword arguments, or "
            "to_js(init, dict_converter=Object.fromEntries)"
        )
    merged.update(options)
    return merged


def request_from_init(input: str | URL | Request, init: Any, options: dict[str, Any], where: str) -> Request:
    """The request of JS ``new Request(input, init)`` and ``fetch(input, init)``: ``init`` is a JS
    object or another Request (positional), ``options`` the same fields as keywords."""
    fields = _options(init, options, where)
    unknown = set(fields) - REQUEST_OPTIONS
    if unknown:
        raise TypeError(f"{where}: unsupported option(s) {', '.join(sorted(unknown))}")
    body, content_type = js_body(fields.get("body"), where)
    with js_errors():
        return Request(
            input if isinstance(input, Request) else str(input),
            method=fields.get("method"),
            headers=js_headers(fields.get("headers"), content_type, where),
            body=body,
            cf=fields.get("cf"),
            redirect=fields.get("redirect"),
        )


class JsRequest(Request):
    """A request with the names of JavaScript's ``Request``.

    Build one with ``Request.new(url, method=..., headers=..., body=...)`` (from ``js``); the
    server's requests reach legacy handlers through :func:`js_request`.
    """

    __slots__ = ("_source",)

    _source: Request

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the JS Request class cannot be called: use Request.new(url, ...)")

    @classmethod
    def new(cls, input: str | URL | Request, init: Any = None, /, **options: Any) -> JsRequest:
        """``new Request(input, init)``: options ``method``, ``headers``, ``body``, ``redirect``, ``cf``."""
        return cls._view_of(request_from_init(input, init, options, "Request.new()"))

    @classmethod
    def _view_of(cls, request: Request) -> JsRequest:
        """A JS-style view of ``request``, sharing its headers and its body (read by either)."""
        self = cls.__new__(cls)
        self.url, self.method, self.redirect = request.url, str(request.method), request.redirect
        self._headers = self._raw_headers = None  # read through the request's
        self._body, self._body_used = request._body, request._body_used
        self._js = self
        self._source = request
        return self

    def _take_body(self) -> builtins.bytes:
        return self._source._take_body()

    def _sdk_headers(self) -> Headers:
        return self._source._sdk_headers()

    @property
    def headers(self) -> JsHeaders:  # type: ignore[override]
        """The JS ``Headers`` (``get()`` gives None for an absent name)."""
        return JsHeaders(self._sdk_headers())

    @property
    def bodyUsed(self) -> bool:
        return self._source.body_used

    @property
    def cf(self) -> JsObject | None:
        """The request's own ``cf``, made when first asked for (most handlers never do)."""
        return self._source.cf

    @property
    def body_used(self) -> bool:
        # Shared with the Python request this is a view of (JS code reads `bodyUsed`).
        return self.bodyUsed

    async def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON, objects as JS objects (attribute access, ``.to_py()``)."""
        return js_value(await super().json(**kwargs), JsObjectProxy)

    async def arrayBuffer(self) -> JsArrayBuffer:
        return JsArrayBuffer(self._take_body())

    async def bytes(self) -> JsUint8Array:
        return JsUint8Array(self._take_body())

    async def formData(self) -> FormData:
        return await super().form_data()

    def clone(self) -> JsRequest:
        """A copy whose body can be read independently of this one's."""
        return JsRequest._view_of(super().clone())

    def __repr__(self) -> str:
        return f"Request(method={self.method!r}, url={self.url!r}) (JS)"

    # Names of Cloudflare's Python Request that a JS request does not have.
    buffer = PythonOnly("arrayBuffer()")
    form_data = PythonOnly("formData()")
    js_object = PythonOnly()


def sdk_request(request: Any) -> Any:
    """The Python ``Request`` a JS-style request is a view of; anything else as it is."""
    if not isinstance(request, JsRequest):
        return request
    return request._source


def js_request(request: Request) -> JsRequest:
    """The JS-style request a legacy ``on_fetch`` handler receives for ``request``.

    It shares ``request``'s headers and body; a JS-style request is returned as it is.
    """
    if isinstance(request, JsRequest):
        return request
    return request.js_object
