from __future__ import annotations

import asyncio
import os
import sys
import types
from typing import Any

import pytest
from test_durable_support import Counter, Lab, LabFactory, Plain

from workerlab.compat.entrypoint import DurableObject, WorkerEntrypoint
from workerlab.compat.request import Request
from workerlab.compat.response import Response
from workerlab.context import event_env
from workerlab.durable import (
    durable_object_class,
    list_durable_object_ids,
    run_in_durable_object,
)
from workerlab.durable.limits import MAX_LIVE_OBJECTS
from workerlab.durable.residency import MIN_LIVE_OBJECTS, live_object_budget
from workerlab.errors import ConfigError
from workerlab.rpc import RemoteError
from workerlab.tracebacks import is_user_frame

pytest_plugins = ["test_durable_support"]


class Custom(Exception):
    pass


class Service(DurableObject):
    """Exercises what crosses a stub: arguments, results, errors, env, waitUntil."""

    constructed = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        Service.constructed += 1

    async def echo(self, value: Any) -> Any:
        if isinstance(value, list):
            value.append("changed inside")
        return value

    async def fail(self, kind: str) -> None:
        if kind == "value":
            raise ValueError("bad value")
        raise Custom("custom failure")

    async def environment(self) -> Any:
        return [self.env["NAME"], event_env()["NAME"]]

    async def identity(self) -> Any:
        return [self.ctx.id.toString(), self.ctx.id.name]

    async def later(self, key: str) -> None:
        async def write() -> None:
            await self.ctx.storage.put(key, "written later")

        self.ctx.waitUntil(write())

    async def failing_later(self) -> None:
        async def boom() -> None:
            raise RuntimeError("background failure")

        self.ctx.waitUntil(boom())

    async def _private(self) -> None:
        return None


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    Service.constructed = 0


async def test_rpc_arguments_and_results_cross_by_value(lab: Lab) -> None:
    stub = lab.namespace(Service).getByName("s")
    sent = ["original"]
    assert await stub.echo(sent) == ["original", "changed inside"]
    assert sent == ["original"]
    result = await stub.echo({"nested": {"n": 1}})
    assert result.nested.n == 1
    with pytest.raises(TypeError, match=r"argument 1 of echo.*object"):
        await stub.echo(object())


async def test_one_instance_per_object_and_a_plain_method(lab: Lab) -> None:
    ns = lab.namespace(Service)
    await ns.getByName("a").echo(1)
    await ns.get(ns.idFromName("a")).echo(2)
    await ns.get(ns.idFromString(ns.idFromName("a").toString())).echo(3)
    assert Service.constructed == 1
    await ns.getByName("b").echo(4)
    assert Service.constructed == 2
    assert await lab.namespace(Plain).getByName("p").hello("you") == "hello you"


async def test_the_targets_exceptions_reach_the_caller(lab: Lab) -> None:
    stub = lab.namespace(Service).getByName("s")
    with pytest.raises(ValueError, match="bad value") as caught:
        await stub.fail("value")
    cause = caught.value.__cause__
    assert isinstance(cause, ValueError)
    frames = []
    tb = cause.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert frames and all(is_user_frame(name) for name in frames)  # the object's own frames only
    with pytest.raises(RemoteError, match="custom failure") as custom:
        await stub.fail("custom")
    assert type(custom.value).__name__ == "Custom"


async def test_private_and_handler_methods_are_not_callable(lab: Lab) -> None:
    stub = lab.namespace(Service).getByName("s")
    for name in ("_private", "alarm", "fetch_nothing"):
        with pytest.raises(TypeError, match=f'does not implement the method "{name}"'):
            await getattr(stub, name)()
    assert "Service" in repr(stub)


async def test_env_and_id_inside_the_object(lab: Lab) -> None:
    lab.env["NAME"] = "the env"
    ns = lab.namespace(Service)
    assert await ns.getByName("s").environment() == ["the env", "the env"]
    assert await ns.getByName("s").identity() == [ns.idFromName("s").toString(), "s"]
    unique = ns.newUniqueId()
    assert await ns.get(unique).identity() == [unique.toString(), None]


