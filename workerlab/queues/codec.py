"""Message bodies <-> bytes, by content type: ``json``, ``text``, ``bytes`` and ``v8``.

``v8`` stands for Cloudflare's structured clone. Locally it is a small tagged binary
encoding of the Python values a structured clone can carry; decoding it never runs code
(no pickle), so a shared store can be read safely.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import math
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeAlias

from ..clone import MAX_CLONE_DEPTH, decode_clone, encode_clone
from ..compat.jsvalues import JsArray, JsObject, js_value

ContentType = Literal["json", "text", "bytes", "v8"]

#: Every content type a producer may name (Cloudflare Queues: json, text, bytes, v8).
CONTENT_TYPES: tuple[ContentType, ...] = ("json", "text", "bytes", "v8")
#: The content type of a message sent without one (Cloudflare: json).
DEFAULT_CONTENT_TYPE: ContentType = "json"


def check_content_type(value: object) -> ContentType:
    """``value`` if it names a content type, else a TypeError listing the valid ones."""
    for name in CONTENT_TYPES:
        if value == name:
            return name
    expected = ", ".join(f'"{name}"' for name in CONTENT_TYPES)
    raise TypeError(f"Unknown queue message content type {value!r}: expected one of {expected}")


def encode_body(body: Any, content_type: ContentType) -> bytes:
    """The stored form of ``body``; a TypeError naming the type when the content type cannot carry it."""
    if body is None:
        raise TypeError("Message body cannot be None")
    if content_type == "json":
        return _encode_json(body)
    if content_type == "text":
        if not isinstance(body, str):
            raise TypeError(
                f'content type "text" carries str bodies, got {type(body).__name__}; '
                f"use {_suggest(body)} for this body"
            )
        return body.encode("utf-8", "surrogatepass")
    if content_type == "bytes":
        if not isinstance(body, bytes | bytearray | memoryview):
            raise TypeError(
                f'content type "bytes" carries bytes, bytearray or memoryview bodies, '
                f"got {type(body).__name__}; use {_suggest(body)} for this body"
            )
        return bytes(body)
    return encode_clone(body, 'content type "v8"')


def decode_body(data: bytes, content_type: str) -> Any:
    """The body a consumer sees for stored ``data`` of ``content_type``."""
    if content_type == "json":
        return _decode_json(data.decode("utf-8", "surrogatepass"))
    if content_type == "text":
        return data.decode("utf-8", "surrogatepass")
    if content_type == "bytes":
        return bytes(data)
    if content_type == "v8":
        return decode_v8(data)
    raise ValueError(f"stored message has unknown content type {content_type!r}")


def _suggest(body: Any) -> str:
    if isinstance(body, str):
        return 'contentType="text" (or "json")'
    if isinstance(body, bytes | bytearray | memoryview):
        return 'contentType="bytes" (or "v8")'
    return 'contentType="v8" (or "json" for JSON-compatible data)'


def _not_json(value: Any) -> Any:
    hint = 'contentType="bytes" or "v8"' if isinstance(value, bytes | bytearray) else 'contentType="v8"'
    raise TypeError(
        f'content type "json" cannot carry a value of type {type(value).__name__}; use {hint} for this body'
    )


_json_decoder = json.JSONDecoder()
_json_encoder = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_not_json
)
# What the C encoder and scanner must give for this value to be used in place of the public API.
_PROBE_VALUE = {"a": [1, 2.5, "é\n", None, True, {}]}
_PROBE_TEXT = '{"a":[1,2.5,"é\\n",null,true,{}]}'

Encode: TypeAlias = Callable[[Any, int], Iterable[str]]
Scan: TypeAlias = Callable[[str, int], tuple[Any, int]]


def c_encoder() -> Encode | None:
    """json's C encoder, built once with ``_json_encoder``'s settings: json.dumps builds a new
    one on every call, and a queue encodes a body per message. None when this Python's json has
    no C encoder, or its arguments are no longer the ones passed here (it is not public API)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    encode_str = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or encode_str is None:
        return None
    try:
        encode: Encode = make(None, _not_json, encode_str, None, ":", ",", False, False, False)
        works = "".join(encode(_PROBE_VALUE, 0)) == _PROBE_TEXT and _refuses_nan(encode)
    except Exception:  # any failure means its arguments changed
        return None
    return encode if works else None


def _refuses_nan(encode: Encode) -> bool:
    try:
        "".join(encode(math.nan, 0))
    except ValueError:
        return True
    return False


def c_scanner(decoder: json.JSONDecoder | None = None) -> Scan | None:
    """json's C scanner over ``decoder`` (default ``_json_decoder``; json.loads rebuilds its own on
    every call), or None when it is missing or does not scan as expected (it is not public API)."""
    make = getattr(json.scanner, "c_make_scanner", None)
    if make is None:
        return None
    try:
        scan: Scan = make(decoder or _json_decoder)
        works = scan(_PROBE_TEXT, 0) == (_PROBE_VALUE, len(_PROBE_TEXT))
    except Exception:  # any failure means its arguments changed
        return None
    return scan if works else None


_c_encode = c_encoder()
_c_scan = c_scanner()
# Bodies as a Python Worker receives them: objects with attribute access, built while parsing.
_js_decoder = json.JSONDecoder(object_hook=JsObject)
_c_js_scan = c_scanner(_js_decoder)


def _encode_json(body: Any) -> bytes:
    try:
        text = "".join(_c_encode(body, 0)) if _c_encode is not None else _json_encoder.encode(body)
        return text.encode("utf-8", "surrogatepass")
    except ValueError as error:
        # allow_nan=False: JSON has no NaN or Infinity.
        raise TypeError(
            f'content type "json" cannot carry NaN or Infinity ({error}); use contentType="v8" for this body'
        ) from None
    except RecursionError:
        raise TypeError('content type "json" cannot carry a body this deeply nested (or cyclic)') from None


def _decode_json(text: str, scan: Scan | None = _c_scan, decoder: json.JSONDecoder = _json_decoder) -> Any:
    """``text`` parsed by ``scan`` (C, fast) when it takes the whole text, else by ``decoder`` (which
    raises the error of text that is not JSON)."""
    if scan is not None:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return decoder.decode(text)


def decode_for_worker(data: bytes, content_type: str) -> Any:
    """The body as the platform hands it to Python Workers code: objects as :class:`JsObject`
    (attribute access, ``to_py()``), arrays as :class:`JsArray`; ValueError as :func:`decode_body`.

    A JSON body is parsed straight into objects; its arrays (if any) are converted after."""
    if content_type != "json":
        return js_value(decode_body(data, content_type))
    text = data.decode("utf-8", "surrogatepass")
    value = _decode_json(text, _c_js_scan, _js_decoder)
    return _with_arrays(value) if "[" in text else value


def _with_arrays(value: Any) -> Any:
    """``value`` (fresh from parsing) with every list made a :class:`JsArray`, in place where it can."""
    if isinstance(value, list):
        return JsArray(_with_arrays(item) for item in value)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list | dict):
                value[key] = _with_arrays(item)
    return value


def encode_v8(body: Any) -> bytes:
    """``body`` as a v8 message body: its structured clone (see :mod:`workerlab.clone`)."""
    return encode_clone(body, 'content type "v8"')


def decode_v8(data: bytes) -> Any:
    """The body a v8 message was sent with; ValueError when ``data`` is not a well-formed encoding."""
    try:
        return decode_clone(data)
    except ValueError as error:
        raise ValueError(str(error).replace("structured clone", "v8 message body", 1)) from None


#: Deepest nesting a v8 body may have.
V8_MAX_DEPTH = MAX_CLONE_DEPTH
