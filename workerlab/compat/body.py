"""What Request and Response share: a body that is read once, and body encoding."""

from __future__ import annotations

import builtins
import json
from typing import Any, TypeAlias

from workerlab.compat.formdata import FormData
from workerlab.compat.headers import Headers

Body: TypeAlias = "str | bytes | FormData | None"

#: Content-Type JS gives a str body (Fetch standard, "extract a body").
TEXT_PLAIN = "text/plain;charset=UTF-8"


def encode_body(body: object, kind: str) -> tuple[bytes | None, str | None]:
    """The bytes of a str / bytes / FormData / None body and the Content-Type it implies."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode(), TEXT_PLAIN
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, FormData):
        from workerlab.compat.multipart import encode_multipart

        return encode_multipart(body)
    raise TypeError(f"Unsupported type in {kind}: {type(body).__name__}")


class BodyUsedError(OSError):
    """A body read a second time (``pyodide.http.BodyUsedError``, what Cloudflare's Response raises)."""


class BodyMixin:
    """Reads of a body that, as on Cloudflare, can be read only once (``clone()`` first)."""

    __slots__ = ("_body", "_body_used")

    _body: bytes | None
    _body_used: bool

    @property
    def headers(self) -> Headers:
        raise NotImplementedError

    @property
    def body_used(self) -> bool:
        """True once the body has been read."""
        return self._body_used

    def _take_body(self) -> builtins.bytes:
        if self._body_used:
            raise BodyUsedError(
                f"Body already used: this {type(self).__name__}'s body was read before "
                "(a body can be read once; call clone() first to read it twice)"
            )
        self._body_used = True
        return self._body or b""

    async def text(self) -> str:
        """The body decoded as UTF-8 (a leading BOM dropped, bad bytes replaced)."""
        return self._take_body().decode("utf-8-sig", "replace")

    async def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON; keyword arguments go to ``json.loads``."""
        return json.loads(self._take_body().decode("utf-8-sig", "replace"), **kwargs)

    async def form_data(self) -> FormData:
        """The body parsed as multipart/form-data or application/x-www-form-urlencoded."""
        content_type = self.headers.get("content-type")
        from workerlab.compat.multipart import parse_form

        return parse_form(self._take_body(), content_type)

    async def bytes(self) -> builtins.bytes:
        """The body as bytes."""
        return self._take_body()
