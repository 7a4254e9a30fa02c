"""Service bindings between workers loaded in one session (SPEC §10): fetch and RPC in-process.

The shop, auth and mailer workers live in tests/projects; a few small workers are written to
tmp_path where a test needs one of its own.
"""

from __future__ import annotations

import logging
import re
import socket
import textwrap
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest

from workerlab.bindings.service import ServiceUnavailableError
from workerlab.compat.request import Request
from workerlab.compat.response import Response
from workerlab.config import load_config
from workerlab.errors import ConfigError
from workerlab.mounts import new_token
from workerlab.session import Session, SessionOptions
from workerlab.testing import Worker

PROJECTS = Path(__file__).parent / "projects"
SHOP = PROJECTS / "shop" / "wrangler.toml"
AUTH = PROJECTS / "auth" / "wrangler.toml"
MAILER = PROJECTS / "mailer" / "wrangler.toml"

RPC_LINE = re.compile(r"^RPC (?P<worker>\S+)\.(?P<method>\S+) (?P<outcome>ok|exception) \((?P<ms>\d+)ms\)$")


@pytest.fixture
async def shop() -> AsyncIterator[Worker]:
    """The shop (primary) with the auth worker its AUTH and ADMIN bindings call."""
    worker = await Worker.start(SHOP, workers=[AUTH])
    yield worker
    assert await worker.close() == []


def calls(worker: Worker) -> list[str]:
    """The auth worker's record of what ran in it."""
    return worker.workers["auth"].module.CALLS


def write_worker(folder: Path, name: str, source: str, toml: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(textwrap.dedent(source))
    config = folder / "wrangler.toml"
    config.write_text(f'name = "{name}"\nmain = "worker.py"\n' + textwrap.dedent(toml))
    return config


def rpc_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    lines = [RPC_LINE.match(r.getMessage()) for r in caplog.records if r.name == "workerlab"]
    return [line for line in lines if line is not None]


# --- fetch ---------------------------------------------------------------------------------------


async def test_fetch_with_a_url_calls_the_targets_fetch_handler(shop: Worker) -> None:
    response = await shop.env.AUTH.fetch(
        "https://auth.example/account/me", headers={"authorization": "Bearer a"}
    )
    assert isinstance(response, Response)
    assert (response.status, response.headers.get("x-served-by")) == (200, "auth")
    assert await response.json() == {
        "worker": "auth",
        "method": "GET",
        "url": "https://auth.example/account/me",
        "authorization": "Bearer a",
        "body": "",
    }
    assert calls(shop) == ["fetch"]


async def test_fetch_carries_method_headers_and_body(shop: Worker) -> None:
    response = await shop.env.AUTH.fetch(
        "https://auth.example/account/password",
        method="POST",
        headers={"Authorization": "Bearer a", "content-type": "text/plain"},
        body="new-secret",
    )
    seen = await response.json()
    assert (seen["method"], seen["authorization"], seen["body"]) == ("POST", "Bearer a", "new-secret")


async def test_fetch_takes_a_request(shop: Worker) -> None:
    request = Request(
        "https://auth.example/account/email?confirm=1",
        method="PUT",
        headers={"authorization": "Bearer b"},
        body=b"ada@example.com",
    )
    seen = await (await shop.env.AUTH.fetch(request)).json()
    assert seen == {
        "worker": "auth",
        "method": "PUT",
        "url": "https://auth.example/account/email?confirm=1",
        "authorization": "Bearer b",
        "body": "ada@example.com",
    }


async def test_the_targets_error_status_comes_back_as_a_response(shop: Worker) -> None:
    response = await shop.env.AUTH.fetch("https://auth.example/account/me")
    assert (response.status, await response.text()) == (401, "Unauthorized")


async def test_a_handler_can_forward_its_own_request(shop: Worker) -> None:
    response = await shop.fetch(
        "/account/profile?tab=2", method="PATCH", headers={"authorization": "Bearer t-ada"}, body="name=Ada"
    )
    assert response.headers.get("x-served-by") == "auth"
    assert await response.json() == {
        "worker": "auth",
        "method": "PATCH",
        "url": "http://localhost/account/profile?tab=2",
        "authorization": "Bearer t-ada",
        "body": "name=Ada",
    }


async def test_an_exception_in_the_targets_fetch_is_raised_in_the_caller(tmp_path: Path) -> None:
    target = write_worker(
        tmp_path / "flaky",
        "flaky",
        """
        async def fetch(request):
            raise LookupError("no route for " + request.url)
        """,
    )
    caller = write_worker(
        tmp_path / "front",
        "front",
        "async def fetch(request, env):\n    return await env.FLAKY.fetch(request)\n",
        '[[services]]\nbinding = "FLAKY"\nservice = "flaky"\n',
    )
    worker = await Worker.start(caller, workers=[target])
    try:
        with pytest.raises(LookupError, match=r"^no route for http://localhost/x$"):
            await worker.fetch("/x")
    finally:
        assert await worker.close() == []


# --- RPC ---------------------------------------------------------------------------------------


async def test_rpc_calls_a_public_method_of_default(shop: Worker) -> None:
    user = await shop.env.AUTH.verify("t-ada")
    assert user == {"ok": True, "user": {"name": "ada", "roles": ["buyer", "admin"]}}
    assert (user.ok, user.user.name, user["user"]["roles"]) == (True, "ada", ["buyer", "admin"])
    assert calls(shop) == ["verify"]


async def test_rpc_from_a_handler(shop: Worker) -> None:
    response = await shop.fetch("/login", headers={"authorization": "Bearer t-bob"})
    assert await response.json() == {"ok": True, "name": "bob", "roles": ["buyer"]}
    assert (await shop.fetch("/login", headers={"authorization": "Bearer nope"})).status == 401


async def test_rpc_runs_the_method_with_the_targets_env(shop: Worker) -> None:
    # whoami is a plain def; self.env is auth's env, not the caller's.
    assert await shop.env.AUTH.whoami() == {"worker": "auth", "utils": "utils of auth", "realm": "accounts"}
    assert shop.env.REALM == "storefront"


async def test_rpc_to_a_named_entrypoint(shop: Worker) -> None:
    stats = await shop.env.ADMIN.stats()
    assert (stats.worker, stats.calls) == ("auth", 1)
    assert calls(shop) == ["stats"]
    assert await (await shop.fetch("/admin/stats")).json() == {**stats, "calls": 2}


async def test_a_named_entrypoint_exposes_only_its_own_methods(shop: Worker) -> None:
    with pytest.raises(TypeError, match=r'auth#AdminApi does not implement the method "verify"'):
        await shop.env.ADMIN.verify("t-ada")
    assert calls(shop) == []


def _aware() -> datetime:
    return datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=timezone(timedelta(hours=2)))


