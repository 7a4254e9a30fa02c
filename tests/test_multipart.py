"""Multipart and urlencoded form bodies: size limits, preamble and epilogue, and malformed bodies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workerlab.compat import multipart
from workerlab.compat.formdata import File, FormData
from workerlab.compat.multipart import FormParseError, encode_multipart, parse_form

CONTENT_TYPE = "multipart/form-data; boundary=b"


def part(name: str, value: bytes, *headers: bytes) -> bytes:
    head = b"".join(header + b"\r\n" for header in headers)
    disposition = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    return b"--b\r\n" + disposition + b"\r\n" + head + b"\r\n" + value + b"\r\n"


def test_preamble_and_epilogue_are_ignored() -> None:
    body = b"a preamble\r\n" + part("a", b"1") + b"--b--\r\nan epilogue"
    assert parse_form(body, CONTENT_TYPE).items() == [("a", "1")]


def test_a_boundary_followed_by_other_text_is_data() -> None:
    body = part("a", b"1\r\n--bb still data") + b"--b--"
    assert parse_form(body, CONTENT_TYPE)["a"] == "1\r\n--bb still data"


def test_an_empty_form() -> None:
    assert len(parse_form(b"--b--\r\n", CONTENT_TYPE)) == 0


def test_a_body_over_cloudflares_request_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    body = part("a", b"x" * 50) + b"--b--"
    monkeypatch.setattr(multipart, "MAX_FORM_BODY_BYTES", len(body) - 1)
    with pytest.raises(
        FormParseError, match=f"the body is {len(body)} bytes;.* at most {len(body) - 1} bytes"
    ):
        parse_form(body, CONTENT_TYPE)
    with pytest.raises(FormParseError, match="at most"):
        parse_form(b"a=" + b"x" * len(body), multipart.URLENCODED)
    monkeypatch.setattr(multipart, "MAX_FORM_BODY_BYTES", len(body))
    assert parse_form(body, CONTENT_TYPE)["a"] == "x" * 50


def test_a_text_field_over_its_limit_is_refused_but_a_file_may_be_larger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(multipart, "MAX_FORM_FIELD_BYTES", 10)
    assert parse_form(part("ok", b"x" * 10) + b"--b--", CONTENT_TYPE)["ok"] == "x" * 10
    with pytest.raises(
        FormParseError, match="Form field 'big' is 11 bytes; a text field may have at most 10"
    ):
        parse_form(part("big", b"x" * 11) + b"--b--", CONTENT_TYPE)
    form = FormData()
    form.append("upload", File(b"x" * 100, "big.bin"))
    body, content_type = encode_multipart(form)
    upload = parse_form(body, content_type)["upload"]
    assert isinstance(upload, File) and upload.size == 100


def test_the_limits_are_cloudflares_and_a_share_of_a_workers_memory() -> None:
    assert multipart.MAX_FORM_BODY_BYTES == 100_000_000
    assert multipart.MAX_FORM_FIELD_BYTES * 4 == 128_000_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"--bX\r\n",
            r"at byte 3: expected the boundary line '--b' \(or '--b--' at the end\), found b'--bX'",
        ),
        (b"pre\r\n--b\r\nno colon\r\n\r\nv\r\n--b--", r"part header line b'no colon' has no ':' \(byte 12\)"),
        (
            b"--b\r\nBad Name: 1\r\n\r\nv\r\n--b--",
            r"at byte 8, in the part header line b'Bad Name: 1': .*invalid character",
        ),
        (
            part("a", b"1", *(b"X-%d: 1" % n for n in range(20))) + b"--b--",
            "in the part header line b'X-.*: 1': Maximum header count exceeded",
        ),
        (part("a", b"1", b"X-Long: " + b"x" * 10_000) + b"--b--", "Maximum header size exceeded"),
        (part("a", b"1"), r"ends without the closing boundary '--b--'"),
    ],
)
def test_malformed_bodies_are_clear_type_errors(body: bytes, message: str) -> None:
    with pytest.raises(FormParseError, match=message) as caught:
        parse_form(body, CONTENT_TYPE)
    assert isinstance(caught.value, TypeError)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_an_overlong_boundary_is_a_clear_error() -> None:
    boundary = "x" * 300
    with pytest.raises(FormParseError, match="Cannot parse a multipart body with this boundary"):
        parse_form(b"--" + boundary.encode() + b"\r\n", f"multipart/form-data; boundary={boundary}")


def test_errors_raised_while_parsing_show_no_parser_frames() -> None:
    with pytest.raises(FormParseError) as caught:
        parse_form(b"--b\r\nX-Other: 1\r\n\r\nv\r\n--b--", CONTENT_TYPE)
    assert "python_multipart" not in "".join(str(entry.path) for entry in caught.traceback)


_valid = part("name", b"value") + part("file", b"\x00data", b"Content-Type: text/plain") + b"--b--\r\n"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_damaged_body_parses_or_raises_form_parse_error(data: st.DataObject) -> None:
    body = bytearray(_valid)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        if action == "cut":
            del body[at:]
        elif action == "insert":
            body[at:at] = data.draw(
                st.sampled_from([b"\r", b"\n", b"-", b":", b" ", b"--b", b"\r\n", b"\x00"])
            )
        elif body:
            at = min(at, len(body) - 1)
            if action == "delete":
                del body[at]
            else:
                body[at] = data.draw(st.integers(0, 255))
    try:
        form = parse_form(bytes(body), CONTENT_TYPE)
    except FormParseError:
        return
    assert isinstance(form, FormData)
