"""Who may call the queue API, and how large a request may be.

Clients written for Cloudflare's API send ``Authorization: Bearer <token>``: any token (or none)
is accepted locally, since there is no account to check it against. What is refused is a
request a web page on another site makes (its ``Origin`` names another host): a page in the
browser must not read or empty the local queues. Request size limits are Cloudflare's, with the
statuses it answers them with.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from .errors import CODE_BODY_TOO_LARGE, CODE_FORBIDDEN, CODE_HEADERS_TOO_LARGE, CODE_URL_TOO_LONG, ApiError

#: Longest URL, path and query (Cloudflare Workers request limits: 16 KB).
MAX_URL_BYTES = 16 * 1024
#: Largest request headers in all (Cloudflare Workers request limits: 128 KB).
MAX_HEADER_BYTES = 128 * 1024
#: Largest request body (Cloudflare: 100 MB on the Free and Pro plans; answered with 413).
MAX_BODY_BYTES = 100 * 1000 * 1000


def body_too_large(size: int) -> ApiError:
    return ApiError(
        413,
        CODE_BODY_TOO_LARGE,
        f"The request body is more than {MAX_BODY_BYTES} bytes (MAX_BODY_BYTES), found {size} so far",
    )


def check_request(scope: MutableMapping[str, Any]) -> None:
    """Raise an :class:`ApiError` when the request of ``scope`` must be refused before its body is read."""
    target = scope.get("raw_path") or scope["path"].encode()
    url_bytes = len(target) + len(scope.get("query_string") or b"")
    if url_bytes > MAX_URL_BYTES:
        raise ApiError(
            414,
            CODE_URL_TOO_LONG,
            f"The URL is {url_bytes} bytes; Cloudflare accepts at most {MAX_URL_BYTES} (MAX_URL_BYTES)",
        )
    header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
    if header_bytes > MAX_HEADER_BYTES:
        raise ApiError(
            431,
            CODE_HEADERS_TOO_LARGE,
            f"The request headers are {header_bytes} bytes; Cloudflare accepts at most "
            f"{MAX_HEADER_BYTES} in all (MAX_HEADER_BYTES)",
        )
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
