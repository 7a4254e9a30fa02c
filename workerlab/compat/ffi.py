"""``pyodide.ffi``: how Python Workers code moves values to and from JavaScript.

Locally every value is already Python, so the JS side is played by small Python types:
:class:`~workerlab.compat.jsvalues.JsObject` (a JS object), ``JsArray``, :class:`JsMap`,
:class:`JsSet` and the JS buffers of :mod:`workerlab.compat.buffers`. :func:`to_js` converts as
Pyodide does, pitfalls included: a dict without ``dict_converter`` becomes a Map, which
``JSON.stringify`` writes as ``{}`` and which has no attribute access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array, _JsBuffer
from workerlab.compat.jsvalues import JsArray, JsObject, JsProxy
from workerlab.compat.sync import can_run_sync, run_sync

JsBuffer = _JsBuffer

__all__ = [
    "JsArray",
    "JsArrayBuffer",
    "JsBuffer",
    "JsDoubleProxy",
    "JsException",
    "JsMap",
    "JsNull",
    "JsObject",
    "JsProxy",
    "JsSet",
    "JsUint8Array",
    "can_run_sync",
    "create_once_callable",
    "create_proxy",
    "destroy_proxies",
    "jsnull",
    "run_sync",
    "to_js",
]


class JsNull:
    """The type of :data:`jsnull`, JavaScript's ``null`` (``None`` stands for ``undefined``)."""

    __slots__ = ()
    _instance: JsNull | None = None

    def __new__(cls) -> JsNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"


#: JavaScript's ``null``.
jsnull = JsNull()


class JsException(JsProxy, Exception):
    """A JavaScript error raised into Python: ``JsException(message)`` or ``JsException(name, message)``.

    ``str()`` is ``"<name>: <message>"`` as on Cloudflare.
    """

    def __init__(self, name_or_message: str = "", message: str | None = None) -> None:
        if message is None:
            name, message = "Error", name_or_message
        else:
            name = name_or_message
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.stack = f"{name}: {message}"


class JsMap(JsProxy, dict[Any, Any]):
    """A JS ``Map``: what ``to_js(dict)`` gives without ``dict_converter`` (no attribute access)."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return len(self)

    def has(self, key: Any) -> bool:
        return key in self

    def set(self, key: Any, value: Any) -> JsMap:
        self[key] = value
        return self

    def delete(self, key: Any) -> bool:
        return self.pop(key, _MISSING) is not _MISSING


class JsSet(JsProxy, set[Any]):
    """A JS ``Set``: what ``to_js(set)`` gives."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return len(self)

    def has(self, value: Any) -> bool:
        return value in self

    def delete(self, value: Any) -> bool:
        present = value in self
        self.discard(value)
        return present

    def _to_py(self) -> set[Any]:
        return set(self)


_MISSING: Any = object()


class JsDoubleProxy(JsProxy):
    """What :func:`create_proxy` returns: calls and attributes reach the wrapped object until
    ``destroy()``; after that, using it raises as on Cloudflare."""

    __slots__ = ("_destroyed", "_once", "_target")

    def __init__(self, target: Any, *, once: bool = False) -> None:
        self._target = target
        self._destroyed = False
        self._once = once

    def _live_target(self) -> Any:
        if self._destroyed:
            raise JsException("Error", "Object has already been destroyed")
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        target = self._live_target()
        if self._once:
            self._destroyed = True
        return target(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._live_target(), name)

    def destroy(self) -> None:
        """Release the proxy; the wrapped object is untouched."""
        self._destroyed = True

    def unwrap(self) -> Any:
        """The wrapped Python object."""
        return self._live_target()

    def getBuffer(self, type: str = "u8") -> _ProxyBuffer:
        """The wrapped bytes-like object's data, as ``pyproxy.getBuffer()`` gives it to JS."""
        return _ProxyBuffer(JsUint8Array(bytes(self._live_target())))


class _ProxyBuffer:
    __slots__ = ("data",)

    def __init__(self, data: JsUint8Array) -> None:
        self.data = data

    def release(self) -> None:
        pass


def create_proxy(obj: Any, *, capture_this: bool = False, roundtrip: bool = True) -> JsDoubleProxy:
    """A proxy of ``obj`` that JS code may keep after the call, until ``destroy()``."""
    return JsDoubleProxy(obj)


def create_once_callable(obj: Callable[..., Any], *, _may_syncify: bool = False) -> JsDoubleProxy:
    """A proxy of ``obj`` that can be called once; it is destroyed by that call."""
    return JsDoubleProxy(obj, once=True)


def destroy_proxies(proxies: Iterable[Any]) -> None:
    """``destroy()`` every proxy of ``proxies``."""
    for proxy in proxies:
        proxy.destroy()


Converter = Callable[[Any, Callable[[Any], Any], Callable[[Any, Any], None]], Any]


def to_js(
    obj: Any,
    /,
    *,
    depth: int = -1,
    pyproxies: Any = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[JsArray]], Any] | None = None,
    default_converter: Converter | None = None,
    eager_converter: Converter | None = None,
) -> Any:
    """``obj`` as a JS value, as Pyodide converts it.

    str, numbers, bool and None stay; list and tuple become arrays, set a Set, bytes-like a
    ``Uint8Array`` (a copy; its ``.buffer`` is an ``ArrayBuffer``); a dict becomes a ``Map``, or
    whatever ``dict_converter`` makes of its ``[key, value]`` entries (``Object.fromEntries``:
    a JS object). JS values are returned as they are; other objects stay Python objects (a
    proxy on Cloudflare) unless ``default_converter`` converts them.
    """
    if eager_converter is not None:
        raise NotImplementedError(
            "to_js(eager_converter=...) is not supported by workerlab; use default_converter"
        )
    cache: dict[int, Any] = {}

    def remember(source: Any, result: Any) -> None:
        cache[id(source)] = result

    def convert(value: Any, level: int) -> Any:
        if value is None or isinstance(value, str | int | float | JsProxy | JsNull):
            return value
        if level == 0:
            return value
        if id(value) in cache:
            return cache[id(value)]
        if isinstance(value, bytes | bytearray | memoryview):
            return JsUint8Array(bytes(value))
        if isinstance(value, dict):
            entries = [
                JsArray((convert(key, level - 1), convert(item, level - 1))) for key, item in value.items()
            ]
            result = dict_converter(entries) if dict_converter is not None else JsMap(entries)
        elif isinstance(value, list | tuple):
            result = JsArray(convert(item, level - 1) for item in value)
        elif isinstance(value, set | frozenset):
            result = JsSet(convert(item, level - 1) for item in value)
        elif default_converter is not None:
            result = default_converter(value, lambda item: convert(item, level - 1), remember)
        elif not create_pyproxies:
            raise JsException(
                "ConversionError",
                f"to_js() cannot convert a {type(value).__name__} without making a proxy "
                "(create_pyproxies=False)",
            )
        else:
            return value
        cache[id(value)] = result
        return result

    return convert(obj, depth)
