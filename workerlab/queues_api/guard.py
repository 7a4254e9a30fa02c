"""Who may call the queue API, and how large a request may be.

Clients written for Cloudflare's API send ``Authorization: Bearer <token>``: any token (or none)
is accepted locally, since there is no account to check it against. What is refused is a
request a web page on another site makes (its ``Origin`` names another host): a page in the
browser must not read or empty the local queues. Request size limits are Cloudflare's
(:mod:`workerlab.request_limits`), with the statuses it answers them with.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ..request_limits import Refusal, refusal
from .errors import CODE_BODY_TOO_LARGE, CODE_FORBIDDEN, CODE_HEADERS_TOO_LARGE, CODE_URL_TOO_LONG, ApiError

#: The API's error code for each of Cloudflare's request size refusals.
_SIZE_CODES = {414: CODE_URL_TOO_LONG, 431: CODE_HEADERS_TOO_LARGE, 413: CODE_BODY_TOO_LARGE}


def api_error(refused: Refusal) -> ApiError:
    """A request size refusal in the API's envelope."""
    return ApiError(refused.status, _SIZE_CODES[refused.status], refused.detail)


def check_request(scope: MutableMapping[str, Any]) -> None:
    """Raise an :class:`ApiError` when the request of ``scope`` must be refused before its body is read."""
    refused = refusal(scope)
    if refused is not None:
        raise api_error(refused)
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
    origin = headers.get("origin")
    host = headers.get("host", "")
    scheme = scope.get("scheme", "http")
    if origin is not None and origin != f"{scheme}://{host}":
        raise ApiError(
            403,
            CODE_FORBIDDEN,
            f"The queue API refuses requests from web pages of another site (Origin {origin!r}); "
            "call it from a program, or from a page this server serves",
        )
    if headers.get("sec-fetch-site") == "cross-site":
        raise ApiError(403, CODE_FORBIDDEN, "The queue API refuses requests from web pages of another site")
