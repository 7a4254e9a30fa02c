"""The plain JS globals of the ``js`` module: ``JSON``, ``Object``, ``console``, ``Date``,
``crypto``, ``TextEncoder`` and ``TextDecoder``.

Where Cloudflare would hand a Python dict or list to JS as an opaque proxy (and quietly produce
``{}`` or fail), these raise a ``TypeError`` that names the fix (``to_js(...)``).
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array
from workerlab.compat.ffi import JsException, JsMap, JsNull, JsSet
from workerlab.compat.jsvalues import JsArray, JsObject, JsObjectProxy, JsProxy, js_value

logger = logging.getLogger("workerlab")

_TO_JS_HINT = "pass to_js(value, dict_converter=Object.fromEntries), or build the text with json.dumps()"


def python_value_error(where: str, value: object) -> TypeError:
    """The error for a Python container used where Cloudflare would need a JS value."""
    kind = type(value).__name__
    return TypeError(
        f"{where} got a Python {kind}: on Cloudflare a {kind} reaches JavaScript as an opaque proxy, "
        f"not as a JS value; {_TO_JS_HINT}"
    )


def _json_ready(value: Any) -> Any:
    """``value`` as plain JSON data, read the way JavaScript's JSON.stringify reads it."""
    if value is None or isinstance(value, JsNull | bool | str | int):
        return None if isinstance(value, JsNull) else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, JsMap | JsSet | JsArrayBuffer):
        return {}  # JS serializes only own enumerable properties, and these have none
    if isinstance(value, JsUint8Array):
        return {str(index): byte for index, byte in enumerate(value)}
    if isinstance(value, JsObject):
        return {key: _json_ready(item) for key, item in dict.items(value)}
    if isinstance(value, JsArray):
        return [_json_ready(item) for item in value]
    raise python_value_error("JSON.stringify()", value)


class JSON:
    """JavaScript's ``JSON``."""

    @staticmethod
    def stringify(value: Any, replacer: Any = None, space: int | str | None = None) -> str | None:
        """JSON text for a JS value, compact unless ``space`` is given (None for ``undefined``)."""
        if replacer is not None:
            raise NotImplementedError("JSON.stringify(value, replacer) is not supported by workerlab")
        if value is None:
            return None
        separators = (",", ":") if space is None else (",", ": ")
        return json.dumps(_json_ready(value), separators=separators, ensure_ascii=False, indent=space)

    @staticmethod
    def parse(text: str) -> Any:
        """Parse JSON text into JS values (objects with attribute access; ``.to_py()`` for dicts)."""
        try:
            return js_value(json.loads(text), JsObjectProxy)
        except json.JSONDecodeError as exc:
            raise JsException("SyntaxError", f"JSON.parse: {exc}") from None


class Object:
    """JavaScript's ``Object``: ``new()``, ``fromEntries()``, ``keys()``, ``values()``, ``entries()``."""

    @staticmethod
    def new(**fields: Any) -> JsObjectProxy:
        """A new JS object (keyword arguments become its fields, as Pyodide passes them)."""
        return JsObjectProxy(fields)

    @staticmethod
    def fromEntries(entries: Iterable[Any]) -> JsObjectProxy:
        """A JS object from ``[key, value]`` pairs (``d.items()``, a JS array of pairs, a Map)."""
        if isinstance(entries, JsMap):
            return JsObjectProxy(entries.items())
        if isinstance(entries, dict) and not isinstance(entries, JsProxy):
            raise TypeError(
                "Object.fromEntries() got a Python dict: on Cloudflare its entries are its keys, "
                "which fails; pass d.items(), or to_js(d, dict_converter=Object.fromEntries)"
            )
        result = JsObjectProxy()
        for entry in entries:
            if isinstance(entry, str | bytes) or len(entry) != 2:
                raise TypeError(
                    f"Object.fromEntries(): each entry must be a [key, value] pair, got {entry!r}"
                )
            key, value = entry
            dict.__setitem__(result, key if isinstance(key, str) else _property_key(key), value)
        return result

    @staticmethod
    def keys(obj: JsObject) -> JsArray:
        return JsArray(dict.keys(_js_object(obj, "keys")))

    @staticmethod
    def values(obj: JsObject) -> JsArray:
        return JsArray(dict.values(_js_object(obj, "values")))

    @staticmethod
    def entries(obj: JsObject) -> JsArray:
        return JsArray(JsArray(pair) for pair in dict.items(_js_object(obj, "entries")))

    @staticmethod
    def assign(target: JsObject, *sources: JsObject) -> JsObject:
        for source in sources:
            dict.update(_js_object(target, "assign"), _js_object(source, "assign"))
        return target


