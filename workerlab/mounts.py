"""workerlab's own HTTP apps, served by `workerlab dev` under ``/cdn-cgi/workerlab/``.

Each entry is a path prefix and an ASGI app; the app finds the session it serves in
``scope["workerlab.session"]``. Adding a page or an API is one module plus one entry here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .server import AsgiApp


def dev_mounts(*, inspector: bool = True) -> Sequence[tuple[str, AsgiApp]]:
    """The apps `workerlab dev` serves beside the worker (imported only when it starts). The first
    entry whose prefix a path starts with serves it: more specific prefixes come first."""
    from .queues_api import API_PATH, QueuesApiApp

    mounts: list[tuple[str, AsgiApp]] = [(API_PATH, QueuesApiApp())]  # Cloudflare's queue REST API
    if inspector:
        from .inspector import INSPECTOR_PATH, InspectorApp

        mounts.append((INSPECTOR_PATH, InspectorApp()))  # all of /cdn-cgi/workerlab/: keep it last
    return mounts
