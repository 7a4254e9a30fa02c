"""The JS-style response: ``js.Response.new(...)``, what ``js.fetch`` returns, ``response.js_object``.

It is a :class:`~workerlab.compat.response.Response` (the server sends it as it is) with the names
of JavaScript's ``Response`` (``statusText``, ``arrayBuffer()``, ``bodyUsed``, ``headers.get()``),
not the Python ones of Cloudflare's Python ``Response``.
"""

from __future__ import annotations

import builtins
from http import HTTPStatus
from typing import Any, cast

from workerlab.compat.body import BodyUsedError
from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array
from workerlab.compat.jsglobals import JSON
from workerlab.compat.jsheaders import JsHeaders, js_headers
from workerlab.compat.jsnames import PythonOnly, PythonOnlySlot, js_errors
from workerlab.compat.jsrequest import js_body
from workerlab.compat.jsvalues import JsObject, JsObjectProxy, js_value
from workerlab.compat.response import APPLICATION_JSON, JsonAccessor, Response

_INIT_FIELDS = frozenset({"status", "statusText", "headers"})


def _init_fields(init: Any, options: dict[str, Any], where: str) -> dict[str, Any]:
    """A JS ResponseInit (positional: a JS object or another Response) and keyword options, merged."""
    if init is None:
        fields: dict[str, Any] = {}
    elif isinstance(init, Response):  # new Response(body, otherResponse) takes its status and headers
        fields = {"status": init.status, "statusText": _status_text(init), "headers": _owner(init).headers}
    elif isinstance(init, JsObject):
        fields = dict(dict.items(init))
    else:
        kind = type(init).__name__
        raise TypeError(
            f"{where} got a Python {kind} as its init: on Cloudflare it reaches JavaScript as an opaque "
            "proxy and its fields are ignored; pass status=..., headers=... as keyword arguments, or "
            "to_js(init, dict_converter=Object.fromEntries)"
        )
    fields.update(options)
    unknown = set(fields) - _INIT_FIELDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"{where}: unsupported option(s) {names}; expected status, statusText, headers")
    return fields


def _status_text(response: Response) -> str:
    return str(Response.__dict__["status_text"].__get__(response, Response))


def _owner(response: Response) -> Response:
    return response._owner() if isinstance(response, JsResponse) else response


class JsResponse(Response):
    """A response with the names of JavaScript's ``Response``.

    ``Response.new(body=None, init=None, /, status=200, statusText="", headers=None)`` where
    ``body`` is str, a JS buffer (``to_js(data)`` or ``to_js(data).buffer``), FormData or
    URLSearchParams; ``headers`` is JS Headers, a JS object or pairs (``d.items()``).
    """

    __slots__ = ("_source",)

    _source: Response | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "the JS Response class cannot be called: use Response.new(body, status=..., headers=...)"
        )

    @classmethod
    def new(cls, body: Any = None, init: Any = None, /, **options: Any) -> JsResponse:
        """``new Response(body, init)``."""
        fields = _init_fields(init, options, "Response.new()")
        data, content_type = js_body(body, "Response.new()")
        headers = js_headers(fields.get("headers"), content_type, "Response.new()")
        self = cls.__new__(cls)
        with js_errors():
            Response.__init__(self, data, fields.get("status", 200), fields.get("statusText", ""), headers)
        self._source = None
        return self

    @classmethod
    def _static_json(cls, data: Any, init: Any = None, /, **options: Any) -> JsResponse:
        """``Response.json(data, init)``: ``data`` (a JS value) as JSON, Content-Type application/json."""
        fields = _init_fields(init, options, "Response.json()")
        headers = js_headers(fields.get("headers"), APPLICATION_JSON, "Response.json()")
        text = JSON.stringify(data)
        if text is None:
            raise TypeError("Response.json(): the value is undefined (None) and has no JSON form")
        fields["headers"] = headers
        return cls.new(text, None, **fields)

    @classmethod
    def _redirect(cls, url: str, status: int | HTTPStatus = 302) -> JsResponse:
        self = cast(JsResponse, super()._redirect(url, status))
        self._source = None
        return self

    @classmethod
    def redirect(cls, url: str, status: int | HTTPStatus = 302) -> JsResponse:
        """``Response.redirect(url, status)`` (JS static): a bad status is a RangeError."""
        with js_errors():
            return cls._redirect(url, status)

    @classmethod
    def _from_parts(
        cls, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> JsResponse:
        self = cast(JsResponse, super()._from_parts(status, raw_headers, body))
        self._source = None
        return self

    @classmethod
    def _view_of(cls, response: Response) -> JsResponse:
        """A JS-style view of ``response``, sharing its headers and its body (read by either)."""
        self = cls.__new__(cls)
        self.status, self.status_text, self.url, self.redirected = (
            response.status,
            _status_text(response),
            response.url,
            response.redirected,
        )
        self._headers, self._content_type = response.headers, None
        self._body, self._body_used = response._body, response._body_used
        self._js = self
        self._source = response
        return self

    def _owner(self) -> Response:
        """The response whose body and headers this one reads."""
        return self._source if self._source is not None else self

    def _take_body(self) -> builtins.bytes:
        if self._source is not None:
            return self._source._take_body()
        return super()._take_body()

    def _asgi_parts(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if self._source is not None:
            return self._source._asgi_parts()
        return super()._asgi_parts()

    json = JsonAccessor("_static_json", "_read_js_json")

    async def _read_js_json(self) -> Any:
        return js_value(await Response._read_json(self), JsObjectProxy)

    @property
    def headers(self) -> JsHeaders:  # type: ignore[override]
        """The JS ``Headers`` (``get()`` gives None for an absent name)."""
        return JsHeaders(Response.headers.__get__(self._owner()))

    @property
    def statusText(self) -> str:
        return _status_text(self)

    @property
    def bodyUsed(self) -> bool:
        return self._source.body_used if self._source is not None else self._body_used

    @property
    def body_used(self) -> bool:
        return self.bodyUsed

    async def arrayBuffer(self) -> JsArrayBuffer:
        return JsArrayBuffer(self._take_body())

    async def bytes(self) -> JsUint8Array:
        return JsUint8Array(self._take_body())

    def clone(self) -> JsResponse:
        """A copy whose body can be read independently of this one's."""
        if self.bodyUsed:
            raise BodyUsedError("Body already used: cannot clone() a Response whose body was read")
        owner = self._owner()
        twin = JsResponse.__new__(JsResponse)
        twin.status, twin.status_text, twin.url, twin.redirected = (
            self.status,
            self.statusText,
            self.url,
            self.redirected,
        )
        twin._headers, twin._content_type = Response.headers.__get__(owner).copy(), None
        twin._body, twin._body_used = owner._body, False
        twin._js, twin._source = twin, None
        return twin

    def __repr__(self) -> str:
        return f"Response(status={self.status}) (JS)"

    # Names of Cloudflare's Python Response that a JS response does not have.
    status_text = PythonOnlySlot(Response.__dict__["status_text"], "statusText")
    form_data = PythonOnly("formData()")
    buffer = PythonOnly("arrayBuffer()")
    memoryview = PythonOnly("arrayBuffer()")
    js_object = PythonOnly()
    from_json = PythonOnly("Response.json(data)")
    replace_body = PythonOnly("Response.new(body, response)")
    raise_for_status = PythonOnly("response.ok")
