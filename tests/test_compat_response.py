from __future__ import annotations

import re
from http import HTTPStatus

import pytest

from workerlab.compat.formdata import File, FormData
from workerlab.compat.headers import Headers
from workerlab.compat.response import NULL_BODY_STATUSES, REDIRECT_STATUSES, Response


async def test_str_body_defaults() -> None:
    response = Response("héllo")
    assert (response.status, response.ok, response.status_text) == (200, True, "")
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    assert await response.text() == "héllo"
    assert response._asgi_parts() == (
        200,
        [(b"content-type", b"text/plain;charset=UTF-8"), (b"content-length", b"6")],
        "héllo".encode(),
    )


async def test_bytes_and_none_bodies_have_no_content_type() -> None:
    binary = Response(b"\x00\x01", status=201)
    assert "content-type" not in binary.headers
    assert binary._asgi_parts() == (201, [(b"content-length", b"2")], b"\x00\x01")
    assert await binary.bytes() == b"\x00\x01"
    empty = Response()
    assert empty._asgi_parts() == (200, [(b"content-length", b"0")], b"")
    assert await empty.text() == ""


def test_given_content_type_wins_and_headers_keep_repeats() -> None:
    response = Response(
        "<p>hi</p>",
        status=HTTPStatus.ACCEPTED,
        status_text="Accepted",
        headers=[("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2")],
    )
    assert response.status == 202 and type(response.status) is int
    assert response.status_text == "Accepted"
    status, raw, body = response._asgi_parts()
    assert raw == [
        (b"content-type", b"text/html"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"content-length", b"9"),
    ]
    assert (status, body) == (202, b"<p>hi</p>")


def test_headers_set_after_construction_reach_the_server() -> None:
    response = Response("x")
    response.headers.set("x-extra", "1")
    assert response._asgi_parts()[1] == [
        (b"content-type", b"text/plain;charset=UTF-8"),
        (b"x-extra", b"1"),
        (b"content-length", b"1"),
    ]
    assert isinstance(response.headers, Headers)


@pytest.mark.parametrize(("body", "name"), [(123, "int"), ({"a": 1}, "dict"), (bytearray(b"x"), "bytearray")])
def test_unsupported_body_type(body: object, name: str) -> None:
    with pytest.raises(TypeError) as caught:
        Response(body)  # type: ignore[arg-type]
    assert str(caught.value) == f"Unsupported type in Response: {name}"


@pytest.mark.parametrize("status", [199, 600, 0, 101])
def test_status_out_of_range(status: int) -> None:
    with pytest.raises(ValueError, match=f"range 200 to 599, got {status}"):
        Response("x", status=status)


def test_status_must_be_an_int_and_none_means_200() -> None:
    with pytest.raises(TypeError, match="status must be an int, got str"):
        Response("x", status="200")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got bool"):
        Response("x", status=True)
    with pytest.raises(TypeError, match="status_text must be a str"):
        Response("x", status_text=1)  # type: ignore[arg-type]
    assert Response("x", status=None).status == 200


@pytest.mark.parametrize("status", sorted(NULL_BODY_STATUSES - {101}))
def test_null_body_statuses(status: int) -> None:
    assert Response(None, status=status).status == status
    with pytest.raises(TypeError, match=f"status {status} cannot have a body"):
        Response("", status=status)


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (299, True), (300, False), (404, False), (500, False)]
)
def test_ok(status: int, ok: bool) -> None:
    assert Response(None, status=status).ok is ok


async def test_json_static_builds_and_instance_reads() -> None:
    response = Response.json({"a": [1, "é"]}, status=201, status_text="Created", headers={"x-a": "1"})
    assert (response.status, response.status_text) == (201, "Created")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-a"] == "1"
    assert await response.json() == {"a": [1, "é"]}


def test_json_keeps_a_given_content_type_and_serializes_like_json_dumps() -> None:
    response = Response.json([1, 2], headers={"Content-Type": "application/vnd.api+json"})
    assert response._asgi_parts() == (
        200,
        [(b"content-type", b"application/vnd.api+json"), (b"content-length", b"6")],
        b"[1, 2]",
    )
    assert Response.from_json("text")._asgi_parts()[2] == b'"text"'
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        Response.json({1, 2})