def _js_object(value: Any, method: str) -> JsObject:
    if not isinstance(value, JsObject):
        raise python_value_error(f"Object.{method}()", value)
    return value


def _property_key(key: Any) -> str:
    # JS property keys are strings: numbers and booleans are written as JS writes them.
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def _console_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "undefined"
    if isinstance(value, JsNull):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsObject | JsArray):
        return json.dumps(_json_ready(value), ensure_ascii=False, separators=(", ", ": "))
    return str(value)


class _Console:
    """JavaScript's ``console``: each call is one line of the ``workerlab`` log."""

    def _emit(self, level: int, args: tuple[Any, ...]) -> None:
        if logger.isEnabledFor(level):
            logger.log(level, " ".join(_console_text(arg) for arg in args))

    def log(self, *args: Any) -> None:
        self._emit(logging.INFO, args)

    def info(self, *args: Any) -> None:
        self._emit(logging.INFO, args)

    def debug(self, *args: Any) -> None:
        self._emit(logging.DEBUG, args)

    def warn(self, *args: Any) -> None:
        self._emit(logging.WARNING, args)

    def error(self, *args: Any) -> None:
        self._emit(logging.ERROR, args)


console = _Console()


class Date(JsProxy):
    """JavaScript's ``Date``: ``Date.now()`` (epoch ms) and ``Date.new(ms)``."""

    __slots__ = ("_ms",)

    def __init__(self, ms: float) -> None:
        self._ms = ms

    @staticmethod
    def now() -> int:
        """Milliseconds since the epoch."""
        return time.time_ns() // 1_000_000

    @classmethod
    def new(cls, value: float | str | None = None) -> Date:
        """A date: now, at epoch milliseconds, or parsed from an ISO 8601 string."""
        if value is None:
            return cls(cls.now())
        if isinstance(value, str):
            return cls(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        return cls(float(value))

    def getTime(self) -> float:
        return self._ms

    valueOf = getTime

    def toISOString(self) -> str:
        moment = datetime.fromtimestamp(self._ms / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    toJSON = toISOString

    def __repr__(self) -> str:
        return f"Date({self.toISOString()})"


class _Crypto:
    """JavaScript's ``crypto`` (``randomUUID``)."""

    def randomUUID(self) -> str:
        return str(uuid.uuid4())


crypto = _Crypto()


class TextEncoder(JsProxy):
    """JavaScript's ``TextEncoder``: ``TextEncoder.new().encode(text)`` gives a Uint8Array."""

    __slots__ = ()
    encoding = "utf-8"

    @classmethod
    def new(cls) -> TextEncoder:
        return cls()

    def encode(self, text: str = "") -> JsUint8Array:
        return JsUint8Array(text.encode("utf-8"))


class TextDecoder(JsProxy):
    """JavaScript's ``TextDecoder``: ``TextDecoder.new().decode(buffer)`` gives text."""

    __slots__ = ("encoding",)

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    @classmethod
    def new(cls, encoding: str = "utf-8") -> TextDecoder:
        return cls(encoding)

    def decode(self, data: bytes = b"") -> str:
        if not isinstance(data, JsProxy) and isinstance(data, bytes | bytearray):
            raise python_value_error("TextDecoder.decode()", data)
        return bytes(data).decode(self.encoding, "replace")
