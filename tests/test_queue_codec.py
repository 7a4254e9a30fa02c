"""Content types: what each carries, the tagged v8 encoding, and the errors for bodies they cannot carry."""

from __future__ import annotations

import json
import json.encoder
import json.scanner
import math
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workerlab.queues import codec
from workerlab.queues.codec import (
    V8_MAX_DEPTH,
    ContentType,
    check_content_type,
    decode_body,
    decode_v8,
    encode_body,
    encode_v8,
)

_REAL_MAKE_ENCODER: Any = json.encoder.c_make_encoder  # type: ignore[attr-defined]

V8_SAMPLE: dict[object, object] = {
    "none": None,
    "flags": [True, False],
    "ints": [0, -1, 2**70, -(2**70)],
    "float": 1.5,
    "text": "héllo \U0001f600",
    "bytes": b"\x00\xff",
    "tuple": (1, "two"),
    "set": {1, 2, 3},
    "naive": datetime(2026, 1, 2, 3, 4, 5, 6),
    "aware": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    7: "int key",
    (1, 2): "tuple key",
    "nested": [{"a": [[], {}]}],
}


def test_v8_round_trips_every_structured_clone_type() -> None:
    decoded = decode_body(encode_body(V8_SAMPLE, "v8"), "v8")
    assert decoded == V8_SAMPLE
    assert type(decoded["tuple"]) is tuple
    assert type(decoded["set"]) is set
    assert decoded["aware"].utcoffset() == timedelta(hours=2)
    assert decoded["naive"].tzinfo is None


def test_v8_keeps_special_floats() -> None:
    decoded = decode_v8(encode_v8([math.inf, -math.inf, math.nan, -0.0]))
    assert decoded[:2] == [math.inf, -math.inf]
    assert math.isnan(decoded[2])
    assert math.copysign(1, decoded[3]) == -1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
v8_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes(timezones=st.none() | st.just(UTC)),
    lambda children: (
        st.lists(children)
        | st.tuples(children, children)
        | st.dictionaries(st.text() | st.integers(), children)
        | st.frozensets(st.integers() | st.text()).map(set)
    ),
    max_leaves=20,
)


@given(v8_values)
def test_v8_round_trips_any_supported_value(value: object) -> None:
    assert decode_v8(encode_v8(value)) == value


@given(json_values)
def test_json_round_trips_json_values(value: object) -> None:
    body = [value]  # a top-level None is no body at all
    assert decode_body(encode_body(body, "json"), "json") == body


def test_json_is_compact_utf8_text() -> None:
    assert encode_body({"a": [1, "é"]}, "json") == '{"a":[1,"é"]}'.encode()


def test_text_and_bytes_are_stored_as_they_are() -> None:
    assert encode_body("é", "text") == "é".encode()
    assert decode_body(encode_body("é", "text"), "text") == "é"
    assert encode_body(bytearray(b"\x01\x02"), "bytes") == b"\x01\x02"
    assert decode_body(b"\x01", "bytes") == b"\x01"


@pytest.mark.parametrize(
    ("body", "content_type", "named", "suggested"),
    [
        ({1, 2}, "json", "set", '"v8"'),
        (b"raw", "json", "bytes", '"bytes"'),
        (datetime(2026, 1, 1), "json", "datetime", '"v8"'),
        (object(), "json", "object", '"v8"'),
        (123, "text", "int", '"v8"'),
        (b"raw", "text", "bytes", '"bytes"'),
        ("text", "bytes", "str", '"text"'),
        ({"a": 1}, "bytes", "dict", '"v8"'),
        (object(), "v8", "object", '"bytes"'),
        ({"f": lambda: 1}, "v8", "function", '"bytes"'),
    ],
)
def test_a_body_the_content_type_cannot_carry_is_a_type_error_naming_the_type(
    body: object, content_type: ContentType, named: str, suggested: str
) -> None:
    with pytest.raises(TypeError) as caught:
        encode_body(body, content_type)
    message = str(caught.value)
    assert f'"{content_type}"' in message
    assert named in message
    assert f"contentType={suggested}" in message


