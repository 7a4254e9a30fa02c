"""HTTP pull consumers, as the queue engine sees them: leases with a visibility timeout, acks, retries.

A pulled message stays in the store, unowned, with its ``ready_ms`` moved to the end of its
lease: nobody else receives it until then, and if it is neither acked nor retried by then it
is simply ready again, its attempt already counted. No process has to be alive for that, so
leases survive a kill -9 of the server that gave them. The lease id names the row, the message
and the attempt, so an ack arriving after the lease ran out is still honoured (as Cloudflare
does), and a retry is applied only while no later pull holds the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import QueueConsumer
from ..errors import QueueError
from . import failures
from .store import MESSAGE_COLUMNS, StoredMessage, json_list

if TYPE_CHECKING:
    from .store import QueueStore

#: Content types a pull can hand out (Cloudflare: v8 is for Workers only).
PULLABLE_CONTENT_TYPES = frozenset({"json", "text", "bytes"})

_LEASE_ID = re.compile(r"^([0-9a-f]{1,16})-([0-9a-f]{1,8})-([0-9a-f]{32})$")
_WAITING = f"""
SELECT {MESSAGE_COLUMNS}, source FROM messages
WHERE queue = ? AND owner IS NULL AND ready_ms <= ? ORDER BY ready_ms, seq LIMIT ?
"""
_LEASE = """
UPDATE messages SET attempts = attempts + 1, ready_ms = ?1, lease_ms = ?1
WHERE seq IN (SELECT value FROM json_each(?2))
"""
_FIND = "SELECT seq, id, queue, attempts, owner FROM messages WHERE seq IN (SELECT value FROM json_each(?))"


class QueueDeliveryPaused(QueueError):
    """The queue is paused: nothing can be pulled until it is resumed."""

    code = "queue_delivery_paused"


@dataclass(frozen=True)
class Pulled:
    """A message handed to a pull consumer, until ``lease_id`` is acked or retried (or runs out)."""

    id: str
    timestamp_ms: int
    attempts: int
    content_type: str
    body: bytes
    lease_id: str
    #: Where it was sent from: ``"worker"`` (a producer binding) or ``"api"`` (HTTP publish).
    source: str


@dataclass(frozen=True)
class Failed:
    """A message that left its queue without being delivered: moved to ``dead_letter_queue``, or
    dropped when that is None."""

    message: StoredMessage
    queue: str
    dead_letter_queue: str | None
    reason: str


@dataclass
class PullResult:
    messages: list[Pulled] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    expired: int = 0


@dataclass
class AckResult:
    ack_count: int = 0
    retry_count: int = 0
    #: lease id -> why it changed nothing.
    warnings: dict[str, str] = field(default_factory=dict)
    failed: list[Failed] = field(default_factory=list)


def lease_id(seq: int, attempts: int, message_id: str) -> str:
    return f"{seq:x}-{attempts:x}-{message_id}"


def parse_lease_id(value: str) -> tuple[int, int, str] | None:
    """``(seq, attempts, message id)`` of a lease id this module made, else None."""
    match = _LEASE_ID.match(value)
    if match is None:
        return None
    return int(match[1], 16), int(match[2], 16), match[3]


def pull(
    store: QueueStore,
    consumer: QueueConsumer,
    *,
    batch_size: int,
    visibility_timeout_ms: int,
    now_ms: int,
) -> PullResult:
    """Lease up to ``batch_size`` ready messages of ``consumer.queue`` for ``visibility_timeout_ms``,
    oldest first, in one transaction. On the way, messages past the retention period are removed
    (counted as expired), and messages that can no longer be delivered leave for the dead-letter
    queue or the dropped list: those whose attempts ran out (leases that expired count), and v8
    messages, which no pull consumer can decode."""
    queue = consumer.queue
    db = store.connection
    result = PullResult()
    lease_until_ms = now_ms + visibility_timeout_ms
    expire_before_ms = now_ms - consumer.message_retention_period_s * 1000
    with store.transaction():
        if queue in store.paused_queues():
            raise QueueDeliveryPaused(
                f'queue_delivery_paused: delivery of queue "{queue}" is paused; '
                f"resume it with `workerlab queues resume {queue}`"
            )
        while len(result.messages) < batch_size:
            wanted = batch_size - len(result.messages)
            rows = db.execute(_WAITING, (queue, now_ms, wanted)).fetchall()
            if not rows:
                break
            db.execute(_LEASE, (lease_until_ms, json_list(row[1] for row in rows)))
            expired: list[int] = []
            for row in rows:
                ready_ms, seq, message_id, timestamp_ms, content_type, body, attempts, _ = row
                message = StoredMessage(
                    ready_ms, seq, message_id, timestamp_ms, content_type, body, attempts + 1
                )
                if message.timestamp_ms < expire_before_ms:
                    expired.append(message.seq)
                elif message.attempts > consumer.max_retries + 1:
                    # Not delivered after all: the failed attempts are those before this pull.
                    spent = message._replace(attempts=attempts)
                    result.failed.append(_fail(store, consumer, spent, now_ms, "its attempts ran out"))
                elif message.content_type not in PULLABLE_CONTENT_TYPES:
                    reason = f"a {message.content_type} message cannot be pulled (send json, text or bytes)"
                    result.failed.append(_fail(store, consumer, message, now_ms, reason))
                else:
                    lease = lease_id(message.seq, message.attempts, message.id)
                    result.messages.append(
                        Pulled(
                            message.id,
                            message.timestamp_ms,
                            message.attempts,
                            message.content_type,
                            message.body,
                            lease,
                            row[7] or "worker",
                        )
                    )
            if expired:
                result.expired += store.remove_expired(queue, expired)
            if len(rows) < wanted:
                break
    return result


def ack(
    store: QueueStore,
    consumer: QueueConsumer,
    *,
    acks: Sequence[str],
    retries: Sequence[tuple[str, int | None]],
    now_ms: int,
) -> AckResult:
    """Ack and retry pulled messages of ``consumer.queue`` by lease id, in one transaction.

    An ack deletes the message even after its lease ran out, also when another pull holds it now.
    A retry puts it back, ready after its delay (None: the consumer's ``retry_delay``), unless a
    later pull holds it; a message whose attempts ran out leaves for the dead-letter queue (or
    the dropped list). What changed nothing is explained in ``warnings``.
    """
    queue = consumer.queue
    db = store.connection
    result = AckResult()
    parsed = {value: parse_lease_id(value) for value in [*acks, *(lease for lease, _ in retries)]}
    for value, lease in parsed.items():
        if lease is None:
            result.warnings[value] = "not a lease id this server gave out"
    with store.transaction():
        wanted = {lease[0] for lease in parsed.values() if lease is not None}
        rows = {row[0]: row for row in db.execute(_FIND, (json_list(wanted),)).fetchall()}

        def held(value: str) -> tuple[int, int, int] | None:
            """``(seq, lease attempts, stored attempts)`` when the lease names a row of this queue."""
            lease = parsed[value]
            if lease is None:
                return None
            row = rows.get(lease[0])
            if row is None or row[1] != lease[2]:
                result.warnings[value] = "the message is no longer in the queue (acked, expired or purged)"
                return None
            if row[2] != queue:
                result.warnings[value] = f'the message is in queue "{row[2]}" now, not "{queue}"'
                return None
            if row[4] is not None:
                result.warnings[value] = "the message is in flight to a Worker consumer"
                return None
            return lease[0], lease[1], row[3]

        acked = [found[0] for value in acks if (found := held(value)) is not None]
        if acked:
            gone = store.remove_acked(queue, acked)
            result.ack_count = gone
            for seq in acked:
                rows.pop(seq, None)
        for value, delay_s in retries:
            found = held(value)
            if found is None:
                continue
            seq, lease_attempts, attempts = found
            if attempts != lease_attempts:
                result.warnings[value] = "the lease ran out and the message was pulled again since"
                continue
            message = store.row(seq)
            if message is None:
                continue
            if attempts > consumer.max_retries:
                result.failed.append(_fail(store, consumer, message, now_ms, "its attempts ran out"))
            else:
                delay_s = consumer.retry_delay_s if delay_s is None else delay_s
                db.execute(
                    "UPDATE messages SET ready_ms = ?, lease_ms = NULL WHERE seq = ?",
                    (now_ms + 1000 * delay_s, seq),
                )
            result.retry_count += 1
    return result


def _fail(
    store: QueueStore, consumer: QueueConsumer, message: StoredMessage, now_ms: int, reason: str
) -> Failed:
    """Move ``message`` to the dead-letter queue (or the dropped list), inside the caller's transaction."""
    dlq = consumer.dead_letter_queue
    if dlq:
        failures.move_to_dead_letters(store.connection, dlq, now_ms, message.seq)
    else:
        failures.drop(store.connection, consumer.queue, message.seq)
    return Failed(message, consumer.queue, dlq, reason)
