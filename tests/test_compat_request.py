from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workerlab.compat.body import BodyUsedError
from workerlab.compat.formdata import Blob, File, FormData
from workerlab.compat.headers import Headers
from workerlab.compat.jsvalues import JsObject
from workerlab.compat.request import Request
from workerlab.compat.response import Response


async def test_defaults() -> None:
    request = Request("https://example.com/path?q=1")
    assert request.url == "https://example.com/path?q=1"
    assert request.method == "GET"
    assert isinstance(request.headers, Headers) and len(request.headers) == 0
    assert request.cf is None  # as on Cloudflare for a request built in code without cf
    assert await request.bytes() == b""


def test_url_gets_a_root_path_and_must_be_absolute() -> None:
    assert Request("https://example.com").url == "https://example.com/"
    assert Request("https://example.com?x=1").url == "https://example.com/?x=1"
    with pytest.raises(TypeError, match="Invalid URL '/relative' in Request\\(\\): expected an absolute URL"):
        Request("/relative")
    with pytest.raises(TypeError, match="Invalid URL 'http://\\[bad/' in Request"):
        Request("http://[bad/")
    with pytest.raises(TypeError, match="expects the URL as a str, got int"):
        Request(5)  # type: ignore[arg-type]


def test_method_is_upper_cased_and_validated() -> None:
    assert Request("https://x.test/", method="post", body="b").method == "POST"
    assert Request("https://x.test/", "patch", body="b").method == "PATCH"
    with pytest.raises(TypeError, match="Invalid header name"):
        Request("https://x.test/", method="GE T")
    with pytest.raises(TypeError, match="method must be a str"):
        Request("https://x.test/", method=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_cannot_have_a_body(method: str) -> None:
    with pytest.raises(TypeError, match=f"A {method} request cannot have a body"):
        Request("https://x.test/", method=method, body="x")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Key": "v", "Accept": "a"},
        [("X-Key", "v"), ("accept", "a")],
        [(b"x-key", b"v"), (b"Accept", b"a")],
        Headers({"x-key": "v", "accept": "a"}),
    ],
)
def test_headers_from_dict_pairs_bytes_pairs_or_headers(headers: object) -> None:
    request = Request("https://x.test/", headers=headers)  # type: ignore[arg-type]
    assert request.headers["X-KEY"] == "v"
    assert request.headers.get("accept") == "a"
    assert list(request.headers) == ["accept", "x-key"]


async def test_text_json_bytes_bodies() -> None:
    text_request = Request("https://x.test/", method="POST", body="héllo")
    assert text_request.headers["content-type"] == "text/plain;charset=UTF-8"
    assert await text_request.text() == "héllo"

    json_request = Request(
        "https://x.test/", method="POST", headers={"content-type": "application/json"}, body='{"a": [1, 2]}'
    )
    assert json_request.headers["content-type"] == "application/json"
    assert await json_request.json() == {"a": [1, 2]}

    bytes_request = Request("https://x.test/", method="PUT", body=b"\x00\xff")
    assert "content-type" not in bytes_request.headers
    assert await bytes_request.bytes() == b"\x00\xff"


def test_unsupported_body_type() -> None:
    with pytest.raises(TypeError, match="Unsupported type in Request: dict"):
        Request("https://x.test/", method="POST", body={"a": 1})  # type: ignore[arg-type]


async def test_body_can_be_read_once_and_clone_reads_again() -> None:
    request = Request("https://x.test/", method="POST", body="once", cf={"colo": "LHR"})
    twin = request.clone()
    assert not request.body_used
    assert await request.text() == "once"
    assert request.body_used
    with pytest.raises(OSError, match="Body already used"):
        await request.text()
    with pytest.raises(OSError, match="cannot clone\\(\\) a Request whose body was read"):
        request.clone()
    assert await twin.text() == "once"
    assert (twin.url, twin.method, twin.cf) == (request.url, "POST", {"colo": "LHR"})


def test_clone_has_independent_headers_and_cf() -> None:
    request = Request("https://x.test/", headers={"a": "1"}, cf={"k": 1})
    twin = request.clone()
    twin.headers.set("a", "2")
    assert twin.cf is not None
    twin.cf["k"] = 2
    assert request.headers["a"] == "1"
    assert request.cf == {"k": 1}


