"""Outbound ``fetch()``: a real HTTP request through one shared httpx client.

httpx is imported on the first call only, so that ``import workers`` stays cheap. Tests
mock the network with ``respx``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workerlab.compat.body import Body
from workerlab.compat.headers import HeadersInit
from workerlab.compat.request import Request
from workerlab.compat.response import Response
from workerlab.http_clients import SharedClient

if TYPE_CHECKING:
    import httpx

#: Seconds an outbound request may wait for the origin at each step (connect, read, write).
#: Cloudflare answers 524 when an origin sends nothing for 100 s.
FETCH_TIMEOUT_S = 100.0

# Headers the client sets itself: Workers derive Host from the URL and frame the body.
_CLIENT_OWNED_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})


class FetchError(OSError):
    """An outbound fetch() could not get a response (network failure, timeout, redirect refused).

    An ``OSError``, as Cloudflare's Python fetch raises for network failures.
    """

    def __init__(self, message: str, *, url: str, method: str) -> None:
        super().__init__(message)
        self.url = url
        self.method = method

    def __str__(self) -> str:
        return str(self.args[0])


def _make_client() -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(timeout=httpx.Timeout(FETCH_TIMEOUT_S), follow_redirects=False)


#: The client every ``fetch()`` of the process shares.
_client = SharedClient(_make_client)


async def aclose_fetch_client() -> None:
    """Close the shared client (on shutdown); the next fetch() makes a new one."""
    await _client.aclose()


async def fetch(
    resource: str | Request,
    *,
    method: str | None = None,
    headers: HeadersInit = None,
    body: Body = None,
    redirect: str | None = None,
    cf: dict[str, Any] | None = None,
) -> Response:
    """Send an HTTP request and return the :class:`Response`.

    ``resource`` is an absolute URL or a :class:`Request`; the keyword arguments override
    the Request's (``method`` defaults to GET). ``redirect`` is ``"follow"`` (the default),
    ``"manual"`` (return the 3xx) or ``"error"``. Network failures raise :class:`FetchError`
    naming the method and URL.
    """
    overrides = (method, headers, body, redirect, cf)
    if isinstance(resource, Request) and all(option is None for option in overrides):
        request = resource
        if request._body is not None:
            request._take_body()  # sending a Request uses up its body, as in JS
    else:
        request = Request(resource, method=method, headers=headers, body=body, cf=cf, redirect=redirect)

    import httpx

    where = f"{request.method} {request.url}"
    raw_headers = [
        pair for pair in request._sdk_headers()._raw_pairs() if pair[0] not in _CLIENT_OWNED_HEADERS
    ]
    try:
        reply = await _client.get().request(
            request.method,
            request.url,
            headers=raw_headers,
            content=request._body,
            follow_redirects=request.redirect == "follow",
        )
    except httpx.TimeoutException as exc:
        raise FetchError(
            f"fetch({where}) failed: no answer within {FETCH_TIMEOUT_S:g} s ({type(exc).__name__})",
            url=request.url,
            method=request.method,
        ) from exc
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise FetchError(
            f"fetch({where}) failed: {reason} ({type(exc).__name__})",
            url=request.url,
            method=request.method,
        ) from exc
    if request.redirect == "error" and reply.is_redirect:
        raise FetchError(
            f"fetch({where}) failed: the server answered a redirect ({reply.status_code} to "
            f"{reply.headers.get('location')!r}) and redirect='error' refuses it",
            url=request.url,
            method=request.method,
        )
    return Response._from_fetch(
        reply.status_code,
        reply.reason_phrase,
        # httpx has already decoded the body, so the origin's content-encoding no longer applies.
        [(name.lower(), value) for name, value in reply.headers.raw if name.lower() != b"content-encoding"],
        reply.content,
        str(reply.url),
        bool(reply.history),
    )
