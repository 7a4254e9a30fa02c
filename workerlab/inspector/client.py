"""A program's way to the inspector API of a running `workerlab dev` (``workerlab queues --url``).

The client reads the per-process token from the inspector's page once, as the page's own script
does, and sends it with every request that changes something. It sends no ``Origin``: the
same-origin rule stops web pages, not programs on this machine.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import UserError
from ..mounts import TOKEN_HEADER
from .app import INSPECTOR_PATH

#: How long one request may take (a purge of a million messages takes a while).
DEFAULT_TIMEOUT_S = 120.0
_TOKEN = re.compile(r'<meta name="workerlab-token" content="([^"]+)">')


class InspectorRequestError(UserError):
    """The inspector refused a request, or nothing answered at the URL."""

    code = "inspector-request"


class InspectorClient:
    """The inspector API at ``url``: the dev server's address (``http://127.0.0.1:8787``) or the
    inspector's own (``.../cdn-cgi/workerlab/``)."""

    def __init__(
        self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, transport: httpx.BaseTransport | None = None
    ) -> None:
        base = url.rstrip("/")
        if not base.endswith(INSPECTOR_PATH.rstrip("/")):
            base += INSPECTOR_PATH.rstrip("/")
        self.base = base + "/"
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> InspectorClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- requests ----------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        """``GET api/<path>``; the JSON answer."""
        query = {name: value for name, value in params.items() if value is not None}
        return self._answer(self._request("GET", f"api/{path}", params=query))

    def post(self, path: str, body: Any = None) -> Any:
        """``POST api/<path>`` with the token; the JSON answer."""
        headers = {TOKEN_HEADER: self.token}
        return self._answer(self._request("POST", f"api/{path}", json=body or {}, headers=headers))

    @property
    def token(self) -> str:
        if self._token is None:
            page = self._request("GET", "")
            found = _TOKEN.search(page.text) if page.status_code == 200 else None
            if found is None:
                raise InspectorRequestError(
                    f"{self.base} did not answer with the inspector's page (status {page.status_code}); "
                    "expected a `workerlab dev` started without --no-inspector"
                )
            self._token = found.group(1)
        return self._token

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            return self._http.request(method, self.base + path, **options)
        except httpx.TransportError as error:
            raise InspectorRequestError(
                f"Nothing answered at {self.base} ({error}); is `workerlab dev` running there?"
            ) from None

    def _answer(self, response: httpx.Response) -> Any:
        try:
            document = response.json()
        except ValueError:
            document = None
        if response.is_success and document is not None:
            return document
        error = document.get("error", {}) if isinstance(document, dict) else {}
        message = error.get("message") or f"HTTP {response.status_code}: {response.text[:200]}"
        raise InspectorRequestError(message, code=error.get("code") or "inspector-request")

    # --- queues ------------------------------------------------------------------------------

    def queues(self) -> list[dict[str, Any]]:
        """Every queue with its counts, consumer and dead-letter relations."""
        found: list[dict[str, Any]] = self.get("queues")["queues"]
        return found

    def messages(self, queue: str, *, cursor: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """A page of ``queue``'s messages: ``{messages, cursor}`` (``cursor`` None on the last page)."""
        page: dict[str, Any] = self.get(f"queues/{_segment(queue)}/messages", cursor=cursor, limit=limit)
        return page

    def dropped(self, queue: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The last messages dropped from ``queue`` (failed with no dead-letter queue), oldest first."""
        found: list[dict[str, Any]] = self.get(f"queues/{_segment(queue)}/dropped", limit=limit)["messages"]
        return found

    def send(self, queue: str, body: Any, *, content_type: str = "json", delay_s: int | None = None) -> None:
        document = {"body": body, "content_type": content_type, "delay_seconds": delay_s}
        self.post(f"queues/{_segment(queue)}/send", document)

    def pause(self, queue: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.post(f"queues/{_segment(queue)}/pause")
        return answer

    def resume(self, queue: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.post(f"queues/{_segment(queue)}/resume")
        return answer

    def purge(self, queue: str) -> int:
        """Delete every message of ``queue``; how many went."""
        purged: int = self.post(f"queues/{_segment(queue)}/purge")["purged"]
        return purged

    def redrive(self, dlq: str, to: str, *, limit: int | None = None) -> int:
        """Move dead-lettered messages of ``dlq`` back to ``to``; how many moved."""
        moved: int = self.post(f"queues/{_segment(dlq)}/redrive", {"to": to, "limit": limit})["moved"]
        return moved


def _segment(name: str) -> str:
    return quote(name, safe="")
