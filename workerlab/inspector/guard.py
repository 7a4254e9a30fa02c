"""Who may use the inspector: this machine only, by its own name, and changes only from its own page.

Three checks, in order, on every request:

- the client is on loopback (unless the app was built to allow remote clients);
- the ``Host`` header names this machine (a loopback name, or the address the request came in on),
  so that a web page whose own host name resolves to 127.0.0.1 (DNS rebinding) cannot read the
  inspector as if it were its own origin;
- a request that changes something (any method but GET and HEAD) carries the per-process token
  of the page (``X-Workerlab-Token``) and comes from the inspector's own origin: a web page on
  another origin cannot purge a queue, even one that guessed the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..mounts import TOKEN_HEADER

#: Methods that only read.
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: an HTTP status, a stable code and a message for the user."""

    status: int
    code: str
    message: str


def check(scope: MutableMapping[str, Any], token: str, *, allow_remote: bool = False) -> Refusal | None:
    """The reason to refuse the request of ``scope``, or None when it may go on."""
    client = scope.get("client")
    if not allow_remote and not (client and _is_loopback(client[0])):
        return Refusal(
            403,
            "loopback-only",
            "The inspector answers requests from this machine only (a loopback address); "
            "reach it through an SSH tunnel or a port forward to 127.0.0.1",
        )
    headers = _headers(scope["headers"])
    host = headers.get("host", "")
    if not _names_this_machine(host, scope, allow_remote=allow_remote):
        return Refusal(
            403,
            "unknown-host",
            f"The inspector answers to localhost, a loopback address or the address it listens on; "
            f"the request named the host {host!r}",
        )
    if scope["method"] in SAFE_METHODS:
        return None
    sent = headers.get(TOKEN_HEADER)
    if sent is None or not hmac.compare_digest(sent.encode(), token.encode()):
        return Refusal(
            403,
            "bad-token",
            "Requests that change state need the inspector's token in the X-Workerlab-Token header "
            '(the page carries it in <meta name="workerlab-token">)',
        )
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    scheme = scope.get("scheme", "http")
    if origin is not None and origin != f"{scheme}://{host}":
        return Refusal(
            403,
            "cross-origin",
            f"Requests that change state must come from the inspector's own page ({scheme}://{host}); "
            f"this one came from {origin}",
        )
    if site is not None and site not in ("same-origin", "none"):
        return Refusal(
            403,
            "cross-origin",
            f"Requests that change state must come from the inspector's own page ({site})",
        )
    return None


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _names_this_machine(host: str, scope: MutableMapping[str, Any], *, allow_remote: bool) -> bool:
    if not host:
        return False
    name = urlsplit(f"//{host}").hostname or ""
    if _is_loopback(name):
        return True
    server = scope.get("server")
    if server and name == str(server[0]).strip("[]").lower():
        return True
    if allow_remote:
        # A remote client reaches the machine by any address of it; only names are refused.
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
    return False
