"""Cloudflare Durable Objects, locally: namespaces, stubs, per-object SQLite storage and alarms.

The wiring makes one :class:`DurableObjects` per session, adds its ``alarms`` time source to the
session's timers, checks each binding's class with :func:`durable_object_class` and puts
``engine.namespace(...)`` on ``env``. The harness functions mirror ``cloudflare:test``.
"""

from __future__ import annotations

from .alarms import AlarmInvocationInfo
from .engine import DurableObjects, durable_object_class
from .harness import list_durable_object_ids, run_durable_object_alarm, run_in_durable_object
from .ids import DurableObjectId
from .namespace import DurableObjectNamespace, DurableObjectStub
from .sql import SqlStorage, SqlStorageCursor
from .state import DurableObjectState
from .storage import DurableObjectStorage, StorageKind

__all__ = [
    "AlarmInvocationInfo",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectState",
    "DurableObjectStorage",
    "DurableObjectStub",
    "DurableObjects",
    "SqlStorage",
    "SqlStorageCursor",
    "StorageKind",
    "durable_object_class",
    "list_durable_object_ids",
    "run_durable_object_alarm",
    "run_in_durable_object",
]
