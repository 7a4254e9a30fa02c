"""``pyodide.http``: ``await pyfetch(url, **options)`` and its response and errors.

``pyfetch`` makes the same outbound request as ``workers.fetch`` and returns the same kind of
response (Cloudflare's ``Response`` subclasses Pyodide's ``FetchResponse``). httpx is imported
on the first call only.
"""

from __future__ import annotations

from typing import Any

from workerlab.compat.body import BodyUsedError
from workerlab.compat.response import HttpStatusError, Response

FetchResponse = Response


class AbortError(OSError):
    """The request was aborted (Pyodide raises it for a failed fetch)."""


async def pyfetch(url: str, **options: Any) -> Response:
    """Fetch ``url``; options ``method``, ``headers`` (a dict is fine here), ``body``, ``redirect``."""
    from workerlab.compat.fetch import fetch

    return await fetch(url, **options)


__all__ = ["AbortError", "BodyUsedError", "FetchResponse", "HttpStatusError", "pyfetch"]
