"""``workers.python_to_rpc`` and ``workers.python_from_rpc``, locally.

On Cloudflare they convert between Python values and the JS values RPC carries. Locally RPC
carries Python values (by structured clone), so the conversions keep Python types and keep the
SDK's rules that code can notice: what cannot be sent is refused before sending, dicts coming
back allow attribute access, null becomes None and binary data comes back as a memoryview.
"""

from __future__ import annotations

import inspect
from typing import Any

from workerlab.compat.buffers import _JsBuffer
from workerlab.compat.ffi import JsMap, JsNull
from workerlab.compat.jsvalues import JsArray, JsObject, JsProxy


def _refuse(value: Any) -> None:
    """Raise TypeError for what Cloudflare's SDK refuses to send over RPC (nested too)."""
    if isinstance(value, JsProxy) and not isinstance(value, JsObject | JsArray):
        return
    if callable(value) and not isinstance(value, type):
        return
    if isinstance(value, tuple | bytearray):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    if inspect.isawaitable(value):
        raise TypeError(f"Awaitable {type(value)} cannot be sent over RPC.")
    if isinstance(value, dict):
        for item in value.values():
            _refuse(item)
    elif isinstance(value, list | set | frozenset):
        for item in value:
            _refuse(item)


def python_to_rpc(value: Any) -> Any:
    """``value`` checked for sending over RPC: tuples, bytearrays and awaitables (anywhere in it)
    are a ``TypeError``, as in Cloudflare's SDK. ``None`` (JS null) and the rest pass unchanged."""
    if isinstance(value, JsNull):
        return None
    _refuse(value)
    return value


def python_from_rpc(value: Any) -> Any:
    """``value`` as Cloudflare's SDK hands RPC results to Python: dicts with attribute access
    (recursively), lists, ``None`` for null, a memoryview for binary data."""
    if value is None or isinstance(value, JsNull):
        return None
    if isinstance(value, JsMap):  # a JS Map comes back as a plain dict
        return {key: python_from_rpc(item) for key, item in value.items()}
    if isinstance(value, dict):
        return JsObject((key, python_from_rpc(item)) for key, item in value.items())
    if isinstance(value, list):
        return [python_from_rpc(item) for item in value]
    if isinstance(value, _JsBuffer):
        return memoryview(value)
    return value