async def test_fetch(lab: Lab) -> None:
    stub = lab.namespace(Counter).getByName("f")
    await stub.increment(5)
    response = await stub.fetch("https://do/path?q=1", method="POST", body="data")
    assert isinstance(response, Response) and await response.text() == "POST https://do/path?q=1 5"
    request = Request("https://do/from-request", method="PUT", body="x")
    assert await (await stub.fetch(request)).text() == "PUT https://do/from-request 5"
    with pytest.raises(TypeError, match="has no fetch"):
        await lab.namespace(Plain).getByName("p").fetch("https://do/")


async def test_fetch_must_answer_a_response(lab: Lab) -> None:
    class Wrong(DurableObject):
        async def fetch(self, request: Any) -> str:
            return "not a response"

    with pytest.raises(TypeError, match="must return a Response, returned str"):
        await lab.namespace(Wrong).getByName("w").fetch("https://do/")


async def test_wait_until_work_outlives_the_call(lab: Lab) -> None:
    stub = lab.namespace(Service).getByName("s")
    await stub.later("k")
    storage = await run_in_durable_object(stub, lambda instance, ctx: ctx.storage)
    assert await lab.work.settle() == []
    assert await storage.get("k") == "written later"


async def test_wait_until_failures_are_reported(lab: Lab) -> None:
    await lab.namespace(Service).getByName("s").failing_later()
    failures = await lab.work.settle()
    assert [str(error) for error in failures] == ["background failure"]


async def test_a_failing_constructor_fails_the_call_and_is_tried_again(lab: Lab) -> None:
    class Fragile(DurableObject):
        tries = 0

        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            Fragile.tries += 1
            if Fragile.tries == 1:
                raise ConnectionError("not yet")

        def ok(self) -> str:
            return "ok"

    stub = lab.namespace(Fragile).getByName("f")
    with pytest.raises(ConnectionError, match="not yet"):
        await stub.ok()
    assert await stub.ok() == "ok"


async def test_run_in_durable_object_reaches_the_instance(lab: Lab) -> None:
    stub = lab.namespace(Counter).getByName("r")
    await stub.increment(3)

    async def inspect_it(instance: Any, ctx: Any) -> Any:
        assert isinstance(instance, Counter) and ctx is instance.ctx
        return await ctx.storage.get("count")

    assert await run_in_durable_object(stub, inspect_it) == 3
    assert await run_in_durable_object(stub, lambda instance, ctx: ctx.id.name) == "r"
    with pytest.raises(ZeroDivisionError):
        await run_in_durable_object(stub, lambda instance, ctx: 1 / 0)


async def test_list_durable_object_ids(make_lab: LabFactory, tmp_path) -> None:
    lab = make_lab(tmp_path)
    ns = lab.namespace(Counter)
    for name in ("b", "a"):
        await ns.getByName(name).increment()
    unique = ns.newUniqueId()
    await ns.get(unique).count()  # constructed, stored nothing
    await lab.namespace(Counter, worker="other").getByName("elsewhere").increment()  # same folder
    listed = list_durable_object_ids(ns)
    assert sorted(listed, key=str) == listed
    assert {str(i) for i in listed} == {str(ns.idFromName("a")), str(ns.idFromName("b")), str(unique)}
    assert {i.name for i in listed} == {"a", "b", None}
    await lab.engine.close()

    restarted = make_lab(tmp_path).namespace(Counter)
    assert {str(i) for i in list_durable_object_ids(restarted)} == {str(ns.idFromName(n)) for n in "ab"}
    with pytest.raises(TypeError, match="expects a Durable Object namespace"):
        list_durable_object_ids(stub := ns.getByName("a"))
    del stub


async def test_bindings_to_one_class_share_its_namespace(lab: Lab) -> None:
    assert lab.namespace(Counter) is lab.namespace(Counter)
    assert lab.namespace(Counter) is not lab.namespace(Counter, worker="other")


@pytest.mark.parametrize("persisted", [False, True])
async def test_idle_objects_are_evicted_and_keep_their_data(
    make_lab: LabFactory, tmp_path, persisted: bool
) -> None:
    lab = make_lab(tmp_path if persisted else None)
    ns = lab.namespace(Service)
    storage = await run_in_durable_object(ns.getByName("idle"), lambda i, ctx: ctx.storage)
    await storage.put("k", "kept")
    storage.sql.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
    assert lab.engine.evict_idle() == 0  # not idle long enough
    lab.clock.advance(71)
    assert lab.engine.evict_idle() == 1
    assert ns.objects.live_ids() == []
    again = await run_in_durable_object(ns.getByName("idle"), lambda i, ctx: ctx.storage)
    assert again is not storage and Service.constructed == 2
    assert await again.get("k") == "kept"
    assert again.sql.exec("SELECT x FROM t").one().x == 1
    # A storage held on to past its object's eviction shares the one database of that object.
    await storage.put("stale", "write")
    assert await again.get("stale") == "write"


