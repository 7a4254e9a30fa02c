"""JS binary buffers (``ArrayBuffer``, ``Uint8Array``) as Python Workers code sees them.

Both are ``bytes`` subclasses, so that anything that takes bytes (a Response body, a binding
value) takes them too; they add the names Pyodide's ``JsBuffer`` has (``to_bytes()``,
``to_py()``...) and the JS ones (``byteLength``, ``slice()``, ``.buffer``).
"""

from __future__ import annotations

import builtins

from workerlab.compat.jsvalues import JsProxy


def _js_range(length: int, begin: int, end: int | None) -> tuple[int, int]:
    """JS ``slice(begin, end)`` bounds: negative values count from the end, both are clamped."""
    stop = length if end is None else end
    start = max(length + begin, 0) if begin < 0 else min(begin, length)
    stop = max(length + stop, 0) if stop < 0 else min(stop, length)
    return start, max(start, stop)


class _JsBuffer(JsProxy, bytes):
    __slots__ = ()

    @property
    def byteLength(self) -> int:
        return len(self)

    def to_bytes(self) -> builtins.bytes:
        """A copy as plain bytes."""
        return builtins.bytes(self)

    def to_memoryview(self) -> memoryview:
        return memoryview(self)

    def to_string(self, encoding: str | None = None) -> str:
        """The bytes decoded (UTF-8 unless ``encoding`` says otherwise)."""
        return builtins.bytes(self).decode(encoding or "utf-8")

    def _to_py(self) -> memoryview:
        return memoryview(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({builtins.bytes(self)!r})"


class JsArrayBuffer(_JsBuffer):
    """A JS ``ArrayBuffer``: what ``await request.buffer()`` and ``to_js(data).buffer`` give."""

    __slots__ = ()

    def slice(self, begin: int = 0, end: int | None = None) -> JsArrayBuffer:
        """A copy of bytes ``begin`` to ``end`` (JS semantics: negative indices count from the end)."""
        start, stop = _js_range(len(self), begin, end)
        return JsArrayBuffer(self[start:stop])


class JsUint8Array(_JsBuffer):
    """A JS ``Uint8Array``: what ``to_js(data)`` gives for bytes."""

    __slots__ = ()

    @property
    def buffer(self) -> JsArrayBuffer:
        """The ArrayBuffer under the array (exactly its bytes, as ``to_js`` makes a fresh one)."""
        return JsArrayBuffer(self)

    @property
    def length(self) -> int:
        return len(self)

    @property
    def byteOffset(self) -> int:
        return 0

    def slice(self, begin: int = 0, end: int | None = None) -> JsUint8Array:
        """A copy of elements ``begin`` to ``end`` (JS semantics)."""
        start, stop = _js_range(len(self), begin, end)
        return JsUint8Array(self[start:stop])

    subarray = slice
