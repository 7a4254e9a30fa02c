"""``GET events``: the timeline as server-sent events, history first, then live.

Each entry is an ``entry`` event whose ``id`` is its sequence number, so a browser that reconnects
(``Last-Event-ID``) resumes where it stopped. ``?message=<id>`` keeps the entries of one queue
message. Beside entries the stream sends ``hello`` (first: the latest sequence number and how many
entries the bounded history has already let go), ``changed`` (``{"topics": [...]}``: what a page
shows may have changed, e.g. a queue written by another process) and ``reset`` (the reader fell
behind and should start again). A comment line every ``HEARTBEAT_S`` keeps idle proxies open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .responses import bad_request, query_int
from .state import session_of, state_of
from .timeline import Changed, Entry, FellBehind, Item, Listener, Timeline

#: Seconds between keep-alive comments on an idle stream.
HEARTBEAT_S = 15.0
#: Entries the JSON form of the timeline returns at most.
MAX_TIMELINE_PAGE = 10_000

Marker = Callable[[], object]


class EventStream:
    """An ASGI response streaming ``timeline`` until the client goes away or ``stopping()`` is true
    (the server shuts down: an open stream must not hold the shutdown up)."""

    def __init__(
        self,
        timeline: Timeline,
        *,
        after: int,
        message: str | None,
        marker: Marker,
        stopping: Callable[[], bool],
        poll_s: float,
    ) -> None:
        self._timeline = timeline
        self._after = after
        self._message = message
        self._marker = marker
        self._stopping = stopping
        self._poll_s = poll_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        disconnected = asyncio.ensure_future(_disconnected(receive))
        # Listen before reading the history, so that nothing falls between the two.
        with self._timeline.listen() as listener:
            try:
                await self._serve(send, listener, disconnected)
            finally:
                disconnected.cancel()
                await asyncio.gather(disconnected, return_exceptions=True)

    async def _serve(self, send: Send, listener: Listener, disconnected: asyncio.Future[None]) -> None:
        timeline = self._timeline
        history = timeline.entries(after=self._after, message=self._message)
        hello = {"latest_seq": timeline.latest_seq, "dropped": timeline.dropped, "history": len(history)}
        await _write(send, [_event("hello", json.dumps(hello)), *map(_entry_event, history)])
        last_seq = max(self._after, history[-1].seq if history else 0)
        marker = _safe(self._marker)
        quiet_since = time.monotonic()
        waiting: asyncio.Future[list[Item]] = asyncio.ensure_future(listener.next_items())
        try:
            while not disconnected.done():
                watched: list[asyncio.Future[Any]] = [waiting, disconnected]
                done, _ = await asyncio.wait(
                    watched, timeout=self._poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                chunks: list[bytes] = []
                if waiting in done:
                    last_seq = self._items(waiting.result(), last_seq, chunks)
                    waiting = asyncio.ensure_future(listener.next_items())
                if self._stopping():
                    return
                now_marker = _safe(self._marker)
                if now_marker != marker:
                    marker = now_marker
                    chunks.append(_event("changed", json.dumps({"topics": ["queues"]})))
                if not chunks and time.monotonic() - quiet_since >= HEARTBEAT_S:
                    chunks.append(b": keep-alive\n\n")
                if chunks and not disconnected.done():
                    await _write(send, chunks)
                    quiet_since = time.monotonic()
        finally:
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)

    def _items(self, items: list[Item], last_seq: int, chunks: list[bytes]) -> int:
        """Append the events of ``items`` to ``chunks``; return the last entry's sequence number sent."""
        for item in items:
            if isinstance(item, Entry):
                if item.seq > last_seq and (self._message is None or item.concerns(self._message)):
                    chunks.append(_entry_event(item))
                    last_seq = item.seq
            elif isinstance(item, Changed):
                chunks.append(_event("changed", json.dumps({"topics": sorted(item.topics)})))
            elif isinstance(item, FellBehind):
                chunks.append(_event("reset", "{}"))
        return last_seq


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _write(send: Send, chunks: list[bytes]) -> None:
    await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})


def _event(name: str, data: str, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {data}\n\n".encode()


def _entry_event(entry: Entry) -> bytes:
    return _event("entry", entry.json, entry.seq)


def _safe(marker: Marker) -> object:
    try:
        return marker()
    except Exception as error:  # a store busy in another process: look again next time
        return error.__class__


def _after(request: Request) -> int:
    text = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    try:
        return max(0, int(text))
    except ValueError:
        raise bad_request(f"after (or Last-Event-ID) must be a sequence number, found {text!r}") from None


async def events(request: Request) -> EventStream:
    """``GET events``: the server-sent event stream."""
    state = state_of(request)
    session_of(request)  # a stream needs a loaded session, as every other route does
    return EventStream(
        state.timeline,
        after=_after(request),
        message=request.query_params.get("message") or None,
        marker=state.change_marker,
        stopping=state.stopping,
        poll_s=state.change_poll_s,
    )


async def timeline(request: Request) -> Response:
    """``GET timeline``: the same entries as one JSON document (``?after=``, ``?message=``, ``?limit=``)."""
    state = state_of(request)
    limit = query_int(request, "limit", 1_000, low=0, high=MAX_TIMELINE_PAGE)
    message = request.query_params.get("message") or None
    found = state.timeline.entries(after=_after(request), message=message, limit=limit)
    # The entries are JSON already: joined, not parsed and encoded again.
    body = '{"entries":[' + ",".join(entry.json for entry in found) + "]"
    body += f',"stats":{json.dumps(state.timeline.stats())}}}'
    return Response(body, media_type="application/json")
