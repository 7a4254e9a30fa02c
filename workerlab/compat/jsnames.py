"""What keeps the JS-style Request and Response to JS names.

They subclass Cloudflare-Python-style classes (so that the server, ``fetch()`` and bindings take
them), which brings Python names JS objects do not have; :class:`PythonOnly` hides each of them
the way a missing attribute fails on Cloudflare, naming the JS spelling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workerlab.compat.ffi import JsException


class PythonOnly:
    """A Python-only name on a JS-style object: reading it raises ``AttributeError``."""

    def __init__(self, js_name: str | None = None) -> None:
        self.js_name = js_name
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        raise self.hidden_error(owner or type(instance))

    def hidden_error(self, owner: type) -> AttributeError:
        """The error reading the name raises (a class's ``__getattr__`` raises it too)."""
        kind = owner.__name__.removeprefix("Js")
        hint = f"; JS spells it {self.js_name}" if self.js_name else ""
        return AttributeError(f"the JS {kind} object has no attribute {self.name!r}{hint}")


class PythonOnlySlot(PythonOnly):
    """A Python-only slot of the base class: hidden from reads, still written by the base's code."""

    def __init__(self, slot: Any, js_name: str | None = None) -> None:
        super().__init__(js_name)
        self.slot = slot

    def __set__(self, instance: object, value: Any) -> None:
        self.slot.__set__(instance, value)


@contextmanager
def js_errors() -> Iterator[None]:
    """Raise a checked argument's ``ValueError`` as JS does: a ``JsException`` named RangeError."""
    try:
        yield
    except ValueError as exc:
        raise JsException("RangeError", str(exc)) from None


def refuse_python_bytes(value: Any, where: str) -> None:
    """Raise for plain bytes where JS needs a buffer (on Cloudflare they reach JS as a proxy)."""
    if type(value) in (bytes, bytearray, memoryview):
        raise TypeError(
            f"{where} got Python {type(value).__name__}: on Cloudflare they reach JavaScript as an "
            "opaque proxy, not as binary data; pass to_js(data) or to_js(data).buffer"
        )
