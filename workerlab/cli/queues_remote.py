"""`workerlab queues --url URL`: the queues of a running `workerlab dev`, through its inspector API.

The commands print what they print without ``--url``: the server's list answers with every field
of a :class:`~workerlab.queues.inspector.QueueSummary`, and messages are cut down to the fields of
:func:`~workerlab.queues.inspector.record_json`. Actions send the inspector page's token, read
once per command (:class:`~workerlab.inspector.client.InspectorClient` does that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from .common import user_errors

if TYPE_CHECKING:
    from ..inspector.client import InspectorClient
    from ..queues.inspector import QueueSummary

T = TypeVar("T")


def check_url(_: click.Context, __: click.Parameter, url: str | None) -> str | None:
    """The ``--url`` option's check: an http(s) address with a host."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or IPv6 address
        valid = False
    if not valid:
        raise click.BadParameter(
            f"expected the address of `workerlab dev`, like http://127.0.0.1:8787; got {url!r}"
        )
    return url


def run(url: str, action: Callable[[RemoteQueues], T]) -> T:
    """Run ``action`` on the queues of the server at ``url``; a refusal, or no server there, prints
    one line and exits non-zero."""

    def call() -> T:
        with RemoteQueues(url) as remote:
            return action(remote)

    return user_errors(call)


class RemoteQueues:
    """The queue routes of the inspector at ``url``, in the shapes `workerlab queues` prints."""

    def __init__(self, url: str) -> None:
        from ..inspector.client import InspectorClient

        self.url = url
        self.client: InspectorClient = InspectorClient(url)

    def __enter__(self) -> RemoteQueues:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def summaries(self) -> list[QueueSummary]:
        """The counts of every queue the server knows."""
        return [_summary(entry) for entry in self.client.queues()]

    def summary(self, queue: str) -> QueueSummary:
        return _summary(self._entry(queue))

    def dead_letter_sources(self, dlq: str) -> list[str]:
        """The queues whose consumer dead-letters into ``dlq``."""
        sources: list[str] = self._entry(dlq)["dead_letter_of"]
        return sources

    def next_pending(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """The next ``limit`` messages ``queue`` will deliver, page after page of the API."""
        from ..inspector.queues import MAX_MESSAGES_PER_PAGE

        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(found) < limit:
            page = self.client.messages(
                queue, cursor=cursor, limit=min(limit - len(found), MAX_MESSAGES_PER_PAGE)
            )
            found += [_record(message) for message in page["messages"]]
            cursor = page["cursor"]
            if cursor is None:
                break
        return found

    def last_dropped(self, queue: str, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` messages dropped from ``queue`` (as many as one page of the API holds)."""
        from ..inspector.queues import MAX_MESSAGES_PER_PAGE

        if limit < 1:
            return []
        dropped = self.client.dropped(queue, limit=min(limit, MAX_MESSAGES_PER_PAGE))
        return [_record(message) for message in dropped]

    def pause(self, queue: str) -> bool:
        """Pause ``queue``; whether it was not paused before."""
        return bool(self.client.pause(queue)["changed"])

    def resume(self, queue: str) -> bool:
        """Resume ``queue``; whether it was paused before."""
        return bool(self.client.resume(queue)["changed"])

    def purge(self, queue: str) -> int:
        return self.client.purge(queue)

    def redrive(self, dlq: str, to: str, limit: int | None) -> int:
        return self.client.redrive(dlq, to, limit=limit)

    def _entry(self, queue: str) -> dict[str, Any]:
        from ..inspector.client import InspectorRequestError

        entries = self.client.queues()
        for entry in entries:
            if entry["name"] == queue:
                return entry
        names = ", ".join(entry["name"] for entry in entries) or "none"
        raise InspectorRequestError(
            f"No queue named {queue!r} is configured or holds messages at {self.url} (queues: {names})",
            code="not-found",
        )


def _summary(entry: dict[str, Any]) -> QueueSummary:
    from ..queues.inspector import QueueSummary

    counts = {f.name for f in fields(QueueSummary)} - {"queue"}
    return QueueSummary(queue=entry["name"], **{key: entry[key] for key in counts if key in entry})


def _record(message: dict[str, Any]) -> dict[str, Any]:
    """What `workerlab queues QUEUE` shows of a message: the fields of a local record."""
    from ..queues.inspector import RECORD_KEYS

    return {key: message.get(key) for key in RECORD_KEYS}
