"""Who may use the inspector: loopback clients naming this machine; changes need the page's token
and the page's own origin (a web page elsewhere cannot purge a queue)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_inspector_support import API, ORIGIN, inspected, scope

from workerlab.inspector import InspectorApp, inspector_url
from workerlab.inspector.guard import check

TOKEN = "secret-token"


def test_a_read_from_this_machine_passes() -> None:
    assert check(scope(), TOKEN) is None


@pytest.mark.parametrize("client", ["127.0.0.1", "127.5.6.7", "::1"])
def test_loopback_clients_pass(client: str) -> None:
    assert check(scope(client=client), TOKEN) is None


@pytest.mark.parametrize("client", ["10.0.0.5", "192.168.1.20", "2001:db8::1"])
def test_clients_off_this_machine_are_refused(client: str) -> None:
    refusal = check(scope(client=client), TOKEN)
    assert refusal is not None
    assert (refusal.status, refusal.code) == (403, "loopback-only")
    assert "SSH tunnel" in refusal.message


def test_remote_clients_pass_when_allowed() -> None:
    assert (
        check(scope(client="10.0.0.5", headers={"host": "10.0.0.1:8787"}), TOKEN, allow_remote=True) is None
    )


@pytest.mark.parametrize("host", ["localhost:8787", "127.0.0.1:8787", "[::1]:8787", "app.localhost:8787"])
def test_loopback_host_names_pass(host: str) -> None:
    assert check(scope(headers={"host": host}), TOKEN) is None


@pytest.mark.parametrize("host", ["evil.example:8787", "rebind.attacker.test", ""])
def test_a_host_name_that_is_not_this_machine_is_refused(host: str) -> None:
    # DNS rebinding: evil.example resolves to 127.0.0.1, so the browser calls it same-origin.
    refusal = check(scope(headers={"host": host}), TOKEN)
    assert refusal is not None and refusal.code == "unknown-host"


def test_the_address_the_request_came_in_on_passes_as_host() -> None:
    request = scope(server=("192.168.1.5", 8787), headers={"host": "192.168.1.5:8787"})
    assert check(request, TOKEN) is None


def test_a_change_without_the_token_is_refused() -> None:
    refusal = check(scope("POST", headers={"origin": ORIGIN}), TOKEN)
    assert refusal is not None and (refusal.status, refusal.code) == (403, "bad-token")


def test_a_change_with_a_wrong_token_is_refused() -> None:
    refusal = check(scope("POST", headers={"x-workerlab-token": "guess", "origin": ORIGIN}), TOKEN)
    assert refusal is not None and refusal.code == "bad-token"


def test_a_change_from_the_page_passes() -> None:
    headers = {"x-workerlab-token": TOKEN, "origin": ORIGIN, "sec-fetch-site": "same-origin"}
    assert check(scope("POST", headers=headers), TOKEN) is None


def test_a_change_from_another_origin_is_refused_even_with_the_token() -> None:
    refusal = check(
        scope("POST", headers={"x-workerlab-token": TOKEN, "origin": "https://evil.example"}), TOKEN
    )
    assert refusal is not None and (refusal.status, refusal.code) == (403, "cross-origin")
    assert "https://evil.example" in refusal.message


def test_a_change_another_site_started_is_refused() -> None:
    headers = {"x-workerlab-token": TOKEN, "sec-fetch-site": "cross-site"}
    refusal = check(scope("POST", headers=headers), TOKEN)
    assert refusal is not None and refusal.code == "cross-origin"


def test_a_change_from_a_program_with_the_token_passes() -> None:
    # A script or the CLI sends no Origin: only a browser can be made to send requests for a page.
    assert check(scope("POST", headers={"x-workerlab-token": TOKEN}), TOKEN) is None


def test_each_app_has_its_own_token() -> None:
    first, second = InspectorApp(), InspectorApp()
    assert first.token != second.token
    assert len(first.token) >= 40


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8787/cdn-cgi/workerlab/"),
        ("0.0.0.0", "http://127.0.0.1:8787/cdn-cgi/workerlab/"),
        ("::1", "http://[::1]:8787/cdn-cgi/workerlab/"),
    ],
)
def test_the_url_printed_at_start(host: str, url: str) -> None:
    assert inspector_url(host, 8787) == url


# --- through the app ---------------------------------------------------------------------------


async def test_the_page_carries_the_token_and_the_api_checks_it(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        page = await shop.client.get("/cdn-cgi/workerlab/")
        assert page.status_code == 200
        token = re.search(r'<meta name="workerlab-token" content="([^"]+)">', page.text)
        assert token is not None and token.group(1) == shop.inspector.token
        refused = await shop.client.post(API + "queues/jobs/send", json={"body": 1})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "bad-token"
        accepted = await shop.post("queues/jobs/send", {"body": 1})
        assert accepted.status_code == 200


async def test_a_cross_origin_post_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        before = await shop.get("queues")
        refused = await shop.post("queues/jobs/send", {"body": 1}, origin="http://evil.example")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "cross-origin"
        assert await shop.get("queues") == before


async def test_every_answer_forbids_framing_and_foreign_scripts(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        for path in ("/cdn-cgi/workerlab/", API + "queues", API + "nothing-here"):
            response = await shop.client.get(path)
            policy = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_unknown_route_is_a_json_404(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        response = await shop.client.get(API + "nothing-here")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not-found"


async def test_the_page_ships_every_file_it_loads(tmp_path: Path) -> None:
    async with inspected(tmp_path) as shop:
        page = (await shop.client.get("/cdn-cgi/workerlab/")).text
        assert "http://" not in page and "https://" not in page  # nothing from elsewhere
        for name in ("main.js", "core.js", "queues.js", "timeline.js", "inspector.css", "favicon.svg"):
            response = await shop.client.get(f"/cdn-cgi/workerlab/static/{name}")
            assert response.status_code == 200, name
            assert b"https://" not in response.content, name
        assert (await shop.client.get("/cdn-cgi/workerlab/static/../app.py")).status_code == 404
