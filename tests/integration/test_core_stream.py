"""db.stream(): a model's records in batches by id, memory flat, on both backends."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from _dfhelp import define_user, node, run, seed_users

from dataflow import (
    DataFlow,
    InvalidParameterError,
    RecordStream,
    UnknownFieldError,
    UnknownOperatorError,
    WorkflowBuilder,
)


def users(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"name": f"u{i}", "email": f"u{i}@x.io", "age": i % 50, "active": i % 3 != 0} for i in range(start, n)]


async def test_batches_in_id_order_with_a_filter(db: DataFlow) -> None:
    User = define_user(db)
    await seed_users(db, users(95))
    batches = [batch async for batch in db.stream("User", batch_size=20)]
    assert [len(b) for b in batches] == [20, 20, 20, 20, 15]
    assert [r["id"] for b in batches for r in b] == list(range(1, 96))
    assert batches[0][0] == {"id": 1, "name": "u0", "email": "u0@x.io", "age": 0, "active": False}
    flt = {"age": {"$lt": 10}, "active": True}
    streamed = [r async for r in db.stream(User, filter=flt, batch_size=7).records()]
    listed = (await node("UserListNode", {"filter": flt, "order_by": "id"}))["records"]
    assert streamed == listed and len(listed) == 13
    exact = [len(b) async for b in db.stream("users", batch_size=19)]  # the table name works too
    assert exact == [19] * 5


async def test_empty_and_exact_multiple(db: DataFlow) -> None:
    define_user(db)
    assert [b async for b in db.stream("User")] == []  # creates the table on first use, like a node
    await seed_users(db, users(10))
    assert [len(b) async for b in db.stream("User", batch_size=5)] == [5, 5]
    assert [len(b) async for b in db.stream("User", filter={"name": "nobody"})] == []


async def test_other_operations_run_between_batches(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, users(30))
    seen = []
    async for batch in db.stream("User", batch_size=10):
        seen += [r["id"] for r in batch]
        # The same database (on SQLite: the same single connection) is free inside the loop.
        await node("UserUpdateNode", {"id": batch[0]["id"], "fields": {"age": 99}})
        if len(seen) == 10:
            await seed_users(db, users(35, 30))  # higher ids: read by a later batch
    assert seen == list(range(1, 36))
    assert (await node("UserCountNode", {"filter": {"age": 99}}))["count"] == 4


async def test_inside_a_transaction_sees_its_writes(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, users(5))
    with pytest.raises(RuntimeError):
        async with db.transaction():
            wf = WorkflowBuilder().add_node("UserBulkCreateNode", "b", {"records": users(12, 5)})
            await run(wf)
            assert sum([len(b) async for b in db.stream("User", batch_size=4)]) == 12
            raise RuntimeError("roll back")
    assert sum([len(b) async for b in db.stream("User", batch_size=4)]) == 5


async def test_string_ids(db: DataFlow) -> None:
    @db.model
    class Tag:
        id: str
        label: str

    records = [{"id": f"t{i:03d}", "label": str(i)} for i in range(23)]
    await node("TagBulkCreateNode", {"records": list(reversed(records))})
    got = [r["id"] async for r in db.stream(Tag, batch_size=5).records()]
    assert got == sorted(r["id"] for r in records)


async def test_memory_stays_flat(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, users(6000))

    async def peak(consume: object) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            await consume()  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    async def stream() -> None:
        count = 0
        async for batch in db.stream("User", batch_size=200):
            count += len(batch)
        assert count == 6000

    async def listing() -> None:
        assert (await node("UserListNode"))["count"] == 6000

    streamed, listed = await peak(stream), await peak(listing)
    assert streamed * 4 < listed, (streamed, listed)


async def test_bad_arguments_raise_before_any_sql(db: DataFlow) -> None:
    define_user(db)
    for batch_size in (0, -1, 1.5, True, "10"):
        with pytest.raises(InvalidParameterError) as info:
            db.stream("User", batch_size=batch_size)  # type: ignore[arg-type]
        assert info.value.code == "DF-105" and "batch_size" in str(info.value)
    with pytest.raises(InvalidParameterError) as info:
        db.stream("Nobody")
    assert info.value.code == "DF-105" and "User" in str(info.value)
    with pytest.raises(InvalidParameterError):
        db.stream("User", filter=[1])  # type: ignore[arg-type]
    with pytest.raises(UnknownFieldError):
        db.stream("User", filter={"nickname": "x"})
    with pytest.raises(UnknownOperatorError):
        db.stream("User", filter={"age": {"$regex": "x"}})
    assert isinstance(db.stream("User"), RecordStream)
