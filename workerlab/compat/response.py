"""Response: an HTTP response, shaped like Cloudflare's Python ``Response``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, overload

from workerlab.compat.body import TEXT_PLAIN, Body, BodyMixin, BodyUsedError, encode_body
from workerlab.compat.buffers import JsArrayBuffer
from workerlab.compat.formdata import FormData
from workerlab.compat.headers import Headers, HeadersInit
from workerlab.compat.request import absolute_url

if TYPE_CHECKING:
    from workerlab.compat.jsresponse import JsResponse

#: Content-Type of Response.json() (Cloudflare's SDK and the Fetch standard).
APPLICATION_JSON = "application/json"
#: Statuses a constructed Response may have (Fetch standard: a RangeError outside 200..599).
MIN_STATUS = 200
MAX_STATUS = 599
#: Statuses whose response cannot carry a body (Fetch standard "null body status").
NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})
#: Statuses Response.redirect() accepts (Fetch standard "redirect status").
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_TEXT_PLAIN_RAW = TEXT_PLAIN.encode("latin-1")


def _check_status(status: object) -> int:
    if status is None:
        return 200
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"Response status must be an int, got {type(status).__name__}")
    status = int(status)
    if not MIN_STATUS <= status <= MAX_STATUS:
        raise ValueError(f"Response status must be in the range {MIN_STATUS} to {MAX_STATUS}, got {status}")
    return status


#: Headers the server derives from the body itself.
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")
#: Statuses whose responses carry no body, so no Content-Length either.
_NO_BODY_STATUSES = frozenset({204, 304})


class JsonAccessor:
    """``json`` on a response class: through the class, the method named ``on_class`` that builds a
    JSON response (``Response.json(data, ...)``); through an instance, the method named
    ``on_instance`` that reads one (``await response.json()``).

    Cloudflare's SDK, like JS, gives ``json`` both meanings; a descriptor tells them apart by
    whether it is reached through the class or through an instance.
    """

    __slots__ = ("on_class", "on_instance")

    def __init__(self, on_class: str, on_instance: str) -> None:
        self.on_class = on_class
        self.on_instance = on_instance

    @overload
    def __get__(self, instance: None, owner: type[Response]) -> Callable[..., Response]: ...
    @overload
    def __get__(self, instance: Response, owner: type[Response]) -> Callable[..., Awaitable[Any]]: ...
    def __get__(self, instance: Response | None, owner: type[Response]) -> Any:
        if instance is None:
            return getattr(owner, self.on_class)
        return getattr(instance, self.on_instance)


class HttpStatusError(OSError):
    """What :meth:`Response.raise_for_status` raises (``pyodide.http.HttpStatusError``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Response(BodyMixin):
    """An HTTP response: ``Response(body=None, status=200, status_text="", headers=None)``.

    ``body`` is str (sent as ``text/plain;charset=UTF-8`` unless a Content-Type is given),
    bytes, FormData (multipart, with its boundary) or None; anything else is a
    ``TypeError("Unsupported type in Response: X")``. ``status`` must be in 200..599
    (``ValueError`` otherwise). The body can be read once, as on Cloudflare.
    """

    __slots__ = (
        "_content_type",
        "_headers",
        "_js",
        "redirected",
        "status",
        "status_text",
        "url",
    )

    status: int
    status_text: str
    url: str
    redirected: bool
    _headers: Headers | None
    _content_type: bytes | None
    _js: JsResponse | None

    def __init__(
        self,
        body: Body | Response = None,
        status: int | HTTPStatus | None = 200,
        status_text: str = "",
        headers: HeadersInit = None,
    ) -> None:
        if type(body) is str:  # the common case, tested first
            data, content_type = body.encode(), _TEXT_PLAIN_RAW
        elif body is None:
            data, content_type = None, None
        elif isinstance(body, Response):
            self._wrap(body, status, status_text, headers)
            return
        else:
            data, text_type = encode_body(body, "Response")
            content_type = text_type.encode("latin-1") if text_type is not None else None
        self._setup(data, content_type, status, status_text, headers)

    def _setup(
        self,
        data: bytes | None,
        content_type: bytes | None,
        status: object,
        status_text: str,
        headers: HeadersInit,
    ) -> None:
        code = 200 if status == 200 and type(status) is int else _check_status(status)
        if data is not None and code in NULL_BODY_STATUSES:
            raise TypeError(f"A Response with status {code} cannot have a body (pass body=None)")
        if not isinstance(status_text, str):
            raise TypeError(f"Response status_text must be a str, got {type(status_text).__name__}")
        self.status = code
        self.status_text = status_text
        self.url = ""
        self.redirected = False
        self._body = data
        self._body_used = False
        self._js = None
        if headers is None:
            self._headers = None
            self._content_type = content_type
        else:
            self._headers = Headers(headers)
            self._content_type = None
            if content_type is not None and not self._headers.has("content-type"):
                self._headers.append("content-type", content_type)

    @classmethod
    def from_json(
        cls,
        data: Any,
        status: int | HTTPStatus | None = 200,
        status_text: str = "",
        headers: HeadersInit = None,
    ) -> Response:
        """A response whose body is ``json.dumps(data)`` with Content-Type application/json."""
        self = cls.__new__(cls)
        self._setup(json.dumps(data).encode(), APPLICATION_JSON.encode(), status, status_text, headers)
        return self

    json = JsonAccessor("from_json", "_read_json")  # type: ignore[assignment]
    _read_json = BodyMixin.json

    @staticmethod
    def redirect(url: str, status: int | HTTPStatus = 302) -> JsResponse:
        """A redirect to the absolute ``url``; ``status`` is one of 301, 302, 303, 307, 308.

        As on Cloudflare, the result is the JS-style response (``js.Response.redirect``).
        """
        from workerlab.compat.jsresponse import JsResponse

        return JsResponse._redirect(url, status)

    @classmethod
    def _redirect(cls, url: str, status: int | HTTPStatus) -> Response:
        if isinstance(status, bool) or not isinstance(status, int) or int(status) not in REDIRECT_STATUSES:
            raise ValueError(
                f"Response.redirect() status must be one of {sorted(REDIRECT_STATUSES)}, got {status!r}"
            )
        location = absolute_url(url, "Response.redirect()")
        self = cls.__new__(cls)
        self._setup(None, None, int(status), "", {"location": location})
        return self

    def _wrap(self, source: Response, status: object, status_text: str, headers: HeadersInit) -> None:
        """``Response(js_response)``: this response stands for ``source`` and shares its body."""
        if status not in (None, 200) or status_text or headers is not None:
            raise ValueError("Expected no options when constructing Response from a js.Response")
        from workerlab.compat.jsresponse import JsResponse

        if not isinstance(source, JsResponse):
            raise TypeError(
                "Unsupported type in Response: Response (pass a js.Response, or return it as it is)"
            )
        inner = source._owner()
        self.status, self.status_text, self.url, self.redirected = (
            inner.status,
            source.statusText,
            inner.url,
            inner.redirected,
        )
        self._headers, self._content_type = Response.headers.__get__(inner), None
        self._body, self._body_used = inner._body, source.bodyUsed
        self._js = source
        if source._source is None:
            source._source = self  # from now on the JS response reads its body through this one

    @classmethod
    def _from_fetch(
        cls,
        status: int,
        status_text: str,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        url: str,
        redirected: bool,
    ) -> Response:
        """The response to an outbound fetch, taken as the origin sent it (names lower-case)."""
        self = cls._from_parts(status, raw_headers, body)
        self.status_text, self.url, self.redirected = status_text, url, redirected
        return self

    @classmethod
    def _from_parts(cls, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes | None) -> Response:
        """A response from an app's status, raw header pairs (names lower-case) and body, unchecked."""
        self = cls.__new__(cls)
        self.status, self.status_text, self.url, self.redirected = status, "", "", False
        self._headers = Headers._from_raw(raw_headers)
        self._content_type = None
        self._body, self._body_used = body, False
        self._js = None
        return self

    @property
    def js_object(self) -> JsResponse:
        """The JS-style response (``statusText``, ``arrayBuffer()``, ``headers.get()``) behind this
        one; reading the body through either uses it up for both."""
        view = self._js
        if view is None:
            from workerlab.compat.jsresponse import JsResponse

            view = self._js = JsResponse._view_of(self)
        return view

    @property
    def type(self) -> str:
        """The response type (``"default"`` for responses made in code and fetched ones alike)."""
        return "default"

    async def buffer(self) -> JsArrayBuffer:
        """The body as a JS ``ArrayBuffer`` (``.to_bytes()``, ``.to_py()``; also usable as bytes)."""
        return JsArrayBuffer(self._take_body())

    async def memoryview(self) -> memoryview:
        """The body as a memoryview."""
        return memoryview(self._take_body())

    async def formData(self) -> FormData:
        """Alias of :meth:`form_data` (Cloudflare's SDK keeps both)."""
        return await self.form_data()

    def raise_for_status(self) -> None:
        """Raise :class:`HttpStatusError` (an ``OSError``) for a 4xx or 5xx status."""
        if 400 <= self.status <= 599:
            kind = "Client" if self.status < 500 else "Server"
            raise HttpStatusError(
                self.status, f"{self.status} {kind} Error: {self.status_text} for url: {self.url}"
            )

    def replace_body(self, body: Body) -> Response:
        """A new response with this one's status and headers and ``body``."""
        return type(self)(body, self.status, self.status_text, self.headers.copy())

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status <= 299

    @property
    def headers(self) -> Headers:
        """The response headers (case-insensitive), including the implied Content-Type."""
        headers = self._headers
        if headers is None:
            content_type = self._content_type
            headers = self._headers = Headers._from_raw(
                [(b"content-type", content_type)] if content_type is not None else []
            )
        return headers

    def clone(self) -> Response:
        """A copy whose body can be read independently of this one's."""
        if self.body_used:
            raise BodyUsedError("Body already used: cannot clone() a Response whose body was read")
        twin = Response.__new__(Response)
        twin.status, twin.status_text, twin.url, twin.redirected = (
            self.status,
            self.status_text,
            self.url,
            self.redirected,
        )
        twin._headers = self._headers.copy() if self._headers is not None else None
        twin._content_type = self._content_type
        twin._body, twin._body_used = self._body, False
        twin._js = None
        return twin

    def _asgi_parts(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, raw header pairs (lower-case names) and body bytes, for the server.

        The headers carry the body's real Content-Length (one the worker or an origin set is
        replaced, as Cloudflare does), except on statuses that have no body. Reading these does
        not use up the body.
        """
        body = self._body or b""
        if type(body) is not bytes:
            body = bytes(body)  # a JS buffer (a bytes subclass): the server sends plain bytes
        headers = self._headers
        if headers is None:
            content_type = self._content_type
            raw = [(b"content-type", content_type)] if content_type is not None else []
        else:
            raw = [pair for pair in headers._raw_pairs() if pair[0] not in _FRAMING_HEADERS]
        if self.status not in _NO_BODY_STATUSES:
            raw.append((b"content-length", b"%d" % len(body)))
        return self.status, raw, body

    def __repr__(self) -> str:
        parts = [f"status={self.status}"]
        if self.status_text:
            parts.append(f"status_text={self.status_text!r}")
        content_type = self.headers.get("content-type")
        if content_type:
            parts.append(f"content_type={content_type!r}")
        if self.url:
            parts.append(f"url={self.url!r}")
        return f"Response({', '.join(parts)})"
