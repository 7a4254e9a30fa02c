"""Storage bindings (KV, D1, R2), persisted under the persist directory or kept in memory.

The runtime opens one object per configured binding and puts it in ``env``::

    env[ns.binding] = open_kv(ns, persist_dir, clock)
    env[db.binding] = open_d1(db, persist_dir, clock)
    env[bucket.binding] = open_r2(bucket, persist_dir, clock)

and calls ``close()`` on each when it shuts down. Each ``open_*`` also takes
``durable=True`` (``workerlab dev --durable``: SQLite ``synchronous=FULL``, blob files fsynced).
"""

from __future__ import annotations

from .d1 import D1DatabaseBinding, D1DatabaseSession, D1Error, D1PreparedStatement, D1TypeError, open_d1
from .kv import KVNamespaceBinding, open_kv
from .r2 import R2BucketBinding, open_r2
from .r2_objects import R2Object, R2ObjectBody
from .results import JsObject

__all__ = [
    "D1DatabaseBinding",
    "D1DatabaseSession",
    "D1Error",
    "D1PreparedStatement",
    "D1TypeError",
    "JsObject",
    "KVNamespaceBinding",
    "R2BucketBinding",
    "R2Object",
    "R2ObjectBody",
    "open_d1",
    "open_kv",
    "open_r2",
]
