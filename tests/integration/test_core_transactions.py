"""Transactions: commit, rollback, savepoints, workflows and gather inside a transaction (both backends)."""

from __future__ import annotations

import asyncio

import pytest
from _dfhelp import define_user, node, run

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    LocalRuntime,
    RecordNotFoundError,
    Transaction,
    TransactionError,
    UniqueViolationError,
    WorkflowBuilder,
)


class Boom(Exception):
    pass


async def count() -> int:
    return int((await node("UserCountNode"))["count"])


async def test_commit(db: DataFlow) -> None:
    define_user(db)
    async with db.transaction() as tx:
        assert isinstance(tx, Transaction) and not tx.is_savepoint
        await node("UserCreateNode", {"name": "a", "email": "a"})
        await node("UserCreateNode", {"name": "b", "email": "b"})
    assert await count() == 2


async def test_rollback_on_exception(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    with pytest.raises(Boom):
        async with db.transaction():
            await node("UserCreateNode", {"name": "a", "email": "a"})
            assert await count() == 1  # visible inside
            raise Boom
    assert await count() == 0


async def test_rollback_on_a_failing_node(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    with pytest.raises(UniqueViolationError):
        async with db.transaction():
            await node("UserCreateNode", {"name": "a", "email": "a"})
            await node("UserCreateNode", {"name": "b", "email": "a"})
    assert await count() == 0


async def test_table_created_inside_a_rolled_back_transaction_is_recreated(db: DataFlow) -> None:
    define_user(db)
    with pytest.raises(Boom):
        async with db.transaction():
            await node("UserCreateNode", {"name": "a", "email": "a"})
            raise Boom
    assert await count() == 0  # the table is created again, not "no such table"


async def test_nested_savepoint_rollback_keeps_outer_work(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    async with db.transaction():
        await node("UserCreateNode", {"name": "outer", "email": "o"})
        with pytest.raises(Boom):
            async with db.transaction() as inner:
                assert inner.is_savepoint
                await node("UserCreateNode", {"name": "inner", "email": "i"})
                raise Boom
        async with db.transaction():
            await node("UserCreateNode", {"name": "inner2", "email": "i2"})
        with pytest.raises(UniqueViolationError):
            async with db.transaction():
                await node("UserCreateNode", {"name": "dup", "email": "o"})
        await node("UserCreateNode", {"name": "after", "email": "after"})
    names = [r["name"] for r in (await node("UserListNode", {"order_by": "name"}))["records"]]
    assert names == ["after", "inner2", "outer"]


async def test_outer_rollback_discards_released_savepoints(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    with pytest.raises(Boom):
        async with db.transaction():
            async with db.transaction():
                await node("UserCreateNode", {"name": "inner", "email": "i"})
            raise Boom
    assert await count() == 0


async def test_workflow_in_transaction_uses_its_connection_and_rolls_back(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    runtime = AsyncLocalRuntime()
    wf = WorkflowBuilder()
    wf.add_node("UserCreateNode", "create", {"name": "a", "email": "a"})
    wf.add_node("UserBulkCreateNode", "bulk", {"records": [{"name": "b", "email": "b"}, {"name": "c", "email": "c"}]})
    wf.add_node("UserUpdateNode", "update", {"fields": {"age": 5}})
    wf.add_node("UserUpsertNode", "upsert", {"where": {"email": "d"}, "create": {"name": "d"}})
    wf.add_connection("create", "id", "update", "id")
    with pytest.raises(Boom):
        async with db.transaction():
            results, _ = await runtime.execute_workflow_async(wf.build())
            assert results["update"]["age"] == 5
            assert await count() == 4
            raise Boom
    assert await count() == 0
    async with db.transaction():
        await runtime.execute_workflow_async(wf.build())
    assert await count() == 4


async def test_failing_workflow_inside_transaction_rolls_back_everything(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    wf = WorkflowBuilder()
    wf.add_node("UserCreateNode", "a", {"name": "a", "email": "a"})
    wf.add_node("UserReadNode", "missing", {"id": 999})
    with pytest.raises(RecordNotFoundError) as info:
        async with db.transaction():
            await run(wf)
    assert info.value.context["node"] == "missing"
    assert await count() == 0


async def test_gather_inside_a_transaction(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    async with db.transaction():
        created = await asyncio.gather(
            *(node("UserCreateNode", {"name": f"u{i}", "email": f"u{i}"}) for i in range(20))
        )
        reads = await asyncio.gather(*(node("UserReadNode", {"id": c["id"]}) for c in created))
        counts = await asyncio.gather(*(count() for _ in range(5)))
        assert counts == [20] * 5
        assert sorted(r["name"] for r in reads) == sorted(f"u{i}" for i in range(20))
    assert await count() == 20
    with pytest.raises(Boom):
        async with db.transaction():
            await asyncio.gather(*(node("UserBulkDeleteNode", {"filter": {"name": f"u{i}"}}) for i in range(10)))
            raise Boom
    assert await count() == 20


async def test_local_runtime_inside_an_async_transaction_raises_df601(db: DataFlow) -> None:
    define_user(db)
    await db.create_tables()
    wf = WorkflowBuilder().add_node("UserCreateNode", "c", {"name": "a", "email": "a"}).build()
    with LocalRuntime() as runtime:
        async with db.transaction():
            with pytest.raises(TransactionError) as info:
                runtime.execute(wf)
            assert info.value.code == "DF-601"
            await node("UserCreateNode", {"name": "b", "email": "b"})
    assert await count() == 1


async def test_transaction_object_is_single_use(db: DataFlow) -> None:
    define_user(db)
    tx = db.transaction()
    async with tx:
        pass
    with pytest.raises(TransactionError):
        async with tx:
            pass
    with pytest.raises(TransactionError):
        _ = tx.connection
