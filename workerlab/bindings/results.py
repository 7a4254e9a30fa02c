"""The shapes binding calls take and return, as Python Workers code sees them.

Cloudflare returns plain JS objects (``{results, success, meta}``); workerlab returns
:class:`JsObject`, a dict that also allows attribute access. Options are passed the
way Python Workers code writes them: as keyword arguments, or as a trailing dict.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from workerlab.compat.jsvalues import JsArray, JsObject, JsObjectProxy, JsProxy, js_value, to_py

__all__ = [
    "JsArray",
    "JsObject",
    "JsObjectProxy",
    "JsProxy",
    "decode_cursor",
    "encode_cursor",
    "js_value",
    "merge_options",
    "parse_json",
    "require_int",
    "to_bytes",
    "to_py",
]


def parse_json(text: str | bytes) -> Any:
    """JSON text -> Python values, objects as :class:`JsObject`, arrays as :class:`JsArray`."""
    return js_value(json.loads(text))


def _camel_case(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def merge_options(
    where: str,
    options: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
    allowed: Collection[str],
) -> dict[str, Any]:
    """One options dict from a trailing dict and keyword arguments.

    ``where`` names the call in error messages (``"KV put()"``). Names are Cloudflare's
    (camelCase). A value of None counts as not given, as ``undefined`` does in JS.
    """
    merged: dict[str, Any] = {}
    if options is not None:
        if not isinstance(options, Mapping):
            raise TypeError(f"{where}: expected the options as a dict, found {type(options).__name__}")
        merged.update(options)
    for name, value in kwargs.items():
        if name in merged:
            raise TypeError(f"{where}: option {name!r} given twice, in the options dict and as a keyword")
        merged[name] = value
    for name in merged:
        if name not in allowed:
            camel = _camel_case(str(name))
            hint = f" (Cloudflare spells it {camel!r})" if camel in allowed else ""
            expected = ", ".join(sorted(allowed)) or "none"
            raise TypeError(f"{where}: unknown option {name!r}{hint}; expected one of: {expected}")
    return {name: value for name, value in merged.items() if value is not None}


def require_int(where: str, name: str, value: Any) -> int:
    """``value`` as an int; bools and non-integral numbers are a TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{where}: {name} must be a number, found {type(value).__name__} {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise TypeError(f"{where}: {name} must be a whole number, found {value!r}")
    return int(value)


def to_bytes(where: str, value: Any) -> bytes:
    """A str (as UTF-8) or bytes-like value as bytes, for the bodies bindings store."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(
        f"{where}: expected the value as str or bytes, found {type(value).__name__}; "
        f"to store an object, pass json.dumps(value)"
    )


def encode_cursor(key: str) -> str:
    """An opaque list() cursor that resumes at ``key``."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: Any) -> str | None:
    """The key a cursor from :func:`encode_cursor` resumes at; None if it is not such a cursor."""
    if not isinstance(cursor, str):
        return None
    try:
        return base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