ROUND_TRIPS: list[tuple[str, Any, Any]] = [
    ("None", None, None),
    ("bool", True, True),
    ("int", -(2**62), -(2**62)),
    ("float", 2.5, 2.5),
    ("str", "grüße ✓", "grüße ✓"),
    ("bytes", b"\x00\xffraw", b"\x00\xffraw"),
    ("bytearray", bytearray(b"ab"), b"ab"),
    ("list", [1, "a", None, [2.5]], [1, "a", None, [2.5]]),
    ("tuple as list", (1, (2, 3)), [1, [2, 3]]),
    ("dict", {"a": {"b": [1, (2,)]}, "n": None}, {"a": {"b": [1, [2]]}, "n": None}),
    ("aware datetime", _aware(), _aware()),
    ("naive datetime", datetime(2026, 1, 1, 8, 0), datetime(2026, 1, 1, 8, 0)),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in ROUND_TRIPS], ids=[c[0] for c in ROUND_TRIPS])
async def test_values_of_every_allowed_type_round_trip(shop: Worker, value: Any, expected: Any) -> None:
    result = await shop.env.AUTH.echo(value)
    assert result == expected
    assert type(result) is type(expected) or isinstance(expected, dict)
    if isinstance(expected, datetime):
        assert result.utcoffset() == expected.utcoffset()


async def test_a_dict_arrives_with_attribute_access_and_as_a_copy(shop: Worker) -> None:
    order = {"id": 7, "customer": {"name": "Ada", "tags": ("vip",)}, "lines": [{"sku": "tea", "qty": 2}]}
    result = await shop.env.AUTH.echo(order)
    assert (result.customer.name, result.customer.tags, result.lines[0].qty) == ("Ada", ["vip"], 2)
    assert result["customer"]["name"] == "Ada"
    result.customer["name"] = "changed"
    assert order["customer"]["name"] == "Ada"


async def test_the_target_sees_tuples_as_lists_and_bytearrays_as_bytes(shop: Worker) -> None:
    assert await shop.env.AUTH.seen_as((1, 2)) == "list"
    assert await shop.env.AUTH.seen_as(bytearray(b"x")) == "bytes"


async def test_a_request_goes_in_and_a_response_comes_back(shop: Worker) -> None:
    request = Request(
        "https://auth.example/render", method="POST", headers={"x-in": "header"}, body="payload"
    )
    response = await shop.env.AUTH.render(request)
    assert isinstance(response, Response)
    assert (response.status, response.headers.get("x-seen")) == (201, "header")
    assert await response.text() == "POST https://auth.example/render payload"
    assert await request.text() == "payload"  # the caller's request was copied, not consumed