@pytest.mark.parametrize("status", sorted(REDIRECT_STATUSES))
def test_redirect(status: int) -> None:
    response = Response.redirect("https://example.com/next", status)
    assert response.status == status
    assert response.headers["location"] == "https://example.com/next"
    assert response._asgi_parts() == (
        status,
        [(b"location", b"https://example.com/next"), (b"content-length", b"0")],
        b"",
    )


def test_redirect_defaults_to_302_and_checks_its_arguments() -> None:
    assert Response.redirect("https://example.com").status == 302
    assert Response.redirect("https://example.com").headers["location"] == "https://example.com/"
    with pytest.raises(ValueError, match="status must be one of \\[301, 302, 303, 307, 308\\], got 200"):
        Response.redirect("https://example.com", 200)
    with pytest.raises(TypeError, match=re.escape("Invalid URL '/login' in Response.redirect()")):
        Response.redirect("/login")


async def test_form_data_body_is_multipart_with_boundary() -> None:
    form = FormData({"a": "1"})
    form.append("f", File(b"data", "f.bin"))
    response = Response(form)
    content_type = response.headers["content-type"]
    boundary = content_type.split("boundary=", 1)[1]
    assert content_type == f"multipart/form-data; boundary={boundary}"
    _, raw, body = response._asgi_parts()
    assert raw == [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    assert body.startswith(f"--{boundary}\r\n".encode())
    assert body.endswith(f"--{boundary}--\r\n".encode())
    parsed = await response.form_data()
    assert parsed["a"] == "1"
    file = parsed["f"]
    assert isinstance(file, File) and file.name == "f.bin" and await file.bytes() == b"data"


async def test_body_read_once_and_clone() -> None:
    response = Response("once", headers={"x-a": "1"})
    twin = response.clone()
    assert await response.text() == "once"
    assert response.body_used
    with pytest.raises(OSError, match="Body already used"):
        await response.bytes()
    with pytest.raises(OSError, match="cannot clone\\(\\) a Response whose body was read"):
        response.clone()
    twin.headers.set("x-a", "2")
    assert response.headers["x-a"] == "1"
    assert await twin.text() == "once"
    assert response._asgi_parts()[2] == b"once"  # the server can still send it


async def test_asgi_parts_does_not_use_the_body() -> None:
    response = Response("hi")
    response._asgi_parts()
    assert not response.body_used
    assert await response.text() == "hi"


def test_repr() -> None:
    assert repr(Response("x", status=404)) == "Response(status=404, content_type='text/plain;charset=UTF-8')"


def test_the_body_decides_content_length() -> None:
    claimed = Response("hello world", headers={"content-length": "5", "transfer-encoding": "chunked"})
    assert claimed._asgi_parts()[1] == [
        (b"content-type", b"text/plain;charset=UTF-8"),
        (b"content-length", b"11"),
    ]
    assert (b"content-length", b"0") not in Response(None, status=204)._asgi_parts()[1]


async def test_js_object_and_wrapping_a_js_response() -> None:
    from workerlab.compat.jsresponse import JsResponse

    response = Response("body", status=201, headers={"x-a": "1"})
    view = response.js_object
    assert isinstance(view, JsResponse) and view is response.js_object
    assert (view.status, view.headers.get("x-a"), view.statusText) == (201, "1", "")
    assert await view.text() == "body" and response.body_used

    js_response = JsResponse.new("wrapped", status=202)
    wrapped = Response(js_response)
    assert (wrapped.status, await wrapped.text()) == (202, "wrapped")
    assert js_response.bodyUsed  # one body for both
    with pytest.raises(
        ValueError, match=r"Expected no options when constructing Response from a js\.Response"
    ):
        Response(JsResponse.new("x"), status=404)


def test_redirect_is_the_js_response_as_on_cloudflare() -> None:
    from workerlab.compat.jsresponse import JsResponse

    assert isinstance(Response.redirect("https://example.com/"), JsResponse)


async def test_fetch_response_helpers() -> None:
    response = Response("nope", status=404)
    with pytest.raises(OSError, match="404 Client Error") as caught:
        response.raise_for_status()
    assert caught.value.status == 404  # type: ignore[attr-defined]
    Response("fine").raise_for_status()
    replaced = response.replace_body("other")
    assert (replaced.status, await replaced.text()) == (404, "other")
    assert (await response.buffer()).to_bytes() == b"nope" and response.type == "default"
