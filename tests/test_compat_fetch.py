from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from workerlab.compat import fetch as fetch_module
from workerlab.compat.fetch import FETCH_TIMEOUT_S, FetchError, aclose_fetch_client, fetch
from workerlab.compat.formdata import FormData
from workerlab.compat.request import Request
from workerlab.compat.response import Response


@pytest.fixture(autouse=True)
async def _close_client() -> AsyncIterator[None]:
    yield
    await aclose_fetch_client()


@respx.mock
async def test_get_returns_a_response_with_status_headers_and_body() -> None:
    route = respx.get("https://api.example.com/items").respond(
        200, json={"items": [1, 2]}, headers=[("X-Page", "1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    )
    response = await fetch("https://api.example.com/items")
    assert route.called
    assert isinstance(response, Response)
    assert (response.status, response.ok, response.status_text) == (200, True, "OK")
    assert response.url == "https://api.example.com/items"
    assert response.headers["x-page"] == "1"
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert response.headers["content-type"] == "application/json"
    assert await response.json() == {"items": [1, 2]}


@respx.mock
async def test_post_sends_method_headers_and_body() -> None:
    route = respx.post("https://api.example.com/send").respond(202, text="queued")
    response = await fetch(
        "https://api.example.com/send",
        method="post",
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        body=json.dumps({"to": "a@b.c"}),
    )
    sent = route.calls.last.request
    assert sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer k"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == {"to": "a@b.c"}
    assert response.status == 202
    assert await response.text() == "queued"


@respx.mock
async def test_str_and_form_bodies_get_their_default_content_type() -> None:
    route = respx.put("https://api.example.com/x").respond(204)
    await fetch("https://api.example.com/x", method="PUT", body="plain")
    assert route.calls.last.request.headers["content-type"] == "text/plain;charset=UTF-8"
    response = await fetch("https://api.example.com/x", method="PUT", body=FormData({"k": "v"}))
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="k"\r\n\r\nv\r\n' in sent.content
    assert response.status == 204
    assert await response.bytes() == b""


@respx.mock
async def test_fetch_a_request_uses_its_parts_and_body() -> None:
    route = respx.patch("https://api.example.com/r").respond(200, text="ok")
    request = Request(
        "https://api.example.com/r", method="PATCH", headers={"x-a": "1", "host": "other.test"}, body=b"raw"
    )
    await fetch(request)
    sent = route.calls.last.request
    assert (sent.method, sent.content, sent.headers["x-a"]) == ("PATCH", b"raw", "1")
    assert sent.headers["host"] == "api.example.com"  # Host follows the URL, as on Cloudflare
    assert request.body_used
    with pytest.raises(OSError, match="Body already used"):
        await fetch(request)


@respx.mock
async def test_fetch_a_request_with_overrides() -> None:
    route = respx.delete("https://api.example.com/r").respond(200)
    source = Request("https://api.example.com/r", headers={"x-a": "1"})
    await fetch(source, method="DELETE")
    assert route.calls.last.request.headers["x-a"] == "1"


@respx.mock
async def test_non_2xx_is_a_response_not_an_error() -> None:
    respx.get("https://api.example.com/missing").respond(404, text="nope")
    response = await fetch("https://api.example.com/missing")
    assert (response.status, response.ok, response.status_text) == (404, False, "Not Found")
    assert await response.text() == "nope"


@respx.mock
async def test_network_failure_names_the_url() -> None:
    respx.get("https://down.example.com/ping").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(FetchError) as caught:
        await fetch("https://down.example.com/ping")
    assert isinstance(caught.value, OSError)
    assert str(caught.value) == (
        "fetch(GET https://down.example.com/ping) failed: connection refused (ConnectError)"
    )
    assert caught.value.url == "https://down.example.com/ping"
    assert caught.value.method == "GET"


@respx.mock
async def test_timeout_names_the_url_and_the_limit() -> None:
    respx.post("https://slow.example.com/").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(
        FetchError,
        match=f"fetch\\(POST https://slow.example.com/\\) failed: no answer within {FETCH_TIMEOUT_S:g} s",
    ):
        await fetch("https://slow.example.com/", method="POST", body="x")


@respx.mock
async def test_redirects_follow_by_default_manual_returns_them_error_refuses() -> None:
    respx.get("https://a.example.com/old").respond(301, headers={"location": "https://a.example.com/new"})
    respx.get("https://a.example.com/new").respond(200, text="new")
    followed = await fetch("https://a.example.com/old")
    assert (followed.status, followed.url, followed.redirected) == (200, "https://a.example.com/new", True)
    assert await followed.text() == "new"

    manual = await fetch("https://a.example.com/old", redirect="manual")
    assert (manual.status, manual.redirected) == (301, False)
    assert manual.headers["location"] == "https://a.example.com/new"

    with pytest.raises(FetchError, match="redirect='error' refuses it"):
        await fetch("https://a.example.com/old", redirect="error")
    with pytest.raises(ValueError, match="redirect must be one of follow, manual, error"):
        await fetch("https://a.example.com/old", redirect="sometimes")


async def test_relative_url_is_rejected_before_any_request() -> None:
    with pytest.raises(TypeError, match="Invalid URL '/path'"):
        await fetch("/path")


@respx.mock
async def test_client_is_shared_and_recreated_after_close() -> None:
    respx.get("https://api.example.com/").respond(200)
    await fetch("https://api.example.com/")
    first = fetch_module._client.current
    await fetch("https://api.example.com/")
    assert fetch_module._client.current is first
    assert first is not None
    await aclose_fetch_client()
    assert first.is_closed
    assert fetch_module._client.current is None
    await fetch("https://api.example.com/")
    assert fetch_module._client.current is not None and fetch_module._client.current is not first


@respx.mock
async def test_a_client_from_another_event_loop_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    respx.get("https://api.example.com/").respond(200)
    await fetch("https://api.example.com/")
    stale = fetch_module._client.current
    monkeypatch.setattr(fetch_module._client, "_loop", object())  # as if made by an earlier test's loop
    await fetch("https://api.example.com/")
    assert fetch_module._client.current is not stale
    assert stale is not None
    await stale.aclose()