async def test_requests_and_responses_round_trip_with_their_bodies(shop: Worker) -> None:
    request = Request("https://a.example/x", method="DELETE", headers={"x-k": "v"}, body="gone")
    back = await shop.env.AUTH.echo(request)
    assert isinstance(back, Request)
    assert (back.url, back.method, back.headers.get("x-k"), await back.text()) == (
        "https://a.example/x",
        "DELETE",
        "v",
        "gone",
    )
    response = Response("made", status=418, headers={"x-r": "1"})
    returned = await shop.env.AUTH.echo(response)
    assert isinstance(returned, Response)
    assert (returned.status, returned.headers.get("x-r"), await returned.text()) == (418, "1", "made")


class Role(StrEnum):
    ADMIN = "admin"


class Level(IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("value", "plain"), [(Role.ADMIN, "str"), (Level.HIGH, "int")], ids=["StrEnum", "IntEnum"]
)
async def test_a_subclass_of_a_plain_type_arrives_as_the_plain_type(
    shop: Worker, value: Any, plain: str
) -> None:
    assert await shop.env.AUTH.seen_as(value) == plain
    back = await shop.env.AUTH.echo(value)
    assert (type(back).__name__, back) == (plain, value)


class Token:
    def __init__(self, value: str) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({"t-ada", "t-bob"}, "set"),
        (Token("t-ada"), "Token"),
        (lambda: "t-ada", "function"),
        ({"tokens": [frozenset({"t"})]}, "frozenset"),
    ],
    ids=["set", "object", "function", "nested frozenset"],
)
async def test_an_argument_that_cannot_cross_is_a_type_error_before_the_target_runs(
    shop: Worker, value: Any, type_name: str
) -> None:
    with pytest.raises(TypeError, match=rf"\b{type_name}\b") as raised:
        await shop.env.AUTH.echo(value)
    assert "RPC" in str(raised.value)
    assert calls(shop) == []


async def test_a_result_that_cannot_cross_is_a_type_error_in_the_caller(shop: Worker) -> None:
    with pytest.raises(TypeError, match=r"\bset\b"):
        await shop.env.AUTH.active_tokens()


async def test_a_built_in_exception_arrives_as_itself(shop: Worker) -> None:
    with pytest.raises(ValueError, match=r"^no token given$") as raised:
        await shop.env.AUTH.verify("")
    assert type(raised.value) is ValueError
    with pytest.raises(KeyError) as missing:
        await shop.env.AUTH.lookup("carol")
    assert (type(missing.value), missing.value.args) == (KeyError, ("carol",))


async def test_a_custom_exception_arrives_with_its_name_and_message(shop: Worker) -> None:
    with pytest.raises(Exception) as raised:
        await shop.env.AUTH.verify("t-expired")
    assert type(raised.value).__name__ == "TokenExpired"
    assert str(raised.value) == "the token t-expired expired at 2025-12-31T00:00:00Z"
    response = await shop.fetch("/login-safe", headers={"authorization": "Bearer t-expired"})
    assert response.status == 503
    assert await response.json() == {
        "error": "TokenExpired",
        "message": "the token t-expired expired at 2025-12-31T00:00:00Z",
    }


async def test_an_rpc_exception_in_a_handler_is_raised_in_the_test(shop: Worker) -> None:
    with pytest.raises(ValueError, match=r"^no token given$"):
        await shop.fetch("/login")


@pytest.mark.parametrize("method", ["_rotate_keys", "queue", "scheduled"])
async def test_private_methods_and_handlers_are_not_callable_over_rpc(shop: Worker, method: str) -> None:
    with pytest.raises(TypeError, match=rf'does not implement the method "{method}"'):
        await getattr(shop.env.AUTH, method)()
    assert calls(shop) == []


async def test_fetch_on_a_named_entrypoint_without_fetch_names_both(shop: Worker) -> None:
    with pytest.raises(Exception, match=r"AdminApi.*fetch"):
        await shop.env.ADMIN.fetch("https://auth.example/")


async def test_a_missing_method_is_a_type_error_naming_it(shop: Worker) -> None:
    with pytest.raises(TypeError, match=r'The RPC receiver auth does not implement the method "refund"'):
        await shop.env.AUTH.refund("order-7")


async def test_rpc_to_a_worker_without_a_default_class_names_what_is_missing(tmp_path: Path) -> None:
    target = write_worker(
        tmp_path / "legacy",
        "legacy",
        """
        from workers import Response

        async def on_fetch(request):
            return Response("legacy " + request.method)
        """,
    )
    caller = write_worker(
        tmp_path / "front", "front", "", '[[services]]\nbinding = "OLD"\nservice = "legacy"\n'
    )
    worker = await Worker.start(caller, workers=[target])
    try:
        assert await (await worker.env.OLD.fetch("https://legacy/", method="POST")).text() == "legacy POST"
        with pytest.raises(TypeError, match=r"legacy has no Default class.*ping\(\)"):
            await worker.env.OLD.ping()
    finally:
        assert await worker.close() == []


