"""Structured clones: the values Cloudflare copies between isolates, and a safe way to store them.

A structured clone carries None, bool, int, float, str, bytes, datetime, and lists, tuples,
sets and dicts of those. v8 queue messages and Durable Object storage values are stored in
the small tagged binary encoding below; decoding it never runs code (no pickle), so a file
shared with other processes can be read safely.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import datetime
from typing import Any

#: What a structured clone may hold, for error messages.
CLONE_TYPES = "dict, list, tuple, set, str, int, float, bool, None, bytes or datetime"

# The tagged encoding
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
#: Deepest nesting the encoding accepts; keeps both directions clear of Python's recursion limit.
MAX_CLONE_DEPTH = 200


def encode_clone(value: Any, what: str = "a structured clone") -> bytes:
    """``value`` in the tagged encoding; a TypeError (its message starting with ``what``) for values
    a structured clone cannot carry."""
    out = bytearray()
    _encode_value(value, out, set(), 0, what)
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


def _encode_value(value: Any, out: bytearray, path: set[int], depth: int, what: str) -> None:
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
        _encode_container(value, out, path, depth, what)
    else:
        raise TypeError(
            f"{what} cannot carry a value of type {type(value).__name__}: "
            f"a structured clone holds {CLONE_TYPES}; convert it first"
            + (', or use contentType="bytes" with your own encoding' if "v8" in what else "")
        )


def _encode_container(value: Any, out: bytearray, path: set[int], depth: int, what: str) -> None:
    if depth >= MAX_CLONE_DEPTH:
        raise TypeError(f"{what} carries values nested at most {MAX_CLONE_DEPTH} levels deep")
    key = id(value)
    if key in path:
        raise TypeError(f"{what} cannot carry a {type(value).__name__} that contains itself")
    path.add(key)
    depth += 1
    if isinstance(value, dict):
        out.append(0x64)  # d
        _varint(len(value), out)
        for item_key, item in value.items():
            _encode_value(item_key, out, path, depth, what)
            _encode_value(item, out, path, depth, what)
    else:
        out.append(0x6C if isinstance(value, list) else 0x74 if isinstance(value, tuple) else 0x65)
        _varint(len(value), out)
        for item in value:
            _encode_value(item, out, path, depth, what)
    path.discard(key)


def decode_clone(data: bytes) -> Any:
    """The value ``encode_clone`` encoded; ValueError when ``data`` is not a well-formed encoding."""
    try:
        value, end = _decode_value(memoryview(data), 0)
    except (IndexError, TypeError, UnicodeDecodeError, RecursionError, struct.error) as error:
        raise ValueError(f"malformed structured clone: {error!r}") from None
    if end != len(data):
        raise ValueError(f"malformed structured clone: {len(data) - end} trailing bytes")
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
    raise ValueError(f"malformed structured clone: unknown tag {tag:#04x} at byte {pos - 1}")


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