async def test_objects_in_use_are_not_evicted(lab: Lab) -> None:
    release = asyncio.Event()

    class Busy(DurableObject):
        async def hold(self) -> None:
            await release.wait()

    stub = lab.namespace(Busy).getByName("b")
    holding = asyncio.create_task(stub.hold())
    for _ in range(5):
        await asyncio.sleep(0)
    lab.clock.advance(3600)
    assert lab.engine.evict_idle() == 0
    release.set()
    await holding
    lab.clock.advance(3600)
    assert lab.engine.evict_idle() == 1


async def test_live_objects_stay_bounded(make_lab: LabFactory, tmp_path) -> None:
    lab = make_lab(tmp_path)
    lab.engine.residency.max_live = 20
    ns = lab.namespace(Counter)
    descriptors_before = len(os.listdir("/proc/self/fd")) if sys.platform == "linux" else 0
    for index in range(60):
        await ns.getByName(f"n{index}").increment(index)
    assert len(ns.objects.live_ids()) <= 20
    if sys.platform == "linux":
        assert len(os.listdir("/proc/self/fd")) - descriptors_before < 100
    assert [await ns.getByName(f"n{index}").count() for index in (0, 7, 59)] == [0, 7, 59]


async def test_the_budget_of_live_objects_is_shared_by_namespaces(lab: Lab) -> None:
    lab.engine.residency.max_live = 20
    counters, services = lab.namespace(Counter), lab.namespace(Service)
    for index in range(15):
        await counters.getByName(f"c{index}").increment()
        await services.getByName(f"s{index}").echo(index)
    assert len(counters.objects.live_ids()) + len(services.objects.live_ids()) <= 20
    assert len(lab.engine.residency) <= 20


@pytest.mark.parametrize(
    ("soft_limit", "budget"), [(1024, 256), (100, MIN_LIVE_OBJECTS), (10**6, MAX_LIVE_OBJECTS)]
)
def test_the_budget_follows_the_open_file_limit(monkeypatch, soft_limit: int, budget: int) -> None:
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft_limit, resource.RLIM_INFINITY))
    assert live_object_budget() == budget


def module_with(**names: Any) -> types.ModuleType:
    module = types.ModuleType("worker")
    module.__file__ = "/app/worker.py"
    module.__dict__.update(names)
    return module


def test_durable_object_class_accepts_a_subclass() -> None:
    assert durable_object_class(module_with(Counter=Counter), "Counter", "COUNTER") is Counter


@pytest.mark.parametrize(
    ("names", "match"),
    [
        (
            {"Plain": Plain},
            r'binding "COUNTER": class_name "Counter" is not defined in /app/worker.py '
            r"\(its Durable Object classes are Plain\)",
        ),
        ({}, "it defines none"),
        ({"Counter": WorkerEntrypoint}, "is a class extending object, not DurableObject"),
        (
            {"Counter": type("Counter", (WorkerEntrypoint,), {})},
            "extending WorkerEntrypoint, not DurableObject",
        ),
        ({"Counter": 42}, "is a int, not a class"),
    ],
)
def test_durable_object_class_explains_what_it_found(names: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        durable_object_class(module_with(**names), "Counter", "COUNTER")


async def test_parts_of_cloudflares_api_without_emulation_say_so(lab: Lab) -> None:
    ctx = await run_in_durable_object(lab.namespace(Counter).getByName("x"), lambda instance, ctx: ctx)
    with pytest.raises(AttributeError, match="acceptWebSocket belongs to Cloudflare's API but has no local"):
        ctx.acceptWebSocket(None)
    with pytest.raises(AttributeError, match="getCurrentBookmark belongs to Cloudflare's API"):
        ctx.storage.getCurrentBookmark()
    with pytest.raises(AttributeError, match="Cloudflare spells it 'blockConcurrencyWhile'"):
        ctx.block_concurrency_while(None)
    assert ctx.props == {}
