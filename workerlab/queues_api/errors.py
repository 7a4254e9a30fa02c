"""The API's answers: Cloudflare's v4 envelope, for results and for errors."""

from __future__ import annotations

import json
from typing import Any

from ..errors import UserError

#: Error codes of the queue API. Cloudflare documents few of its own: these follow its API's
#: ranges where known and are workerlab's otherwise.
CODE_INVALID_REQUEST = 10026
CODE_FORBIDDEN = 10000
CODE_URL_TOO_LONG = 10414
CODE_HEADERS_TOO_LARGE = 10431
CODE_BODY_TOO_LARGE = 10413
CODE_NOT_FOUND = 7003
CODE_METHOD_NOT_ALLOWED = 10405
CODE_MESSAGE_TOO_LARGE = 11413
CODE_WORKER_CONSUMER = 11009
CODE_DELIVERY_PAUSED = 11010


class ApiError(UserError):
    """A refusal: the HTTP ``status``, a numeric Cloudflare-style ``api_code`` and a message."""

    code = "queue-api"

    def __init__(self, status: int, api_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.api_code = api_code


def envelope(result: Any) -> bytes:
    """A success: ``{"success": true, "errors": [], "messages": [], "result": ...}``."""
    return _dump({"success": True, "errors": [], "messages": [], "result": result})


def error_envelope(error: ApiError) -> bytes:
    """A failure: ``{"success": false, "errors": [{"code", "message"}], "messages": [], "result": null}``."""
    return _dump(
        {
            "success": False,
            "errors": [{"code": error.api_code, "message": error.message}],
            "messages": [],
            "result": None,
        }
    )


def invalid(message: str) -> ApiError:
    """A 400: the request body does not say what the API expects."""
    return ApiError(400, CODE_INVALID_REQUEST, message)


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