async def test_request_from_request_takes_its_parts_and_uses_its_body() -> None:
    source = Request("https://x.test/a", method="POST", headers={"x-a": "1"}, body="data", cf={"c": 1})
    copy = Request(source, headers={"x-b": "2"})
    assert (copy.url, copy.method, copy.cf) == ("https://x.test/a", "POST", {"c": 1})
    assert list(copy.headers) == ["x-b"]
    assert await copy.text() == "data"
    assert source.body_used
    with pytest.raises(TypeError, match="whose body was already read"):
        Request(source)


async def test_json_of_invalid_body_raises_value_error() -> None:
    request = Request("https://x.test/", method="POST", body="not json")
    with pytest.raises(ValueError):
        await request.json()


async def test_from_asgi_is_lazy_and_complete() -> None:
    raw = [(b"host", b"localhost:8787"), (b"x-multi", b"1"), (b"x-multi", b"2")]
    request = Request._from_asgi("http://localhost:8787/p?q=1", "POST", raw, b'{"n": 1}')
    assert request.headers._raw is raw  # nothing decoded yet
    assert request.url == "http://localhost:8787/p?q=1"
    assert request.method == "POST"
    assert request.headers["host"] == "localhost:8787"
    assert request.headers.get_all("x-multi") == ["1", "2"]
    assert request.cf is None  # the server passes local_cf(...) as cf
    assert await request.json() == {"n": 1}


async def test_form_data_urlencoded() -> None:
    request = Request(
        "https://x.test/",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="name=J%C3%BCrgen+M&tag=a&tag=b&empty=&flag",
    )
    form = await request.form_data()
    assert form.items() == [("name", "Jürgen M"), ("tag", "a"), ("tag", "b"), ("empty", ""), ("flag", "")]


async def test_form_data_round_trip_multipart() -> None:
    sent = FormData({"title": 'Quarterly "report"\r\nline two'})
    sent.append("tag", "x")
    sent.append("tag", "é")
    sent.append(
        "upload", File([b"\x00\x01binary\r\n--not-a-boundary"], 'weird "name".bin', "application/x-thing")
    )
    sent.append("blob", Blob(b"plain"))
    request = Request("https://x.test/", method="POST", body=sent)
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")

    received = await request.form_data()
    assert received.keys() == ["title", "tag", "tag", "upload", "blob"]
    assert received["title"] == 'Quarterly "report"\r\nline two'
    assert received.get_all("tag") == ["x", "é"]
    upload = received["upload"]
    assert isinstance(upload, File)
    assert (upload.name, upload.type) == ('weird "name".bin', "application/x-thing")
    assert await upload.bytes() == b"\x00\x01binary\r\n--not-a-boundary"
    blob = received["blob"]
    assert isinstance(blob, File)
    assert (blob.name, blob.type, await blob.text()) == ("blob", "application/octet-stream", "plain")


async def test_form_data_of_browser_style_multipart() -> None:
    body = (
        b"preamble\r\n"
        b"------WebKitFormBoundaryAbc\r\n"
        b'Content-Disposition: form-data; name="field"\r\n\r\n'
        b"value\r\n"
        b"------WebKitFormBoundaryAbc\r\n"
        b'content-disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"hello\r\n"
        b"------WebKitFormBoundaryAbc--\r\n"
    )
    request = Request(
        "https://x.test/",
        method="POST",
        headers={"content-type": 'multipart/form-data; boundary="----WebKitFormBoundaryAbc"'},
        body=body,
    )
    form = await request.form_data()
    assert form["field"] == "value"
    file = form["file"]
    assert isinstance(file, File) and file.name == "a.txt" and await file.text() == "hello"


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/json",
            b"{}",
            "can only parse multipart/form-data or application/x-www-form-urlencoded",
        ),
        (None, b"a=1", "but the Content-Type is None"),
        ("multipart/form-data", b"", "has no boundary parameter"),
        ("multipart/form-data; boundary=zzz", b"--aaa\r\n", "the boundary 'zzz' does not occur"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv",
            "closing",
        ),
        ("multipart/form-data; boundary=b", b"--b\r\nX-Other: 1\r\n\r\nv\r\n--b--", "Content-Disposition"),
        ("multipart/form-data; boundary=b", b"--b\r\nbroken\r\n\r\nv\r\n--b--", "has no ':'"),
    ],
)
async def test_form_data_errors(content_type: str | None, body: bytes, message: str) -> None:
    headers = {"content-type": content_type} if content_type else None
    request = Request("https://x.test/", method="POST", headers=headers, body=body)
    with pytest.raises(TypeError, match=message):
        await request.form_data()


