from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_durable_support import Counter, Lab

from workerlab.durable import DurableObjectStorage, run_in_durable_object
from workerlab.errors import StorageError

pytest_plugins = ["test_durable_support"]


@pytest.fixture(params=["sqlite", "kv"])
async def storage(lab: Lab, request: pytest.FixtureRequest) -> DurableObjectStorage:
    ns = lab.namespace(Counter, request.param, class_name=f"Counter_{request.param}")
    return await run_in_durable_object(ns.getByName("t"), lambda instance, ctx: ctx.storage)


async def test_a_transaction_commits_what_its_closure_did(storage: DurableObjectStorage) -> None:
    async def move(txn: Any) -> str:
        await txn.put("a", 1)
        await txn.put({"b": 2, "c": 3})
        await txn.delete("c")
        assert await txn.get("a") == 1
        return "done"

    assert await storage.transaction(move) == "done"
    assert await storage.list() == {"a": 1, "b": 2}


async def test_an_exception_rolls_everything_back(storage: DurableObjectStorage) -> None:
    await storage.put("kept", 0)

    async def fail(txn: Any) -> None:
        await txn.put("a", 1)
        await storage.put("b", 2)  # ctx.storage inside the closure belongs to the transaction too
        await txn.delete("kept")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await storage.transaction(fail)
    assert await storage.list() == {"kept": 0}


async def test_rollback_undoes_and_the_closure_still_returns(storage: DurableObjectStorage) -> None:
    async def undo(txn: Any) -> str:
        await txn.put("a", 1)
        txn.rollback()
        with pytest.raises(StorageError, match="Cannot put on rolled back transaction"):
            await txn.put("b", 2)
        return "returned"

    assert await storage.transaction(undo) == "returned"
    assert await storage.list() == {}


async def test_a_plain_function_may_be_the_closure(storage: DurableObjectStorage) -> None:
    assert await storage.transaction(lambda txn: txn.put("a", 1) and "plain") == "plain"
    assert await storage.get("a") == 1


async def test_nested_transactions_roll_back_alone(storage: DurableObjectStorage) -> None:
    async def inner(txn: Any) -> None:
        await txn.put("inner", 1)
        raise KeyError("inner fails")

    async def outer(txn: Any) -> None:
        await txn.put("outer", 1)
        with pytest.raises(KeyError):
            await storage.transaction(inner)
        await storage.transaction(lambda txn: txn.put("second", 2))

    await storage.transaction(outer)
    assert await storage.list() == {"outer": 1, "second": 2}


async def test_a_txn_cannot_be_used_after_its_closure(storage: DurableObjectStorage) -> None:
    kept: list[Any] = []
    await storage.transaction(lambda txn: kept.append(txn))
    with pytest.raises(StorageError, match="transaction that has ended"):
        await kept[0].get("a")
    with pytest.raises(StorageError, match="already ended"):
        kept[0].rollback()


async def test_delete_all_is_refused_inside_a_transaction(storage: DurableObjectStorage) -> None:
    async def wipe(txn: Any) -> None:
        storage.deleteAll()

    with pytest.raises(StorageError, match=r"deleteAll\(\) cannot be called within a transaction"):
        await storage.transaction(wipe)


async def test_alarm_changes_follow_the_transaction(lab: Lab, storage: DurableObjectStorage) -> None:
    when = lab.clock.now_ms() + 1000

    async def set_then_fail(txn: Any) -> None:
        await txn.setAlarm(when)
        assert await txn.getAlarm() == when
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        await storage.transaction(set_then_fail)
    assert await storage.getAlarm() is None

    async def set_alarm(txn: Any) -> None:
        await txn.setAlarm(when)

    await storage.transaction(set_alarm)
    assert await storage.getAlarm() == when

    async def delete_then_roll_back(txn: Any) -> None:
        await txn.deleteAlarm()
        assert await txn.getAlarm() is None
        txn.rollback()

    await storage.transaction(delete_then_roll_back)
    assert await storage.getAlarm() == when


async def test_other_events_wait_for_a_transaction(lab: Lab) -> None:
    stub = lab.namespace(Counter).getByName("busy")
    storage = await run_in_durable_object(stub, lambda instance, ctx: ctx.storage)
    release = asyncio.Event()
    seen: list[Any] = []

    async def slow(txn: Any) -> None:
        await txn.put("count", 10)
        await release.wait()  # not storage: on Cloudflare too, only the transaction holds others off
        txn.rollback()

    transaction = asyncio.create_task(storage.transaction(slow))
    await asyncio.sleep(0)
    increment = asyncio.create_task(stub.increment())
    outside = storage.get("count")  # made outside the transaction: waits for its end
    for _ in range(5):
        await asyncio.sleep(0)
    assert not increment.done()
    release.set()
    await transaction
    seen.append(await outside)
    assert await increment == 1  # the rolled-back 10 was never seen
    assert seen == [None]


async def test_transaction_sync(lab: Lab) -> None:
    storage = await run_in_durable_object(lab.namespace(Counter).getByName("s"), lambda i, ctx: ctx.storage)
    sql = storage.sql
    sql.exec("CREATE TABLE t (x INTEGER)")

    def write() -> int:
        sql.exec("INSERT INTO t VALUES (1)")
        storage.kv.put("k", "v")
        return 7

    assert storage.transactionSync(write) == 7

    def fail() -> None:
        sql.exec("INSERT INTO t VALUES (2)")
        storage.kv.put("k", "changed")
        raise ValueError("undo")

    with pytest.raises(ValueError):
        storage.transactionSync(fail)
    assert sql.exec("SELECT x FROM t").toArray() == [{"x": 1}]
    assert storage.kv.get("k") == "v"

    async def coroutine_function() -> None:
        return None

    with pytest.raises(TypeError, match="takes a plain function"):
        storage.transactionSync(coroutine_function)


async def test_sql_inside_an_async_transaction_rolls_back_with_it(lab: Lab) -> None:
    storage = await run_in_durable_object(lab.namespace(Counter).getByName("q"), lambda i, ctx: ctx.storage)
    storage.sql.exec("CREATE TABLE t (x INTEGER)")

    async def fail(txn: Any) -> None:
        storage.sql.exec("INSERT INTO t VALUES (1)")
        raise ValueError

    with pytest.raises(ValueError):
        await storage.transaction(fail)
    assert storage.sql.exec("SELECT count(*) AS n FROM t").one().n == 0