@pytest.mark.parametrize(("entrypoint", "found"), [("Helper", "a type"), ("Billing", "nothing")])
async def test_an_entrypoint_that_is_no_worker_entrypoint_is_an_error_at_load(
    tmp_path: Path, entrypoint: str, found: str
) -> None:
    caller = write_worker(
        tmp_path / "front",
        "front",
        "",
        f'[[services]]\nbinding = "ADMIN"\nservice = "auth"\nentrypoint = "{entrypoint}"\n',
    )
    with pytest.raises(ConfigError, match=rf'entrypoint "{entrypoint}".*WorkerEntrypoint subclass.*{found}'):
        worker = await Worker.start(caller, workers=[AUTH])
        await worker.close()


# --- log lines, missing services, bindings across workers ---------------------------------------


async def test_each_call_is_logged_as_one_rpc_line(shop: Worker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="workerlab")
    await shop.env.AUTH.verify("t-ada")
    with pytest.raises(ValueError):
        await shop.env.AUTH.verify("")
    await shop.env.ADMIN.stats()
    await shop.env.AUTH.fetch("https://auth.example/")
    with pytest.raises(TypeError):
        await shop.env.AUTH.echo({1})
    lines = [(m["worker"], m["method"], m["outcome"]) for m in rpc_lines(caplog)]
    assert lines == [
        ("auth", "verify", "ok"),
        ("auth", "verify", "exception"),
        ("auth", "stats", "ok"),
        ("auth", "fetch", "ok"),
        ("auth", "echo", "exception"),
    ]


async def test_a_service_loaded_nowhere_raises_on_use_naming_it_and_how_to_start_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = await Worker.start(SHOP)  # loads: the binding is checked when used
    try:
        caplog.set_level(logging.INFO, logger="workerlab")
        with pytest.raises(ServiceUnavailableError) as raised:
            await worker.env.AUTH.verify("t-ada")
        message = str(raised.value)
        assert 'env.AUTH: the service "auth" is not running' in message
        assert "workers=[" in message  # the harness: load it beside this one
        assert "workerlab dev -c" in message
        with pytest.raises(ServiceUnavailableError, match='"auth" is not running'):
            await worker.fetch("/login", headers={"authorization": "Bearer t-ada"})
        assert [(m["worker"], m["method"], m["outcome"]) for m in rpc_lines(caplog)] == [
            ("auth", "verify", "exception"),
            ("auth", "verify", "exception"),
        ]
    finally:
        assert await worker.close() == []


async def test_a_registered_process_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    session = await Session.open([load_config(SHOP)], SessionOptions(persist_dir=tmp_path))
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        registry = session.dev_registry()
        assert registry is not None
        registry.register(["auth"], f"http://127.0.0.1:{closed_port}", new_token())  # this live process
        with pytest.raises((ServiceUnavailableError, ConnectionError), match=r"\bauth\b"):
            await session.workers["shop"].env.AUTH.verify("t-ada")
    finally:
        await session.close()


@pytest.mark.parametrize(("primary", "other"), [(SHOP, AUTH), (AUTH, SHOP)], ids=["shop first", "auth first"])
async def test_bindings_reach_workers_listed_before_and_after_them(primary: Path, other: Path) -> None:
    worker = await Worker.start(primary, workers=[other])
    try:
        shop, auth = worker.workers["shop"], worker.workers["auth"]
        assert (await shop.env.AUTH.verify("t-ada")).ok is True
        # auth reaches the shop through its own SHOP binding: the two bindings form a cycle.
        assert (await (await auth.env.SHOP.fetch("https://shop.example/whoami")).json())["worker"] == "shop"
        page = await shop.env.AUTH.shop_page("/whoami")
        assert page == {"worker": "shop", "utils": "utils of shop", "price": "19.99 EUR"}
    finally:
        assert await worker.close() == []


async def test_a_producer_in_one_worker_feeds_the_consumer_in_another() -> None:
    worker = await Worker.start(SHOP, workers=[AUTH, MAILER])
    try:
        for item in ("tea", "cups"):
            response = await worker.fetch(
                "/orders", method="POST", json={"email": "ada@example.com", "item": item}
            )
            assert response.status == 202
        assert worker.workers["mailer"].module.SENT == []
        await worker.drain()
        assert worker.workers["mailer"].module.SENT == [
            {"from": "shop@example.com", "to": "ada@example.com", "subject": "Your order: tea"},
            {"from": "shop@example.com", "to": "ada@example.com", "subject": "Your order: cups"},
        ]
        assert [m.body["subject"] for m in worker.queues["emails"].acked] == [
            "Your order: tea",
            "Your order: cups",
        ]
        assert worker.queues["emails"].pending == []
    finally:
        assert await worker.close() == []
