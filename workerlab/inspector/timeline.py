"""The event timeline: a bounded history of what the session did, and its live readers.

The timeline subscribes to a session's event bus (again to the new one after a reload, keeping its
history) and turns each event into an :class:`Entry` (see :mod:`.entries`), serialized once. It
keeps the last ``max_events`` entries, within ``max_bytes`` (requests in a ring of fixed size),
so a long-running `workerlab dev` holds a bounded amount of history. Live readers (the
server-sent event streams) each get a bounded backlog; a reader that falls behind is told so and
starts again from the history, instead of holding memory for it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, SystemClock
from ..events import BatchDelivered, Event, EventBus, RequestServed
from .entries import ENTRY_OF, FATE_OF, FOLLOW_UP_OF, Document, batch_entry, message_ids, request_entry
from .request_ring import RequestRing, RequestRow

#: Entries the timeline keeps at most.
MAX_TIMELINE_EVENTS = 10_000
#: Bytes of serialized entries the timeline keeps at most (tracebacks make some entries large).
MAX_TIMELINE_BYTES = 16 * 1024 * 1024
#: Items a live reader may have waiting before it is told it fell behind.
MAX_LISTENER_BACKLOG = 1_000
#: Message fates waiting for their batch; more means no batch event is coming for the oldest.
MAX_PENDING_FATES = 10_000
#: What an entry costs beside its JSON text (the object, its tuple of ids, the deque slot).
_ENTRY_OVERHEAD_BYTES = 200


def _seq_of(item: Entry | RequestRow) -> int:
    return item.seq if isinstance(item, Entry) else item[0]


#: One encoder for every entry (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=repr)


class Entry:
    """One timeline entry: the fields readers filter on, and the document as JSON text.

    The text is written when a reader first asks for :attr:`json`, for every entry that may not be
    large: a busy worker serves many requests and runs many crons nobody looks at, and writing each
    one's text costs more than serving it. Until then the entry holds its request, or its document
    and time (:meth:`of_document`); an entry with an error or messages is written at once.
    """

    __slots__ = ("_pending", "_text", "kind", "level", "message_ids", "seq", "size_bytes", "worker")

    def __init__(
        self,
        seq: int,
        kind: str,
        worker: str,
        level: str,
        message_ids: tuple[str, ...],
        json: str | None,
        size_bytes: int,
        pending: tuple[int, Document | RequestServed] | None = None,
    ) -> None:
        self.seq = seq
        self.kind = kind
        self.worker = worker
        self.level = level
        self.message_ids = message_ids
        self._text = json
        #: What the text is written from when first asked for: (at_ms, a document or a request).
        self._pending = pending
        #: What the entry costs in memory (its JSON text or what it is written from, the object, its ids).
        self.size_bytes = size_bytes

    @classmethod
    def of_request(cls, row: RequestRow) -> Entry:
        """The entry of a request kept as a :data:`RequestRow`."""
        seq, at_s, worker, method, target, status, duration_ms = row
        level = "error" if status >= 500 else "info"
        served = RequestServed(worker, method, target, status, duration_ms)
        # The ring counts what a request costs.
        return cls(seq, "request", worker, level, (), None, 0, (round(at_s * 1000), served))

    @classmethod
    def of_document(cls, seq: int, at_ms: int, document: Document) -> Entry:
        """The entry of ``document`` (an entry builder's, without ``seq`` and ``at_ms``). Until it is
        written it counts as its dict and the characters of its strings (a document with no error and
        no messages holds only numbers and short strings)."""
        kind, worker, level = document["kind"], document.get("worker") or "", document.get("level", "info")
        ids = message_ids(document)
        if ids or document.get("error") is not None:  # may be large: written now, sized exactly
            text = _ENCODER.encode({"seq": seq, "at_ms": at_ms, **document})
            size = sys.getsizeof(text) + _ENTRY_OVERHEAD_BYTES + 80 * len(ids)
            return cls(seq, kind, worker, level, ids, text, size)
        strings = sum([len(value) for value in document.values() if type(value) is str])
        size = sys.getsizeof(document) + _ENTRY_OVERHEAD_BYTES + strings
        return cls(seq, kind, worker, level, ids, None, size, (at_ms, document))

    @property
    def json(self) -> str:
        text = self._text
        if text is None:
            assert self._pending is not None
            at_ms, item = self._pending
            document = request_entry(item) if isinstance(item, RequestServed) else item
            text = self._text = _ENCODER.encode({"seq": self.seq, "at_ms": at_ms, **document})
            self._pending = None
        return text

    def concerns(self, message_id: str) -> bool:
        return message_id in self.message_ids


@dataclass(frozen=True, slots=True)
class Changed:
    """A notice that what a page shows may have changed (``topics``: "queues", "storage", ...)."""

    topics: frozenset[str]


@dataclass(frozen=True, slots=True)
class FellBehind:
    """A notice that the reader missed items and should start again from the history."""


Item = Entry | Changed | FellBehind


class Listener:
    """A live reader of the timeline: the items since it started listening, in order."""

    def __init__(self, timeline: Timeline, max_backlog: int) -> None:
        self._timeline = timeline
        self._items: deque[Item] = deque()
        self._max_backlog = max_backlog
        self._ready = asyncio.Event()

    def push(self, item: Item) -> None:
        if len(self._items) >= self._max_backlog:
            self._items.clear()
            item = FellBehind()
        self._items.append(item)
        self._ready.set()

    async def next_items(self) -> list[Item]:
        """Wait until at least one item arrived; return all that did."""
        await self._ready.wait()
        self._ready.clear()
        items = list(self._items)
        self._items.clear()
        return items

    def close(self) -> None:
        self._timeline._stop_listening(self)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Timeline:
    """The session's events as entries, newest last, bounded in count and in bytes.

    Requests that went well, the busiest kind, are kept in a :class:`RequestRing` of ``max_events``
    (bounded by its size: each path is cut at ``MAX_TEXT_CHARS`` characters, as entries show it;
    under 6 MB when full at the default size). Every other entry goes to a deque of at most ``max_events``,
    trimmed when one is added so that it and the ring stay within ``max_bytes``. Readers see the
    newest ``max_events`` of the two, in order.
    """

    def __init__(
        self,
        *,
        max_events: int = MAX_TIMELINE_EVENTS,
        max_bytes: int = MAX_TIMELINE_BYTES,
        max_listener_backlog: int = MAX_LISTENER_BACKLOG,
    ) -> None:
        self._entries: deque[Entry] = deque()
        self._requests = RequestRing(max_events)
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._max_listener_backlog = max_listener_backlog
        self._entry_bytes = 0
        #: What the other entries may take without a look at what the requests take.
        self._max_bytes_beside_full_ring = max_bytes - self._requests.max_bytes
        self._clock: Clock = SystemClock()
        self._listeners: set[Listener] = set()
        self._fates: OrderedDict[str, tuple[Document, Document | None]] = OrderedDict()
        self._unsubscribe: Callable[[], None] | None = None

    # --- recording ---------------------------------------------------------------------------

    def attach(self, bus: EventBus, clock: Clock) -> None:
        """Record the events of ``bus`` (instead of the bus attached before), timed by ``clock``."""
        self.detach()
        self._clock = clock
        requests = self._requests
        requests.now_s = clock.now_s  # the wall clock's is time.time itself: no Python frame per request
        requests.on_failed = self._on_failed_request
        kinds = (*(kind for kind in ENTRY_OF if kind is not RequestServed), *FATE_OF, BatchDelivered)
        unsubscribe = bus.subscribe(self._on_event, *kinds)
        unsubscribe_requests = bus.subscribe(requests.record, RequestServed)  # the busiest: its own path

        def both() -> None:
            unsubscribe()
            unsubscribe_requests()

        self._unsubscribe = both

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is BatchDelivered:
            self._on_batch(event)  # type: ignore[arg-type]
            return
        fate_of = FATE_OF.get(kind)
        if fate_of is not None:
            # Told before the batch's own event: kept until it comes, then shown after it.
            message_id, fate = fate_of(event)
            follow_up = FOLLOW_UP_OF.get(kind)
            self._fates[message_id] = (fate, None if follow_up is None else follow_up(event))
            if len(self._fates) > MAX_PENDING_FATES:
                _, (_, orphan) = self._fates.popitem(last=False)
                if orphan is not None:
                    self.add(orphan)
            return
        self.add(ENTRY_OF[kind](event))

    def _on_failed_request(self, event: RequestServed) -> None:
        self.add(ENTRY_OF[RequestServed](event))  # with its error and traceback

    def _tell_newest_request(self) -> None:
        self._tell(Entry.of_request(self._requests.newest()))

    def _on_batch(self, event: BatchDelivered) -> None:
        fates: dict[str, Document] = {}
        follow_ups: list[Document] = []
        for message in event.messages:
            held = self._fates.pop(message.id, None)
            if held is not None:
                fates[message.id] = held[0]
                if held[1] is not None:
                    follow_ups.append(held[1])
        self.add(batch_entry(event, fates))
        for document in follow_ups:
            self.add(document)

    def add(self, document: Document) -> Entry:
        """Append an entry for ``document`` (it gets ``seq`` and ``at_ms``) and tell the live readers."""
        requests = self._requests
        requests.last_seq = seq = requests.last_seq + 1  # one sequence for every kind
        entry = Entry.of_document(seq, self._clock.now_ms(), document)
        self._append(entry)
        return entry

    def _append(self, entry: Entry) -> None:
        self._entries.append(entry)
        self._entry_bytes += entry.size_bytes
        self._trim()
        self._tell(entry)

    def _trim(self) -> None:
        entries = self._entries
        if len(entries) <= self._max_events and self._entry_bytes <= self._max_bytes_beside_full_ring:
            return  # within both bounds however full the ring of requests is
        requests_bytes = self._requests.bytes_used
        while entries and (
            len(entries) > self._max_events or self._entry_bytes + requests_bytes > self._max_bytes
        ):
            self._entry_bytes -= entries.popleft().size_bytes

    def _tell(self, entry: Entry) -> None:
        for listener in list(self._listeners):
            listener.push(entry)

    def changed(self, *topics: str) -> None:
        """Tell the live readers that what the pages of ``topics`` show may have changed."""
        notice = Changed(frozenset(topics))
        for listener in list(self._listeners):
            listener.push(notice)

    # --- reading -----------------------------------------------------------------------------

    def entries(self, *, after: int = 0, message: str | None = None, limit: int | None = None) -> list[Entry]:
        """Entries newer than ``after`` (those concerning ``message`` only), the last ``limit`` of them."""
        if (limit is not None and limit <= 0) or after >= self.latest_seq:
            return []
        stored: list[Entry | RequestRow] = [*self._entries, *self._requests.rows()]
        stored.sort(key=_seq_of)  # two runs already in order: one merge
        visible = stored[-self._max_events :]
        found = [item for item in visible if _seq_of(item) > after]
        if message is not None:  # a request concerns no message
            found = [item for item in found if isinstance(item, Entry) and item.concerns(message)]
        if limit is not None:
            found = found[-limit:]
        return [item if isinstance(item, Entry) else Entry.of_request(item) for item in found]

    def listen(self) -> Listener:
        """A live reader of the entries and notices from now on (close it when done)."""
        listener = Listener(self, self._max_listener_backlog)
        self._listeners.add(listener)
        self._requests.on_kept = self._tell_newest_request  # the ring tells only while someone listens
        return listener

    def _stop_listening(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        if not self._listeners:
            self._requests.on_kept = None

    @property
    def latest_seq(self) -> int:
        return self._requests.last_seq

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def __len__(self) -> int:
        return min(self._max_events, len(self._entries) + len(self._requests))

    @property
    def dropped(self) -> int:
        """Entries that fell off the front so far."""
        return self._requests.last_seq - len(self)

    @property
    def bytes_used(self) -> int:
        return self._entry_bytes + self._requests.bytes_used

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self),
            "bytes": self.bytes_used,
            "dropped": self.dropped,
            "max_events": self._max_events,
            "max_bytes": self._max_bytes,
        }
