"""The bindings a worker's ``env`` holds: one module per binding kind, listed in :mod:`.registry`.

Each kind module holds the kind's config spec, how it is opened and its ``env`` object (KV in
:mod:`.kv`, D1 in :mod:`.d1`, R2 in :mod:`.r2`, queue producers in :mod:`.queue`, services in
:mod:`.service`, ...). Their names are importable from here too, the module loaded on first use, so
that importing one kind never costs the others.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Names importable from ``workerlab.bindings`` -> the module that defines them.
_EXPORTS = {
    "D1DatabaseBinding": "d1",
    "D1DatabaseSession": "d1",
    "D1Error": "d1",
    "D1PreparedStatement": "d1",
    "D1TypeError": "d1",
    "JsObject": "results",
    "KVNamespaceBinding": "kv",
    "R2BucketBinding": "r2",
    "R2Object": "r2_objects",
    "R2ObjectBody": "r2_objects",
    "open_d1": "d1",
    "open_kv": "kv",
    "open_r2": "r2",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
