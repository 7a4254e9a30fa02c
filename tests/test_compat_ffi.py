"""pyodide.ffi locally: to_js, JS values and their to_py(), proxies, run_sync."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import pytest

from workerlab.bindings.results import parse_json
from workerlab.compat.buffers import JsArrayBuffer, JsUint8Array
from workerlab.compat.ffi import (
    JsException,
    JsMap,
    JsSet,
    can_run_sync,
    create_once_callable,
    create_proxy,
    destroy_proxies,
    jsnull,
    run_sync,
    to_js,
)
from workerlab.compat.jsglobals import JSON, Object
from workerlab.compat.jsvalues import JsArray, JsObject, JsObjectProxy, JsProxy
from workerlab.compat.sync import thread_event_loop


def test_dict_becomes_a_map_unless_a_dict_converter_is_given() -> None:
    value = {"a": 1, "nested": {"b": [1, (2, 3)]}}
    as_map = to_js(value)
    assert isinstance(as_map, JsMap) and as_map.size == 2 and as_map.has("a")
    assert JSON.stringify(as_map) == "{}"  # JS writes a Map as {}, a classic Pyodide surprise

    as_object = to_js(value, dict_converter=Object.fromEntries)
    assert isinstance(as_object, JsObjectProxy)
    assert as_object.nested.b == [1, [2, 3]] and isinstance(as_object.nested.b[1], JsArray)
    assert JSON.stringify(as_object) == '{"a":1,"nested":{"b":[1,[2,3]]}}'
    assert as_object.to_py() == {"a": 1, "nested": {"b": [1, [2, 3]]}}
    assert type(as_object.to_py()["nested"]) is dict


def test_scalars_stay_and_sets_become_sets() -> None:
    assert [to_js(v) for v in (None, True, 3, 2.5, "s")] == [None, True, 3, 2.5, "s"]
    assert to_js(jsnull) is jsnull
    as_set = to_js({1, 2})
    assert isinstance(as_set, JsSet) and as_set.has(1) and as_set.to_py() == {1, 2}


def test_bytes_become_a_uint8array_whose_buffer_is_an_arraybuffer() -> None:
    array = to_js(b"hello")
    assert isinstance(array, JsUint8Array) and array.length == 5
    buffer = array.buffer
    assert isinstance(buffer, JsArrayBuffer) and buffer.byteLength == 5
    assert buffer.to_bytes() == b"hello" and type(buffer.to_bytes()) is bytes
    assert buffer.slice(1, -1).to_bytes() == b"ell" and array.slice(-2) == b"lo"
    assert isinstance(array.to_py(), memoryview) and bytes(array.to_py()) == b"hello"
    assert buffer.to_string() == "hello"
    assert to_js(bytearray(b"x")) == b"x" and to_js(memoryview(b"y")) == b"y"


def test_objects_without_a_conversion() -> None:
    class Point:
        pass

    point = Point()
    assert to_js(point) is point  # a PyProxy on Cloudflare
    assert to_js([point], default_converter=lambda value, convert, cache: "converted") == ["converted"]
    with pytest.raises(JsException, match="ConversionError"):
        to_js(point, create_pyproxies=False)
    assert to_js({"a": [1]}, depth=1) == {"a": [1]} and isinstance(to_js({"a": [1]}, depth=1)["a"], list)


def test_js_object_and_array_to_py() -> None:
    value = parse_json('{"items": [{"id": 1}], "name": "n"}')
    assert isinstance(value, JsObject) and isinstance(value["items"], JsArray)
    assert value.name == "n" and value["name"] == "n"
    plain = value.to_py()
    assert plain == {"items": [{"id": 1}], "name": "n"}
    assert type(plain) is dict and type(plain["items"]) is list and type(plain["items"][0]) is dict
    assert value["items"].to_py() == [{"id": 1}]
    assert value.to_py(depth=1)["items"] is value["items"]
    value.extra = 5
    assert value["extra"] == 5
    assert json.dumps(value) == '{"items": [{"id": 1}], "name": "n", "extra": 5}'
    assert isinstance(value, JsProxy)


def test_js_object_proxy_has_attribute_access_only() -> None:
    obj = JSON.parse('{"a": {"b": 2}}')
    assert obj.a.b == 2
    with pytest.raises(TypeError, match=r"use obj\.a, or obj\.to_py\(\)\['a'\]"):
        obj["a"]
    with pytest.raises(AttributeError, match="JsObjectProxy has no field 'c'"):
        obj.c  # noqa: B018
    assert dict(obj) == {"a": {"b": 2}} and obj.object_keys() == ["a"]


def test_jsnull_and_js_exception() -> None:
    assert not jsnull and repr(jsnull) == "jsnull"
    error = JsException("TypeError", "bad thing")
    assert (error.name, error.message, str(error)) == ("TypeError", "bad thing", "TypeError: bad thing")
    assert str(JsException("plain")) == "Error: plain"
    assert isinstance(error, Exception) and isinstance(error, JsProxy)


def test_create_proxy_until_destroyed() -> None:
    calls: list[Any] = []
    proxy = create_proxy(calls.append)
    proxy(1)
    assert proxy.unwrap() is not None and calls == [1]
    destroy_proxies([proxy])
    with pytest.raises(JsException, match="Object has already been destroyed"):
        proxy(2)

    once = create_once_callable(calls.append)
    once(3)
    with pytest.raises(JsException, match="already been destroyed"):
        once(4)
    assert calls == [1, 3]
    assert create_proxy(b"abc").getBuffer().data == b"abc"


async def _double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def test_run_sync_from_a_worker_thread_runs_on_the_event_loop() -> None:
    loop = asyncio.get_running_loop()

    def in_thread() -> tuple[int, bool]:
        thread_event_loop.set(loop)
        return run_sync(_double(21)), can_run_sync()

    assert await asyncio.to_thread(in_thread) == (42, True)


async def test_run_sync_on_the_loop_thread_raises_and_closes_the_coroutine() -> None:
    coroutine = _double(1)
    assert not can_run_sync()
    with pytest.raises(RuntimeError, match="cannot suspend the running loop"):
        run_sync(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_run_sync_without_any_loop_uses_a_new_one() -> None:
    assert run_sync(_double(4)) == 8
    with pytest.raises(TypeError, match="expects an awaitable"):
        run_sync(5)  # type: ignore[arg-type]
