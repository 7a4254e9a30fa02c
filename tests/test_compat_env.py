"""workers.env, patch_env, import_from_javascript and the RPC value helpers."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from workerlab.bindings.not_emulated import NotEmulatedError
from workerlab.compat import env as env_module
from workerlab.compat.env import env, patch_env
from workerlab.compat.ffi import JsMap, jsnull, to_js
from workerlab.compat.jsimport import import_from_javascript
from workerlab.compat.jsvalues import JsObject
from workerlab.compat.rpcvalues import python_from_rpc, python_to_rpc
from workerlab.context import ExecutionContext, current_context


@pytest.fixture
def event_env() -> Iterator[SimpleNamespace]:
    values = SimpleNamespace(API_KEY="secret", MODE="dev")
    token = current_context.set(ExecutionContext(env=values))
    yield values
    current_context.reset(token)


def test_env_outside_an_event_says_so() -> None:
    with pytest.raises(RuntimeError, match=r"workers\.env was used while no event is being handled"):
        env.API_KEY  # noqa: B018
    assert "no event" in repr(env)


def test_env_reads_the_current_events_env(event_env: SimpleNamespace) -> None:
    assert env.API_KEY == "secret"
    with pytest.raises(AttributeError):
        env.MISSING  # noqa: B018
    with pytest.raises(TypeError, match=r"not subscriptable on Cloudflare.*workers\.env\.API_KEY"):
        env["API_KEY"]


def test_patch_env_replaces_the_env_within_the_block(event_env: SimpleNamespace) -> None:
    with patch_env({"MODE": "test"}, EXTRA=1):
        assert (env.MODE, env.EXTRA) == ("test", 1)
        with pytest.raises(AttributeError, match="holds exactly what was given \\(EXTRA, MODE\\)"):
            env.API_KEY  # noqa: B018  (as on Cloudflare: the block's env is exactly what was given)
        with patch_env([("MODE", "inner")]):
            assert env.MODE == "inner"
        assert env.MODE == "test"
    assert env.MODE == "dev"
    with pytest.raises(ValueError, match="raised inside"), patch_env(MODE="x"):
        raise ValueError("raised inside")
    assert env.MODE == "dev"


def test_a_worker_called_inside_patch_env_keeps_its_own_env(event_env: SimpleNamespace) -> None:
    callee_env = SimpleNamespace(MODE="callee")
    with patch_env(MODE="patched"):
        token = current_context.set(ExecutionContext(env=callee_env))  # an RPC into another worker
        try:
            assert env.MODE == "callee"
        finally:
            current_context.reset(token)
        assert env.MODE == "patched"


def test_patch_env_warns_once_that_cloudflare_removed_its_helper(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env_module, "_warned", False)
    with patch_env(A=1), patch_env(B=2):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and env_module.PATCH_ENV_REMOVED in warnings[0]


async def test_cloudflare_workers_module(event_env: SimpleNamespace) -> None:
    module = import_from_javascript("cloudflare:workers")
    assert module.env.MODE == "dev"
    ctx = ExecutionContext()
    done: list[int] = []

    async def work() -> None:
        done.append(1)

    token = current_context.set(ctx)
    try:
        module.waitUntil(work())
    finally:
        current_context.reset(token)
    assert await ctx.wait() == [] and done == [1]


def test_other_javascript_modules() -> None:
    sockets = import_from_javascript("cloudflare:sockets")
    with pytest.raises(NotEmulatedError, match="connect\\(\\) has no local equivalent"):
        sockets.connect("example.com:443")
    with pytest.raises(ImportError, match=r"Failed to import 'node:crypto': .*only 'cloudflare:workers'"):
        import_from_javascript("node:crypto")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((1, 2), "<class 'tuple'> cannot be sent over RPC."),
        ({"a": [1, (2,)]}, "<class 'tuple'> cannot be sent over RPC."),
        (bytearray(b"x"), "<class 'bytearray'> cannot be sent over RPC."),
    ],
)
def test_python_to_rpc_refuses_what_the_sdk_refuses(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        python_to_rpc(value)


def test_python_to_rpc_refuses_awaitables() -> None:
    async def pending() -> None:
        pass

    coroutine = pending()
    with pytest.raises(TypeError, match=re.escape("Awaitable <class 'coroutine'> cannot be sent over RPC.")):
        python_to_rpc([coroutine])
    coroutine.close()
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_python_to_rpc_passes_the_rest() -> None:
    value = {"a": [1, "x", None], "b": b"raw", "f": len}
    assert python_to_rpc(value) is value
    assert python_to_rpc(jsnull) is None


def test_python_from_rpc_gives_attribute_dicts_none_and_memoryviews() -> None:
    result = python_from_rpc(
        {"user": {"name": "Ada", "nick": jsnull}, "ids": [1, {"k": 2}], "raw": to_js(b"ab")}
    )
    assert isinstance(result, JsObject) and result.user.name == "Ada" and result.user.nick is None
    assert result.ids[1].k == 2
    assert isinstance(result.raw, memoryview) and bytes(result.raw) == b"ab"
    as_map = python_from_rpc(JsMap({"k": {"v": 1}}))
    assert type(as_map) is dict and as_map["k"].v == 1
    assert python_from_rpc(jsnull) is None and python_from_rpc(3) == 3