def test_json_cannot_carry_nan() -> None:
    with pytest.raises(TypeError, match=r'NaN.*contentType="v8"'):
        encode_body({"x": math.nan}, "json")


def test_none_body_is_rejected_for_every_content_type() -> None:
    for content_type in ("json", "text", "bytes", "v8"):
        with pytest.raises(TypeError, match=r"^Message body cannot be None$"):
            encode_body(None, content_type)


def test_v8_rejects_cycles_and_excessive_depth() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(TypeError, match="contains itself"):
        encode_v8(cyclic)
    deep: list[object] = []
    for _ in range(V8_MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(TypeError, match=f"at most {V8_MAX_DEPTH} levels"):
        encode_v8(deep)


def test_v8_shares_no_identity_but_allows_repeated_values() -> None:
    shared = [1]
    assert decode_v8(encode_v8([shared, shared])) == [[1], [1]]


@pytest.mark.parametrize(
    "data", [b"", b"Z", b"s\x05ab", b"l\x02N", b"NN", pickle.dumps({"a": 1}), b"e\x01l\x00"]
)
def test_v8_decoding_rejects_malformed_data_and_never_unpickles(data: bytes) -> None:
    with pytest.raises(ValueError, match="malformed v8 message body"):
        decode_v8(data)


def test_unknown_content_type_lists_the_valid_ones() -> None:
    with pytest.raises(
        TypeError, match=r'Unknown queue message content type .*"json", "text", "bytes", "v8"'
    ):
        check_content_type("xml")


def test_json_rejects_a_cyclic_body() -> None:
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    with pytest.raises(TypeError, match='"json" cannot carry a body this deeply nested'):
        encode_body(cyclic, "json")


# --- json's C encoder and scanner: used when they behave as expected, else the public API ---


def test_the_c_encoder_and_scanner_are_used_where_they_exist() -> None:
    assert codec.c_encoder() is not None and codec.c_scanner() is not None


@pytest.mark.parametrize(
    "break_it",
    [
        lambda mp: mp.delattr(json.encoder, "c_make_encoder"),
        lambda mp: mp.setattr(json.encoder, "c_encode_basestring", None),
        # Arguments changed: one more, or the same count meaning something else (NaN let through).
        lambda mp: mp.setattr(json.encoder, "c_make_encoder", lambda *args: _REAL_MAKE_ENCODER(*args, None)),
        lambda mp: mp.setattr(
            json.encoder, "c_make_encoder", lambda *args: _REAL_MAKE_ENCODER(*args[:-1], True)
        ),
    ],
)
def test_a_missing_or_changed_c_encoder_is_not_used(break_it: Callable[[pytest.MonkeyPatch], None]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        break_it(mp)
        assert codec.c_encoder() is None


@pytest.mark.parametrize(
    "break_it",
    [
        lambda mp: mp.delattr(json.scanner, "c_make_scanner"),
        lambda mp: mp.setattr(json.scanner, "c_make_scanner", lambda context: lambda text, index: (None, 0)),
    ],
)
def test_a_missing_or_changed_c_scanner_is_not_used(break_it: Callable[[pytest.MonkeyPatch], None]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        break_it(mp)
        assert codec.c_scanner() is None


@pytest.mark.parametrize("use_c", [True, False], ids=["c", "public"])
def test_json_bodies_are_the_same_either_way(use_c: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_c:
        monkeypatch.setattr(codec, "_c_encode", None)
        monkeypatch.setattr(codec, "_c_scan", None)
    body = {"a": [1, 2.5, "é\n\U0001f600", None, True, {}], "b": -(2**70)}
    data = encode_body(body, "json")
    assert data == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert decode_body(data, "json") == body
    assert decode_body(b' {"a": 1} ', "json") == {"a": 1}
    with pytest.raises(ValueError):
        decode_body(b'{"a": 1} trailing', "json")
    with pytest.raises(TypeError, match="NaN"):
        encode_body([math.inf], "json")
    with pytest.raises(TypeError, match=r'"json" cannot carry a value of type set'):
        encode_body({"s": {1}}, "json")
