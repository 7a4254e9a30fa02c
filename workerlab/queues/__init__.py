"""Cloudflare Queues, locally: producer binding, consumer batches, and a durable SQLite broker."""

from __future__ import annotations

from .broker import Broker, MessageRecord
from .codec import CONTENT_TYPES, decode_body, encode_body
from .history import QueueHistory, QueueView
from .message import Message, MessageBatch, QueueResult, RetryBatch, RetryMessage
from .message_ids import new_message_id
from .producer import QueueProducerBinding
from .store import QueueStore

__all__ = [
    "CONTENT_TYPES",
    "Broker",
    "Message",
    "MessageBatch",
    "MessageRecord",
    "QueueHistory",
    "QueueProducerBinding",
    "QueueResult",
    "QueueStore",
    "QueueView",
    "RetryBatch",
    "RetryMessage",
    "decode_body",
    "encode_body",
    "new_message_id",
]
