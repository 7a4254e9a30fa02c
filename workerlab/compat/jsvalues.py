"""The JS values Python Workers code meets, played by Python types.

A JS object is a :class:`JsObject` (a dict with attribute access and ``to_py()``), a JS array a
:class:`JsArray` (a list with ``to_py()``); every JS-side value is a :class:`JsProxy`, as in
Pyodide. Values the platform hands over (message bodies, binding and RPC results) are
:class:`JsObject`; the ones that come straight from JS (``JSON.parse``, ``to_js``) are
:class:`JsObjectProxy`, which, as on Cloudflare, has no item access.
"""

from __future__ import annotations

from typing import Any


class JsProxy:
    """Base of the values that stand for JavaScript objects, as ``pyodide.ffi.JsProxy`` does.

    ``to_py()`` gives the Python value: plain objects become dicts, arrays lists, buffers
    memoryviews (recursively); any other object is returned as it is, as Pyodide leaves class
    instances alone.
    """

    __slots__ = ()

    def to_py(self, *, depth: int = -1, default_converter: Any = None) -> Any:
        return to_py(self, depth=depth)


class JsObject(JsProxy, dict[str, Any]):
    """A dict that also allows attribute access, like the JS objects Cloudflare returns.

    ``res["results"]`` and ``res.results`` are the same; where a field name is also a
    dict method (``keys``, ``items``...), use item access. A field Cloudflare omits is
    absent (``AttributeError`` / ``KeyError``), never None. ``to_py()`` gives plain dicts and
    lists, as ``JsProxy.to_py()`` does on Cloudflare.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            fields = ", ".join(map(str, self)) or "none"
            raise AttributeError(f"{type(self).__name__} has no field {name!r} (fields: {fields})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(type(self), name):  # a slot or property a subclass declares
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(k for k in self if isinstance(k, str))})

    def as_object_map(self) -> JsObject:
        """The object as a mapping of its fields (Pyodide's ``JsProxy.as_object_map()``)."""
        return self

    def object_keys(self) -> JsArray:
        return JsArray(self.keys())

    def object_values(self) -> JsArray:
        return JsArray(self.values())

    def object_entries(self) -> JsArray:
        return JsArray(JsArray(pair) for pair in self.items())


class JsObjectProxy(JsObject):
    """A plain JS object reached through Pyodide's proxy (``JSON.parse``, ``to_js`` results, the
    JSON of a JS-style request): attribute access only.

    On Cloudflare ``obj["name"]`` fails on such a proxy, so it fails here too, saying what works.
    Code that hands it on (to a binding, to ``json.dumps``, to ``dict()``) sees a dict.
    """

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        raise TypeError(
            f"a JS object is not subscriptable (obj[{name!r}]): on Cloudflare a JS object proxy "
            f"has attribute access only; use obj.{name}, or obj.to_py()[{name!r}]"
        )


class JsArray(JsProxy, list[Any]):
    """A JS array as Python sees it: a list whose ``to_py()`` gives plain lists and dicts."""

    __slots__ = ()


def to_py(value: Any, *, depth: int = -1) -> Any:
    """``value`` with its JS-style containers made plain Python, ``depth`` levels deep (-1: all).

    Objects become dicts, arrays lists, JS buffers memoryviews; anything else is kept.
    """
    if depth == 0:
        return value
    if isinstance(value, JsProxy):
        converter = getattr(type(value), "_to_py", None)
        if converter is not None:
            return converter(value)
    if isinstance(value, dict):
        return {key: to_py(item, depth=depth - 1) for key, item in dict.items(value)}
    if isinstance(value, list):
        return [to_py(item, depth=depth - 1) for item in value]
    return value


def js_value(value: Any, object_type: type[JsObject] = JsObject) -> Any:
    """Plain Python data as the platform hands it to Python Workers code: dicts become
    ``object_type`` (attribute access and ``to_py()``), lists :class:`JsArray`, recursively."""
    if isinstance(value, dict):
        return object_type((key, js_value(item, object_type)) for key, item in dict.items(value))
    if isinstance(value, list):
        return JsArray(js_value(item, object_type) for item in value)
    return value
