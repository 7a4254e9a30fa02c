"""workerlab's own HTTP apps, served by `workerlab dev` under ``/cdn-cgi/workerlab/``.

Each entry is a path prefix and an ASGI app; the app finds the session it serves in
``scope["workerlab.session"]``. Adding a page or an API is one module plus one entry here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .server import AsgiApp, Receive, Scope, Send


def dev_mounts(*, inspector: bool = True) -> Sequence[tuple[str, AsgiApp]]:
    """The apps `workerlab dev` serves beside the worker (imported only when it starts). The first
    entry whose prefix a path starts with serves it: more specific prefixes come first."""
    mounts: list[tuple[str, AsgiApp]] = [(QUEUES_API_PATH, _queues_api)]  # Cloudflare's queue REST API
    if inspector:
        from .inspector import INSPECTOR_PATH, InspectorApp

        mounts.append((INSPECTOR_PATH, InspectorApp()))  # all of /cdn-cgi/workerlab/: keep it last
    return mounts


#: Where a `workerlab dev` process takes service calls for the workers it runs (from other processes
#: on the same persist directory, see :mod:`workerlab.dev_registry`).
RPC_PATH_PREFIX = "/cdn-cgi/workerlab/rpc/"
#: The header that carries a per-process token: the registry's to service calls, the inspector
#: page's to its state-changing requests.
TOKEN_HEADER = "x-workerlab-token"
#: Bytes of randomness in such a token.
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh per-process token for :data:`TOKEN_HEADER`."""
    import secrets

    return secrets.token_urlsafe(TOKEN_BYTES)


#: Where Cloudflare's queue REST API (pull, ack, publish) is served (see :mod:`workerlab.queues_api`).
QUEUES_API_PATH = "/cdn-cgi/workerlab/api/client/v4/"
_queues_api_app: AsgiApp | None = None


async def _queues_api(scope: Scope, receive: Receive, send: Send) -> None:
    """The queue REST API, imported on its first request (most sessions never call it)."""
    global _queues_api_app
    if _queues_api_app is None:
        from .queues_api import QueuesApiApp

        _queues_api_app = QueuesApiApp()
    await _queues_api_app(scope, receive, send)
