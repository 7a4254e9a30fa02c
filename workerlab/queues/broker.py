"""The broker: batching, dispatch, ack/retry resolution, dead letters, and the delivery loop.

Delivery follows Cloudflare Queues: a batch goes out when ``max_batch_size`` messages are
ready or ``max_batch_timeout`` seconds after the first ready one arrived (the timer does not
slide), oldest first, with at most ``max_concurrency`` batches of a queue in flight. The
broker keeps no copy of the backlog: every decision is a small indexed query on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import limits
from ..clock import Clock, utc_from_ms
from ..config import QueueConsumer
from ..context import Outcome
from ..errors import ConfigError
from ..events import BatchDelivered, EventBus, MessageDeadLettered, MessageDropped, MessageRetried
from ..loglines import logging_bus
from .codec import decode_body, decode_for_worker
from .leases import LeaseKeeper
from .message import Message, MessageBatch, Resolution, resolve
from .metrics import queue_metrics
from .producer import HttpPublisher, QueueProducerBinding
from .store import QueueStore, StoredMessage

logger = logging.getLogger("workerlab")

Dispatch = Callable[[MessageBatch], Awaitable[tuple[Outcome, BaseException | None]]]

#: How often the delivery loop looks for messages sent by other processes (pickup within 100 ms).
POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class MessageRecord:
    """A message as the harness and the inspector show it; ``attempts`` counts its deliveries so far."""

    id: str
    body: Any
    attempts: int
    timestamp: datetime


class Broker:
    """Delivers the messages of every queue that has a Worker consumer to ``dispatch``, by Cloudflare's rules.

    ``dispatch`` runs the user's handler on a batch and returns ``("ok", None)`` or
    ``("exception", error)`` once the event's waitUntil work is done. What happens to each
    batch and message is told as events on ``bus`` (``workers`` names each queue's consumer).
    ``consumers`` may include ``http_pull`` ones: their settings are kept for the pull API, and
    nothing is pushed to them; so are those of the ``idle`` consumers, whose worker has no queue
    handler. Paused queues deliver nothing until resumed. The broker is the
    session's time source of kind ``"queues"``.
    """

    kind = "queues"

    def __init__(
        self,
        store: QueueStore,
        clock: Clock,
        consumers: Mapping[str, QueueConsumer],
        dispatch: Dispatch,
        *,
        bus: EventBus | None = None,
        workers: Mapping[str, str] | None = None,
        idle: Iterable[QueueConsumer] = (),
    ) -> None:
        settings = dict(consumers)
        for consumer in idle:
            settings.setdefault(consumer.queue, consumer)
        for queue, consumer in settings.items():
            if consumer.dead_letter_queue == queue:
                raise ConfigError(
                    f'queue consumer "{queue}": dead_letter_queue must name another queue, got "{queue}"'
                )
        self._store = store
        self._clock = clock
        self._settings = settings
        self._consumers = {queue: c for queue, c in consumers.items() if c.type == "worker"}
        self._dispatch = dispatch
        self._bus = bus or logging_bus()
        self._workers = dict(workers or {})
        self._keeper = LeaseKeeper(store)
        store.on_change(self.wake)
        self._in_flight = dict.fromkeys(self._consumers, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._wake_loop: asyncio.AbstractEventLoop | None = None  # where run() waits, and its thread
        self._wake_thread = 0
        # The real-time loop's last look at the store's data version, and the paused queues then.
        self._seen_version: int | None = None
        self._paused_key: tuple[int, int] | None = None
        self._paused_set: frozenset[str] = frozenset()
        self._closing = False
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def store(self) -> QueueStore:
        return self._store

    @property
    def owner(self) -> str:
        """This broker's lease owner id in the store."""
        return self._keeper.owner

    def producer(self, queue: str, *, delivery_delay_s: int = 0) -> QueueProducerBinding:
        """The ``env.<BINDING>`` object for a producer of ``queue``."""
        return QueueProducerBinding(
            queue,
            self._store,
            self._clock,
            self._on_sent,
            delivery_delay_s=delivery_delay_s,
            settings=self.settings,
        )

    def publisher(self, queue: str) -> HttpPublisher:
        """The sender of messages published to ``queue`` over the HTTP API."""
        return HttpPublisher(
            queue, self._store, self._clock, self._on_sent, settings=self.settings, source="api"
        )

    def settings(self, queue: str) -> QueueConsumer:
        """The consumer settings of ``queue`` (Cloudflare's defaults when it has no consumer)."""
        found = self._settings.get(queue)
        return found if found is not None else QueueConsumer(queue)

    def wake(self) -> None:
        """Look at the queues again now (after a resume, a redrive, a publish in this process). Safe
        from any thread: a change made while waiting for another process's lock ends in a thread."""
        wake, loop = self._wake, self._wake_loop
        if wake is None or loop is None:
            return
        if threading.get_ident() == self._wake_thread:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    def _on_sent(self, queue: str) -> None:
        if self._wake is not None and queue in self._consumers:
            self._wake.set()

    # --- scheduling ------------------------------------------------------------------------

    def _due_ms(self, queue: str, consumer: QueueConsumer, now_ms: int | None = None) -> int | None:
        """When the next batch of ``queue`` goes out: max_batch_size ready, or the timeout after
        the first ready message arrived, whichever is first. With ``now_ms``, any time not after
        it may stand for "due now" (saves a query)."""
        first_ms = self._store.waiting_ready_ms(queue, 0)
        if first_ms is None:
            return None
        due_ms = first_ms + round(consumer.max_batch_timeout_s * 1000)
        if now_ms is not None and due_ms <= now_ms:
            return due_ms
        if due_ms > first_ms and consumer.max_batch_size > 1:
            full_ms = self._store.waiting_ready_ms(queue, consumer.max_batch_size - 1)
            if full_ms is not None and full_ms < due_ms:
                due_ms = full_ms
        return due_ms

    def _next_due_ms(self) -> int | None:
        paused = self._paused()
        due = [
            d
            for queue, consumer in self._consumers.items()
            if self._in_flight[queue] < consumer.max_concurrency
            and queue not in paused
            and (d := self._due_ms(queue, consumer)) is not None
        ]
        return min(due, default=None)

    def next_due_s(self) -> float | None:
        """The earliest clock time (epoch s) at which a batch could go out; None when nothing waits."""
        due_ms = self._next_due_ms()
        return None if due_ms is None else due_ms / 1000

    async def _start_due(self, now_ms: int) -> int | None:
        """Claim and start every batch due at ``now_ms`` that a free concurrency slot allows; return
        when the next batch of a queue with a free slot comes due (None: nothing waits)."""
        if self._closing:
            return None
        await self._keeper.start()
        next_due_ms: int | None = None
        paused = self._paused()
        for queue, consumer in self._consumers.items():
            while self._in_flight[queue] < consumer.max_concurrency and queue not in paused:
                due_ms = self._due_ms(queue, consumer, now_ms)
                if due_ms is not None and due_ms <= now_ms:
                    rows = await self._claim(queue, consumer, now_ms)
                    if rows:
                        self._start_batch(queue, consumer, rows)
                        continue
                    if rows is None:
                        continue  # only expired messages came: look again
                    due_ms = None  # another process took them first
                if due_ms is not None and (next_due_ms is None or due_ms < next_due_ms):
                    next_due_ms = due_ms
                break
        return next_due_ms

    def _paused(self) -> frozenset[str]:
        """The paused queues. The real-time loop reads them again only when the store changed
        (another process committed, or this one paused or resumed a queue); otherwise every time."""
        version = self._seen_version
        if version is None:
            return self._store.paused_queues()
        key = (version, self._store.state_generation)
        if key != self._paused_key:
            self._paused_set, self._paused_key = self._store.paused_queues(), key
        return self._paused_set

    async def _claim(self, queue: str, consumer: QueueConsumer, now_ms: int) -> list[StoredMessage] | None:
        """Lease the next batch of ``queue``; None when every message claimed had expired instead."""
        store = self._store
        expire_before_ms = now_ms - consumer.message_retention_period_s * 1000
        claim = await store.run(
            store.claim_batch,
            queue,
            self._keeper.owner,
            now_ms,
            consumer.max_batch_size,
            expire_before_ms=expire_before_ms,
        )
        if claim.expired:
            logger.info(
                'Removed %d message(s) of queue "%s" older than its retention period (%d s) without delivery',
                len(claim.expired),
                queue,
                consumer.message_retention_period_s,
            )
            if not claim.rows:
                return None
        return claim.rows

    def _start_batch(self, queue: str, consumer: QueueConsumer, rows: list[StoredMessage]) -> None:
        self._in_flight[queue] += 1
        task = asyncio.create_task(self._deliver(queue, consumer, rows), name=f"workerlab-queue-{queue}")
        self._tasks.add(task)
        task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            logger.error("Queue delivery failed", exc_info=error)
        if self._wake is not None:
            self._wake.set()

    # --- one batch -------------------------------------------------------------------------

    async def _deliver(self, queue: str, consumer: QueueConsumer, rows: list[StoredMessage]) -> None:
        started = time.perf_counter()
        outcome: Outcome = "exception"
        error: BaseException | None = None
        try:
            batch, records, undecodable = self._batch(queue, rows)
            resolution = Resolution([], [])
            if batch.messages:
                try:
                    resolution, outcome, error = await self._run_batch(batch)
                except asyncio.CancelledError:
                    # Shutting down mid-batch: hand the rows back now rather than waiting for lease recovery.
                    self._store.release(self._keeper.owner, [r.seq for r in rows])
                    raise
            else:
                outcome = "ok"
            outcome_of_rows = resolution
            if undecodable:  # the batch's indexes skip the undecodable rows: map them back
                placed = [index for index in range(len(rows)) if index not in undecodable]
                outcome_of_rows = Resolution(
                    [placed[i] for i in resolution.acked], [(placed[i], d) for i, d in resolution.retried]
                )
            try:
                await self._settle(queue, consumer, rows, records, outcome_of_rows, undecodable)
            except sqlite3.Error as failure:
                logger.error(
                    "Queue %r: could not record a batch's outcome (%s); its messages will be delivered again",
                    queue,
                    failure,
                )
                with contextlib.suppress(sqlite3.Error):
                    self._store.release(self._keeper.owner, [r.seq for r in rows])
                return
        finally:
            self._in_flight[queue] -= 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        messages = [*batch.messages, *(records[index] for index in undecodable)]
        self._bus.emit(
            BatchDelivered(
                self._workers.get(queue, ""), queue, messages, resolution.acked, outcome, error, elapsed_ms
            )
        )

    def _batch(self, queue: str, rows: list[StoredMessage]) -> tuple[MessageBatch, list[Any], list[int]]:
        """The batch of the rows that decode; what to tell of each row (its message, or its stored
        record when it did not decode); and the indexes of the rows that did not."""
        store = self._store
        batch = MessageBatch(
            queue, metrics=lambda: queue_metrics(store, queue, min(r.timestamp_ms for r in rows)).for_worker()
        )
        try:
            # As the platform hands bodies to Python Workers: dicts with attribute access and to_py().
            batch.messages = [
                Message(batch, r.id, r.timestamp_ms, decode_for_worker(r.body, r.content_type), r.attempts)
                for r in rows
            ]
            return batch, batch.messages, []
        except ValueError:
            pass  # only a store written by something else gets here: each message fails alone
        records: list[Any] = []
        undecodable = []
        for index, row in enumerate(rows):
            try:
                body = decode_for_worker(row.body, row.content_type)
            except ValueError as problem:
                logger.error(
                    'Queue "%s": message "%s" cannot be decoded (%s); it fails without being delivered',
                    queue,
                    row.id,
                    problem,
                )
                undecodable.append(index)
                records.append(stored_record(row))
                continue
            message = Message(batch, row.id, row.timestamp_ms, body, row.attempts)
            batch.messages.append(message)
            records.append(message)
        return batch, records, undecodable

    async def _run_batch(self, batch: MessageBatch) -> tuple[Resolution, Outcome, BaseException | None]:
        try:
            outcome, error = await self._dispatch(batch)
        except Exception as raised:
            logger.error("Queue %r: dispatching a batch failed", batch.queue, exc_info=raised)
            outcome, error = "exception", raised
        if outcome == "ok" and batch._untouched():
            return Resolution(list(range(len(batch.messages))), []), outcome, error
        return resolve(batch._result(outcome, error), [m.id for m in batch.messages]), outcome, error

    async def _settle(
        self,
        queue: str,
        consumer: QueueConsumer,
        rows: list[StoredMessage],
        records: Sequence[Any],
        resolution: Resolution,
        undecodable: list[int],
    ) -> None:
        """Record what happened to each row (indexes into ``rows``, told as ``records``):
        ``undecodable`` rows leave the queue whatever their attempts, the others that were retried
        once their attempts ran out."""
        now_ms = self._clock.now_ms()
        failed = list(undecodable)
        retried: list[tuple[int, int]] = []
        retried_rows: list[tuple[StoredMessage, int]] = []
        for index, delay_s in resolution.retried:
            row = rows[index]
            if row.attempts > consumer.max_retries:
                failed.append(index)
            else:
                delay_s = consumer.retry_delay_s if delay_s is None else delay_s
                retried.append((now_ms + 1000 * delay_s, row.seq))
                retried_rows.append((row, delay_s))
        dlq = consumer.dead_letter_queue
        await self._store.run(
            self._store.settle,
            self._keeper.owner,
            queue=queue,
            acked=[rows[i].seq for i in resolution.acked],
            acked_bytes=sum(map(len, [rows[i].body for i in resolution.acked])),
            retried=retried,
            dead_lettered=[(dlq, now_ms, rows[i].seq) for i in failed] if dlq else (),
            dropped=[] if dlq else [(queue, rows[i].seq) for i in failed],
        )
        bus = self._bus
        for index in failed:
            row = rows[index]
            if dlq:
                bus.emit(MessageDeadLettered(queue, dlq, records[index], row.attempts))
            else:
                bus.emit(MessageDropped(queue, records[index], row.attempts))
        if failed and dlq and dlq in self._consumers:
            self.wake()
        if retried_rows and bus.wants(MessageRetried):
            for row, delay_s in retried_rows:
                bus.emit(MessageRetried(queue, row.id, row.attempts, delay_s))

    # --- driving ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver batches as they come due on the real clock until :meth:`close` (``workerlab dev``).

        Wakes at once on sends from this process and on finished batches, and polls the store
        every ``POLL_INTERVAL_S`` for messages from other processes.
        """
        if self._closing:
            return
        self._loop_task = asyncio.current_task()
        wake = self._wake = asyncio.Event()
        self._wake_loop, self._wake_thread = asyncio.get_running_loop(), threading.get_ident()
        await self._keeper.start()
        loop = asyncio.get_running_loop()
        seen_version: int | None = self._store.data_version()
        self._seen_version = seen_version
        next_due_ms: int | None = None
        dirty = True
        while not self._closing:
            now_ms = self._clock.now_ms()
            try:
                if dirty or (next_due_ms is not None and next_due_ms <= now_ms):
                    wake.clear()
                    next_due_ms = await self._start_due(now_ms)
            except sqlite3.Error as error:
                # Another process may hold the database longer than the busy timeout: try again later.
                logger.warning("Queue store unavailable (%s); retrying", error)
                next_due_ms = None
            timeout_s = POLL_INTERVAL_S
            if next_due_ms is not None:
                timeout_s = min(timeout_s, max(0.0, (next_due_ms - now_ms) / 1000))
            try:
                async with asyncio.timeout_at(loop.time() + timeout_s):
                    await wake.wait()
            except TimeoutError:
                pass
            try:
                version = self._store.data_version()
            except sqlite3.Error:
                version = None
            dirty = wake.is_set() or version is None or version != seen_version
            seen_version = self._seen_version = version

    async def run_due(self) -> None:
        """Deliver every batch due at the clock's now, and wait for them (and for any that come due
        meanwhile at the same now, such as retries with no delay and no batch timeout)."""
        while True:
            await self._start_due(self._clock.now_ms())
            if not self._tasks:
                return
            done, _ = await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    async def close(self, *, grace_s: float | None = limits.WAIT_UNTIL_GRACE_S) -> None:
        """Stop the loop, wait (up to ``grace_s``) for the batches in flight, and give back this
        process's leases; a batch still running after the grace is cancelled and delivered again later."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._loop_task is not None and self._loop_task is not asyncio.current_task():
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._tasks:
            _, stuck = await asyncio.wait(set(self._tasks), timeout=grace_s)
            if stuck:
                logger.warning(
                    "Cancelling %d queue batch(es) still running after %s s;"
                    " their messages will be delivered again",
                    len(stuck),
                    grace_s,
                )
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*stuck, return_exceptions=True)
        self._keeper.stop()

    # --- inspecting ------------------------------------------------------------------------

    def pending(self, queue: str) -> list[MessageRecord]:
        """The messages of ``queue`` not yet acked (ready, delayed or in flight), in delivery order."""
        return [stored_record(row) for row in self._store.pending(queue)]

    def dropped(self, queue: str) -> list[MessageRecord]:
        """The last messages dropped from ``queue`` (failed, with no dead-letter queue)."""
        return [stored_record(row) for row in self._store.dropped(queue)]


def stored_record(row: StoredMessage) -> MessageRecord:
    """A stored message as the inspector shows it (a body its content type cannot decode stays raw)."""
    try:
        body = decode_body(row.body, row.content_type)
    except ValueError:
        body = row.body
    return MessageRecord(row.id, body, row.attempts, utc_from_ms(row.timestamp_ms))
