from __future__ import annotations

from collections.abc import MutableMapping

import pytest

from workerlab.compat.headers import Headers, RequestHeaders


def test_names_are_case_insensitive_and_lower_cased() -> None:
    headers = Headers({"Content-Type": "text/html", "X-Trace": "abc"})
    assert headers.get("content-type") == "text/html"
    assert headers["CONTENT-TYPE"] == "text/html"
    assert "x-TRACE" in headers
    assert headers.has("X-Trace")
    assert headers.keys() == ["content-type", "x-trace"]


def test_missing_name_get_default_and_keyerror() -> None:
    headers = Headers()
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", "fallback") == "fallback"
    assert headers.get_all("x-missing") is None
    assert "x-missing" not in headers
    with pytest.raises(KeyError, match="x-missing"):
        headers["x-missing"]
    with pytest.raises(KeyError):
        del headers["x-missing"]


def test_repeated_names_combine_for_get_and_stay_apart_for_get_all() -> None:
    headers = Headers([("Accept", "text/html"), (b"accept", b"application/json")])
    assert headers["accept"] == "text/html, application/json"
    assert headers.get_all("ACCEPT") == ["text/html", "application/json"]
    assert len(headers) == 1
    assert list(headers) == ["accept"]


def test_iteration_yields_sorted_distinct_names_and_items_keep_set_cookie_apart() -> None:
    headers = Headers(
        [("x-b", "1"), ("Set-Cookie", "a=1"), ("x-a", "2"), ("set-cookie", "b=2"), ("x-b", "3")]
    )
    assert list(headers) == ["set-cookie", "x-a", "x-b"]
    assert headers.items() == [
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("x-a", "2"),
        ("x-b", "1, 3"),
    ]
    assert headers.values() == ["a=1", "b=2", "2", "1, 3"]
    assert dict(headers) == {"set-cookie": "a=1, b=2", "x-a": "2", "x-b": "1, 3"}


def test_set_append_delete() -> None:
    headers = Headers([("x-a", "1"), ("x-a", "2")])
    headers.append("X-A", "3")
    assert headers.get_all("x-a") == ["1", "2", "3"]
    headers.set("x-a", "only")
    assert headers.get_all("x-a") == ["only"]
    headers["x-b"] = "b"
    assert headers["x-b"] == "b"
    headers.delete("X-A")
    assert "x-a" not in headers
    headers.delete("never-there")
    del headers["x-b"]
    assert len(headers) == 0


def test_values_are_stripped_and_coerced() -> None:
    headers = Headers({"x-space": "  padded\t", "x-bool": True, "x-int": 5})
    assert headers["x-space"] == "padded"
    assert headers["x-bool"] == "true"
    assert headers["x-int"] == "5"


def test_copy_from_headers_is_independent() -> None:
    original = Headers({"a": "1"})
    copy = Headers(original)
    copy.set("a", "2")
    assert original["a"] == "1"
    assert original.copy()["a"] == "1"


@pytest.mark.parametrize("name", ["", "bad name", "x:y", "é"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(TypeError, match="Invalid header name"):
        Headers({name: "v"})


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "nul\0"])
def test_values_with_line_breaks_are_rejected(value: str) -> None:
    with pytest.raises(TypeError, match="contains CR, LF or NUL"):
        Headers().set("x-a", value)


def test_values_beyond_latin1_are_rejected() -> None:
    with pytest.raises(TypeError, match="above U\\+00FF"):
        Headers({"x-a": "snow ☃"})


def test_bad_init_shapes_are_rejected() -> None:
    with pytest.raises(TypeError, match="Each header must be a \\(name, value\\) pair"):
        Headers([("only-name",)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Headers expects"):
        Headers("x-a: 1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="values must be str or bytes, got list"):
        Headers({"x-a": ["1"]})


def test_raw_headers_decode_lazily_and_round_trip() -> None:
    raw = [(b"host", b"example.com"), (b"x-a", b"1")]
    headers = Headers._from_raw(raw)
    assert headers._raw_pairs() == raw
    assert headers["Host"] == "example.com"
    headers.append("x-b", "2")
    assert headers._raw_pairs() == [*raw, (b"x-b", b"2")]


@pytest.mark.parametrize("cls", [Headers, RequestHeaders])
def test_both_classes_are_mutable_mappings(cls: type[Headers]) -> None:
    headers = cls({"X-A": "1"})
    assert isinstance(headers, MutableMapping)
    headers.update({"X-B": "2"})
    assert headers.pop("X-A") == "1"
    assert headers.pop("x-a", "gone") == "gone"
    with pytest.raises(KeyError, match="x-a"):
        headers.pop("x-a")
    assert headers.setdefault("x-b", "other") == "2"
    assert headers.setdefault("X-C", " 3 ") == "3"
    assert headers == {"x-b": "2", "x-c": "3"}
    assert headers.popitem() == ("x-b", "2")
    headers.clear()
    assert len(headers) == 0 and headers == {}


def test_request_headers_change_only_what_an_absent_name_reads_as() -> None:
    assert RequestHeaders.__getitem__ is Headers.__getitem__
    headers = RequestHeaders({"a": "1"})
    assert headers["A"] == "1"
    assert headers["b"] is None
    assert "b" not in headers
    assert headers.get("b", "default") == "default"
    assert headers.get_all("b") is None
    with pytest.raises(KeyError):
        del headers["b"]


def test_equality_compares_every_value() -> None:
    cookies = Headers([("set-cookie", "a=1"), ("set-cookie", "b=2")])
    assert cookies == Headers(cookies) == RequestHeaders(cookies)
    assert cookies != Headers([("set-cookie", "x=1"), ("set-cookie", "b=2")])
    assert Headers({"A": "1"}) == {"a": "1"}
    assert Headers({"a": "1"}) != ["a"]
