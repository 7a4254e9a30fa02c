"""The js module: JSON, Object, console, URL, Headers, Request, Response, fetch, Date, crypto."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator

import pytest
import respx

from workerlab.compat import js
from workerlab.compat.fetch import aclose_fetch_client
from workerlab.compat.ffi import JsException, jsnull, to_js
from workerlab.compat.jsvalues import JsObjectProxy
from workerlab.compat.response import Response as SdkResponse


def obj(**fields: object) -> JsObjectProxy:
    return js.Object.new(**fields)


def test_json_stringify_writes_what_javascript_writes() -> None:
    value = to_js(
        {"a": 1.0, "b": [True, None, jsnull], "c": "é", "d": float("nan")},
        dict_converter=js.Object.fromEntries,
    )
    assert js.JSON.stringify(value) == '{"a":1,"b":[true,null,null],"c":"é","d":null}'
    assert js.JSON.stringify(obj(a=1), None, 2) == '{\n  "a": 1\n}'
    assert js.JSON.stringify(None) is None and js.JSON.stringify("x") == '"x"'


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], (1,)])
def test_json_stringify_refuses_python_containers(value: object) -> None:
    with pytest.raises(TypeError, match=r"opaque proxy.*to_js\(value, dict_converter=Object\.fromEntries\)"):
        js.JSON.stringify(value)


def test_json_parse() -> None:
    parsed = js.JSON.parse('{"user": {"name": "Ada"}, "tags": ["x"]}')
    assert parsed.user.name == "Ada" and parsed.tags[0] == "x"
    assert parsed.to_py() == {"user": {"name": "Ada"}, "tags": ["x"]}
    with pytest.raises(JsException, match="SyntaxError"):
        js.JSON.parse("{nope")


def test_object_helpers() -> None:
    made = js.Object.fromEntries([["a", 1], ("b", 2)])
    assert (made.a, made.b) == (1, 2)
    assert js.Object.fromEntries({"k": "v"}.items()).k == "v"
    assert js.Object.fromEntries([[1, "one"]]).to_py() == {"1": "one"}  # JS keys are strings
    with pytest.raises(TypeError, match=r"pass d\.items\(\)"):
        js.Object.fromEntries({"k": "v"})
    assert js.Object.keys(made) == ["a", "b"] and js.Object.values(made) == [1, 2]
    assert js.Object.entries(made) == [["a", 1], ["b", 2]]
    assert js.Object.assign(made, obj(c=3)).c == 3
    assert js.Object.new().to_py() == {}


def test_console_goes_to_the_workerlab_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="workerlab")
    js.console.log("count", 3, True, None, obj(a=to_js([1])))
    js.console.info("info")
    js.console.warn("careful")
    js.console.error("broken")
    levels = [
        (record.levelno, record.getMessage()) for record in caplog.records if record.name == "workerlab"
    ]
    assert levels == [
        (logging.INFO, 'count 3 true undefined {"a": [1]}'),
        (logging.INFO, "info"),
        (logging.WARNING, "careful"),
        (logging.ERROR, "broken"),
    ]


def test_url_parts_and_search_params() -> None:
    url = js.URL.new("HTTPS://Example.com:443/a%20b/c?q=one+two&q=3&flag#top")
    assert url.href == "https://example.com/a%20b/c?q=one+two&q=3&flag#top"
    assert (url.protocol, url.host, url.hostname, url.port) == ("https:", "example.com", "example.com", "")
    assert (url.pathname, url.search, url.hash, url.origin) == (
        "/a%20b/c",
        "?q=one+two&q=3&flag",
        "#top",
        "https://example.com",
    )
    assert url.searchParams.get("q") == "one two" and url.searchParams.getAll("q") == ["one two", "3"]
    assert url.searchParams.get("missing") is None and url.searchParams.has("flag")
    url.searchParams.set("q", "new")
    assert url.search == "?q=new&flag="
    assert js.URL.new("http://localhost:8787").pathname == "/"
    assert js.URL.new("/x?y=1", "https://a.test/base/").href == "https://a.test/x?y=1"
    assert js.URL.new("http://h:8080/").port == "8080"
    with pytest.raises(JsException, match="TypeError: Invalid URL"):
        js.URL.new("/relative")
    params = js.URLSearchParams.new("?a=1&b=x y")
    params.append("c", 3)
    assert params.toString() == "a=1&b=x+y&c=3" and [list(pair) for pair in params] == [
        ["a", "1"],
        ["b", "x y"],
        ["c", "3"],
    ]


def test_headers_new_takes_pairs_and_refuses_a_python_dict() -> None:
    headers = js.Headers.new({"Content-Type": "text/plain", "X-A": "1"}.items())
    headers.append("set-cookie", "a=1")
    headers.append("set-cookie", "b=2")
    assert (
        headers.get("content-type") == "text/plain" and headers["x-a"] == "1" and headers.get("nope") is None
    )
    assert "x-a" in headers and headers.getSetCookie() == ["a=1", "b=2"]
    assert [list(pair) for pair in headers] == [
        ["content-type", "text/plain"],
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
        ["x-a", "1"],
    ]
    assert js.Headers.new(obj(accept="*/*")).get("accept") == "*/*"
    assert js.Headers.new(headers).get("x-a") == "1"
    with pytest.raises(TypeError, match=r"Python dict for headers.*pass d\.items\(\)"):
        js.Headers.new({"a": "b"})


async def test_response_new() -> None:
    response = js.Response.new("hi", status=201, statusText="Made", headers=js.Headers.new([("x-a", "1")]))
    assert (response.status, response.statusText, response.ok) == (201, "Made", True)
    assert response.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert isinstance(response, SdkResponse)  # the server sends it as it is
    assert await response.text() == "hi" and response.bodyUsed

    copied = js.Response.new("other", response)  # new Response(body, init) with another response
    assert (copied.status, copied.headers.get("x-a")) == (201, "1")
    form = js.Response.new(js.URLSearchParams.new("a=1"))
    assert form.headers.get("content-type") == "application/x-www-form-urlencoded;charset=UTF-8"
    assert await js.Response.new(to_js(b"\x01")).arrayBuffer() == b"\x01"
    assert js.Response.new(None, obj(status=204)).status == 204


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: js.Response.new(b"raw"), TypeError, "Python bytes.*to_js\\(data\\)"),
        (lambda: js.Response.new("x", {"status": 404}), TypeError, "Python dict as its init"),
        (lambda: js.Response.new("x", status=600), JsException, "RangeError"),
        (lambda: js.Response.new("x", webSocket=None), TypeError, "unsupported option\\(s\\) webSocket"),
        (lambda: js.Response("x"), TypeError, "use Response.new"),
        (lambda: js.Response.json({"a": 1}), TypeError, "opaque proxy"),
        (lambda: js.Response.redirect("https://x.test/", 200), JsException, "RangeError"),
    ],
)
def test_response_new_mistakes(call: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


async def test_response_json_static_and_instance() -> None:
    response = js.Response.json(obj(a=to_js([1, 2])), status=202)
    assert response.status == 202 and response.headers.get("content-type") == "application/json"
    body = await response.json()
    assert body.a == [1, 2]
    with pytest.raises(AttributeError, match="has no attribute 'status_text'; JS spells it statusText"):
        response.status_text  # noqa: B018


async def test_request_new() -> None:
    request = js.Request.new("https://x.test/p", method="POST", body="data", headers=[("x-a", "1")])
    assert (request.method, request.url, request.headers.get("x-a")) == ("POST", "https://x.test/p", "1")
    assert type(request.method) is str
    assert await request.text() == "data"
    with pytest.raises(OSError, match="Body already used"):
        await request.arrayBuffer()
    cloned = js.Request.new(js.Request.new("https://x.test/", method="PUT", body="b"))
    assert cloned.method == "PUT" and await cloned.bytes() == b"b"


@pytest.fixture
async def _fetch_client() -> AsyncIterator[None]:
    yield
    await aclose_fetch_client()


@respx.mock
async def test_fetch_returns_a_js_response(_fetch_client: None) -> None:
    route = respx.post("https://api.test/items").respond(201, json={"id": 7})
    response = await js.fetch(
        "https://api.test/items",
        method="POST",
        body=js.JSON.stringify(obj(name="x")),
        headers=[("content-type", "application/json")],
    )
    assert route.called and route.calls[0].request.content == b'{"name":"x"}'
    assert (response.status, response.statusText) == (201, "Created")
    assert (await response.json()).id == 7
    with pytest.raises(TypeError, match="Python dict as its init"):
        await js.fetch("https://api.test/items", {"method": "POST"})


def test_date_crypto_and_text_codecs() -> None:
    before = time.time_ns() // 1_000_000
    assert before <= js.Date.now() <= time.time_ns() // 1_000_000
    assert js.Date.new(0).toISOString() == "1970-01-01T00:00:00.000Z"
    assert js.Date.new("2026-01-01T00:00:00Z").getTime() == 1_767_225_600_000
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", js.crypto.randomUUID()
    )
    encoded = js.TextEncoder.new().encode("é")
    assert encoded == b"\xc3\xa9" and js.TextDecoder.new().decode(encoded) == "é"
    assert js.Uint8Array.new(2) == b"\x00\x00" and js.ArrayBuffer.new(1).byteLength == 1


def test_missing_globals_say_so() -> None:
    with pytest.raises(AttributeError, match="no local equivalent of the JavaScript global HTMLRewriter"):
        js.HTMLRewriter  # noqa: B018
