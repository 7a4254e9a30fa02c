"""The requests a timeline keeps: the last ``capacity`` of them, in columns allocated once.

A busy worker serves tens of thousands of requests a second, and the timeline keeps the last
10,000. Kept as a tuple each, a request would hold objects of its own (the tuple, its time and
duration, its sequence number) that are freed when it falls off the end, by then long out of
the processor's caches: that cost more than serving the request. The ring writes a request into
columns allocated once (numbers as raw machine values) and keeps one object per distinct path
and method (interned: a path many requests share is stored once), so keeping a request
allocates nothing and frees nothing cold.
"""

from __future__ import annotations

import sys
import time
from array import array
from collections.abc import Callable
from sys import intern

from ..events import RequestServed
from .entries import MAX_TEXT_CHARS, cut_text

#: What a slot of the ring costs beside its path: four numbers and three references.
SLOT_BYTES = 8 + 8 + 8 + 2 + 3 * 8

#: A request as the ring gives it back: seq, at_s, worker, method, target, status, duration_ms.
RequestRow = tuple[int, float, str, str, str, int, float]


class RequestRing:
    """The last ``capacity`` requests added, oldest overwritten first."""

    __slots__ = (
        "_at",
        "_duration",
        "_method",
        "_next",
        "_seq",
        "_status",
        "_target",
        "_target_bytes",
        "_worker",
        "added",
        "capacity",
        "last_seq",
        "now_s",
        "on_failed",
        "on_kept",
    )

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a request ring holds at least one request, not {capacity}")
        self.capacity = capacity
        #: The timeline's sequence numbers, one for each entry of any kind: the last one given.
        self.last_seq = 0
        #: The timeline's clock (seconds), and where a failed request goes (it becomes a full entry).
        self.now_s: Callable[[], float] = time.time
        self.on_failed: Callable[[RequestServed], None] | None = None
        #: Called after a request that went well is written (None: nobody reads live).
        self.on_kept: Callable[[], None] | None = None
        #: Requests added so far (the ring holds the last ``capacity`` of them).
        self.added = 0
        self._next = 0
        self._seq = array("q", bytes(8 * capacity))
        self._at = array("d", bytes(8 * capacity))
        self._duration = array("d", bytes(8 * capacity))
        self._status = array("H", bytes(2 * capacity))
        self._worker: list[str] = [""] * capacity
        self._method: list[str] = [""] * capacity
        self._target: list[str] = [""] * capacity
        self._target_bytes = 0

    def record(self, event: RequestServed) -> None:
        """The event bus's subscriber for requests (the busiest kind: one call each, nothing more):
        a request that went well is written here, a failed one goes to ``on_failed``."""
        if event.error is not None:
            if self.on_failed is not None:
                self.on_failed(event)
            return
        self.last_seq = seq = self.last_seq + 1
        target = event.target
        kept = intern(target if len(target) <= MAX_TEXT_CHARS else cut_text(target))  # as entries show it
        index = self._next
        self._next = index + 1 if index + 1 < self.capacity else 0
        self.added += 1
        targets = self._target
        self._target_bytes += len(kept) - len(targets[index])
        targets[index] = kept
        self._seq[index] = seq
        self._at[index] = self.now_s()
        self._duration[index] = event.duration_ms
        self._status[index] = event.status
        self._worker[index] = event.worker
        self._method[index] = intern(event.method)
        if self.on_kept is not None:
            self.on_kept()

    def __len__(self) -> int:
        return min(self.added, self.capacity)

    def newest(self) -> RequestRow:
        """The request added last (the ring must not be empty)."""
        return self._row((self._next - 1) % self.capacity)

    def _row(self, i: int) -> RequestRow:
        return (
            self._seq[i],
            self._at[i],
            self._worker[i],
            self._method[i],
            self._target[i],
            self._status[i],
            self._duration[i],
        )

    def rows(self) -> list[RequestRow]:
        """The requests kept, oldest first."""
        count = len(self)
        first = (self._next - count) % self.capacity
        return [self._row((first + offset) % self.capacity) for offset in range(count)]

    @property
    def bytes_used(self) -> int:
        """About what the requests kept cost (their slots and their paths)."""
        return len(self) * (SLOT_BYTES + sys.getsizeof("")) + self._target_bytes

    @property
    def max_bytes(self) -> int:
        """The most :attr:`bytes_used` can be: every slot full, every path as long as kept."""
        return self.capacity * (SLOT_BYTES + sys.getsizeof("") + MAX_TEXT_CHARS)