async def test_empty_asgi_body_is_no_body() -> None:
    incoming = Request._from_asgi("http://localhost/", "GET", [(b"x-a", b"1")], b"")
    forwarded = Request(incoming, headers={"x-b": "2"})
    assert forwarded.method == "GET"
    assert await incoming.text() == ""


def test_repr() -> None:
    assert (
        repr(Request("https://x.test/a", method="DELETE"))
        == "Request(method='DELETE', url='https://x.test/a')"
    )


_names = st.text(st.characters(codec="utf-8", exclude_characters="%"), max_size=20)
_values = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=50),
    st.tuples(st.binary(max_size=200), _names, st.sampled_from(["", "text/plain", "image/png"])),
)


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(st.tuples(_names, _values), max_size=6))
async def test_any_form_survives_a_multipart_round_trip(entries: list[tuple[str, object]]) -> None:
    sent = FormData()
    for name, value in entries:
        if isinstance(value, tuple):
            data, filename, content_type = value
            sent.append(name, File(data, filename, content_type))
        else:
            sent.append(name, value)  # type: ignore[arg-type]
    received = await Request("https://x.test/", method="POST", body=sent).form_data()
    assert received.keys() == sent.keys()
    for (_, got), (_, want) in zip(received.items(), sent.items(), strict=True):
        if isinstance(want, File):
            assert isinstance(got, File)
            assert (got.name, await got.bytes()) == (want.name, await want.bytes())
            assert got.type == (want.type or "application/octet-stream")
        else:
            assert got == want


def test_a_missing_request_header_reads_as_none_as_on_cloudflare() -> None:
    request = Request("https://example.com/", headers={"X-Token": "abc"})
    assert request.headers["x-token"] == "abc"
    assert request.headers["x-missing"] is None
    served = Request._from_asgi("https://example.com/", "GET", [(b"host", b"example.com")], b"")
    assert served.headers["host"] == "example.com"
    assert served.headers["authorization"] is None


def test_method_is_an_http_method_as_on_cloudflare() -> None:
    from http import HTTPMethod

    assert Request("https://x.test/", method="post", body="b").method is HTTPMethod.POST
    assert Request._from_asgi("http://x.test/", "DELETE", [], b"").method is HTTPMethod.DELETE
    assert Request("https://x.test/", method="PURGE").method == "PURGE"  # not an HTTPMethod: stays a str
    assert repr(Request("https://x.test/")) == "Request(method='GET', url='https://x.test/')"


async def test_buffer_and_js_names() -> None:
    request = Request("https://x.test/", method="POST", body=b"\x01\x02")
    with pytest.raises(AttributeError, match=r"use await request\.buffer\(\) or await request\.bytes\(\)"):
        request.arrayBuffer  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        request.nothing  # noqa: B018
    buffer = await request.buffer()
    assert buffer.to_bytes() == b"\x01\x02" and buffer == b"\x01\x02"


async def test_js_object_shares_headers_and_body() -> None:
    request = Request._from_asgi("http://x.test/p", "POST", [(b"x-a", b"1")], b'{"k": [1]}')
    view = request.js_object
    assert view is request.js_object
    assert (view.url, view.method, view.headers.get("x-a")) == ("http://x.test/p", "POST", "1")
    data = await view.json()
    assert data.k == [1]
    assert request.body_used and view.bodyUsed
    with pytest.raises(OSError, match="Body already used"):
        await request.text()


def test_the_js_view_reads_request_cf_only_when_asked_and_shares_it() -> None:
    made: list[int] = []

    def make_cf() -> JsObject:
        made.append(1)
        return JsObject(colo="LHR")

    request = Request._from_asgi("https://x.test/", "GET", [], b"", make_cf)
    view = request.js_object  # what a legacy on_fetch receives
    assert made == []  # nobody asked yet: not built
    assert view.cf is request.cf and view.cf.colo == "LHR" and made == [1]


async def test_every_second_use_of_a_body_raises_body_used_error() -> None:
    request = Request("https://x.test/", method="POST", body="once")
    response = Response("once")
    for message in (request, response):  # pyodide.http.BodyUsedError
        await message.text()
        with pytest.raises(BodyUsedError):
            await message.text()
        with pytest.raises(BodyUsedError):
            message.clone()
