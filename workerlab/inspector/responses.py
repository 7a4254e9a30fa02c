"""What every inspector route answers with: JSON documents, JSON errors, and the values inside them."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

#: Longest text of a value shown as a preview (bodies, KV values); the rest is cut with an ellipsis.
MAX_PREVIEW_CHARS = 2_000
#: Largest JSON request body the API reads (a test message is at most 128 KB; SQL is small).
MAX_REQUEST_BYTES = 1_000_000


class ApiError(UserError):
    """A request the API refuses: ``status`` is the HTTP status, ``code`` a stable name for clients."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def not_found(what: str) -> ApiError:
    return ApiError(404, "not-found", what)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad-request", message)


def json_response(document: Any, status: int = 200) -> Response:
    from starlette.responses import Response  # the inspector's imports wait for its first request

    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_fallback)
    return Response(body, status, media_type="application/json")


def error_body(code: str, message: str) -> bytes:
    """The body of an error answer: ``{"error": {"code", "message"}}``."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


async def read_json(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object (an empty body is ``{}``)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise ApiError(413, "too-large", f"request bodies are limited to {MAX_REQUEST_BYTES} bytes")
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError as error:
        raise bad_request(
            f"expected a JSON object as the request body, found invalid JSON ({error})"
        ) from None
    if not isinstance(document, dict):
        raise bad_request(f"expected a JSON object as the request body, found {type(document).__name__}")
    return document


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """The integer query parameter ``name``, between ``low`` and ``high``."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(f"{name} must be an integer from {low} to {high}, found {text!r}") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be from {low} to {high}, found {value}")
    return value


def required_string(document: Mapping[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        found = "nothing" if value is None else repr(value)
        raise bad_request(f'expected "{name}" (a non-empty string) in the request body, found {found}')
    return value


def jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it: bytes as ``{"base64", "size"}``, datetimes as ISO text, sets
    and tuples as lists, floats that JSON lacks as text, anything else as its repr."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return {"base64": base64.b64encode(data).decode(), "size": len(data)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return repr(value)


def preview(value: Any) -> str:
    """A one-line text of ``value`` for tables, at most ``MAX_PREVIEW_CHARS`` long."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes | bytearray | memoryview):
        text = f"<{len(value)} bytes>"
    else:
        try:
            text = json.dumps(jsonable(value), ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= MAX_PREVIEW_CHARS else text[: MAX_PREVIEW_CHARS - 1] + "…"


def _fallback(value: Any) -> Any:
    return jsonable(value)
