"""Message bodies <-> bytes, by content type: ``json``, ``text``, ``bytes`` and ``v8``.

``v8`` stands for Cloudflare's structured clone. Locally it is a small tagged binary
encoding of the Python values a structured clone can carry; decoding it never runs code
(no pickle), so a shared store can be read safely.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import struct
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

ContentType = Literal["json", "text", "bytes", "v8"]

#: Every content type a producer may name (Cloudflare Queues: json, text, bytes, v8).
CONTENT_TYPES: tuple[ContentType, ...] = ("json", "text", "bytes", "v8")
#: The content type of a message sent without one (Cloudflare: json).
DEFAULT_CONTENT_TYPE: ContentType = "json"

_V8_TYPES = "dict, list, tuple, set, str, int, float, bool, None, bytes or datetime"


def check_content_type(value: object) -> ContentType:
    """``value`` if it names a content type, else a TypeError listing the valid ones."""
    if value in CONTENT_TYPES:
        return value  # type: ignore[return-value]
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
    return encode_v8(body)


def decode_body(data: bytes, content_type: str) -> Any:
    """The body a consumer sees for stored ``data`` of ``content_type``."""
    if content_type == "json":
        return _decode_json(data)
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
# The C encoder and scanner json uses inside, built once: a queue encodes and decodes a body per
# message, and json.dumps / json.loads rebuild them on every call.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode_basestring = getattr(json.encoder, "c_encode_basestring", None)
_c_make_scanner = getattr(json.scanner, "c_make_scanner", None)
_c_encode = (
    _c_make_encoder(None, _not_json, _c_encode_basestring, None, ":", ",", False, False, False)
    if _c_make_encoder is not None and _c_encode_basestring is not None
    else None
)
_c_scan = _c_make_scanner(_json_decoder) if _c_make_scanner is not None else None


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


def _decode_json(data: bytes) -> Any:
    text = data.decode("utf-8", "surrogatepass")
    if _c_scan is not None:
        try:
            value, end = _c_scan(text, 0)
        except StopIteration:
            pass  # not JSON: let the full decoder raise its error
        else:
            if end == len(text):
                return value
    return _json_decoder.decode(text)


# --- v8: the tagged encoding ------------------------------------------------------------
#
# value  := tag payload
#   N | T | F                  None, True, False
#   i <varint n> <n bytes>     int, big-endian two's complement
#   f <8 bytes>                float, IEEE 754 big-endian
#   s <varint n> <n bytes>     str, UTF-8 (surrogates passed through)
#   b <varint n> <n bytes>     bytes
#   l | t | e  <varint n> value*n          list, tuple, set
#   d <varint n> (value value)*n           dict (keys any encodable hashable value)
#   D <varint n> <n bytes>     datetime, ISO 8601 text (keeps its tzinfo offset or naivety)

_FLOAT = struct.Struct(">d")
#: Deepest nesting the v8 encoding accepts; keeps both directions clear of Python's recursion limit.
V8_MAX_DEPTH = 200


def encode_v8(body: Any) -> bytes:
    """``body`` in the tagged encoding; TypeError for values a structured clone cannot carry."""
    out = bytearray()
    _encode_value(body, out, set(), 0)
    return bytes(out)


def _varint(n: int, out: bytearray) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _sized(tag: int, data: bytes, out: bytearray) -> None:
    out.append(tag)
    _varint(len(data), out)
    out += data


def _encode_value(value: Any, out: bytearray, path: set[int], depth: int) -> None:
    if value is None:
        out.append(0x4E)  # N
    elif value is True:
        out.append(0x54)  # T
    elif value is False:
        out.append(0x46)  # F
    elif isinstance(value, int):
        size = (value.bit_length() + 8) // 8
        _sized(0x69, int(value).to_bytes(size, "big", signed=True), out)  # i
    elif isinstance(value, float):
        out.append(0x66)  # f
        out += _FLOAT.pack(value)
    elif isinstance(value, str):
        _sized(0x73, value.encode("utf-8", "surrogatepass"), out)  # s
    elif isinstance(value, bytes | bytearray | memoryview):
        _sized(0x62, bytes(value), out)  # b
    elif isinstance(value, datetime):
        _sized(0x44, value.isoformat().encode("ascii"), out)  # D
    elif isinstance(value, dict | list | tuple | set | frozenset):
        _encode_container(value, out, path, depth)
    else:
        raise TypeError(
            f'content type "v8" cannot carry a value of type {type(value).__name__}: '
            f"a structured clone holds {_V8_TYPES}; convert it first, or use "
            f'contentType="bytes" with your own encoding'
        )


def _encode_container(value: Any, out: bytearray, path: set[int], depth: int) -> None:
    if depth >= V8_MAX_DEPTH:
        raise TypeError(f'content type "v8" carries bodies nested at most {V8_MAX_DEPTH} levels deep')
    key = id(value)
    if key in path:
        raise TypeError(f'content type "v8" cannot carry a {type(value).__name__} that contains itself')
    path.add(key)
    depth += 1
    if isinstance(value, dict):
        out.append(0x64)  # d
        _varint(len(value), out)
        for item_key, item in value.items():
            _encode_value(item_key, out, path, depth)
            _encode_value(item, out, path, depth)
    else:
        out.append(0x6C if isinstance(value, list) else 0x74 if isinstance(value, tuple) else 0x65)
        _varint(len(value), out)
        for item in value:
            _encode_value(item, out, path, depth)
    path.discard(key)


def decode_v8(data: bytes) -> Any:
    """The value ``encode_v8`` encoded; ValueError when ``data`` is not a well-formed encoding."""
    try:
        value, end = _decode_value(memoryview(data), 0)
    except (IndexError, TypeError, UnicodeDecodeError, RecursionError, struct.error) as error:
        raise ValueError(f"malformed v8 message body: {error!r}") from None
    if end != len(data):
        raise ValueError(f"malformed v8 message body: {len(data) - end} trailing bytes")
    return value


def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


def _read_sized(data: memoryview, pos: int) -> tuple[bytes, int]:
    size, pos = _read_varint(data, pos)
    end = pos + size
    if end > len(data):
        raise IndexError("length runs past the end")
    return bytes(data[pos:end]), end


def _decode_value(data: memoryview, pos: int) -> tuple[Any, int]:
    tag = data[pos]
    pos += 1
    simple = _SIMPLE.get(tag)
    if simple is not None:
        return simple(data, pos)
    if tag == 0x4E:
        return None, pos
    if tag == 0x54:
        return True, pos
    if tag == 0x46:
        return False, pos
    if tag == 0x64:
        count, pos = _read_varint(data, pos)
        result: dict[Any, Any] = {}
        for _ in range(count):
            key, pos = _decode_value(data, pos)
            result[key], pos = _decode_value(data, pos)
        return result, pos
    if tag in (0x6C, 0x74, 0x65):
        count, pos = _read_varint(data, pos)
        items = []
        for _ in range(count):
            item, pos = _decode_value(data, pos)
            items.append(item)
        return (items if tag == 0x6C else tuple(items) if tag == 0x74 else set(items)), pos
    raise ValueError(f"malformed v8 message body: unknown tag {tag:#04x} at byte {pos - 1}")


def _decode_int(data: memoryview, pos: int) -> tuple[Any, int]:
    raw, pos = _read_sized(data, pos)
    return int.from_bytes(raw, "big", signed=True), pos


def _decode_float(data: memoryview, pos: int) -> tuple[Any, int]:
    return _FLOAT.unpack_from(data, pos)[0], pos + _FLOAT.size


def _decode_str(data: memoryview, pos: int) -> tuple[Any, int]:
    raw, pos = _read_sized(data, pos)
    return raw.decode("utf-8", "surrogatepass"), pos


def _decode_datetime(data: memoryview, pos: int) -> tuple[Any, int]:
    raw, pos = _read_sized(data, pos)
    return datetime.fromisoformat(raw.decode("ascii")), pos


_SIMPLE: dict[int, Callable[[memoryview, int], tuple[Any, int]]] = {
    0x69: _decode_int,
    0x66: _decode_float,
    0x73: _decode_str,
    0x62: _read_sized,
    0x44: _decode_datetime,
}
