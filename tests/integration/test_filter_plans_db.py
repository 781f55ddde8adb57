"""Filters of a shape seen before (FilterPlans reuses their SQL) find the same rows as the first, on both
backends: new values are bound, a bool and an int stay different shapes, and list, count, update and
delete by filter (whose parameters start at different positions) agree with an instance that never
saw the shape."""

from __future__ import annotations

from typing import Any

import pytest
from _dfhelp import define_user, node, seed_users

from dataflow import DataFlow, TypeMismatchError

ROWS = [
    {"name": f"user {i}", "email": f"u{i}@example.com", "age": i * 10, "active": i % 2 == 0} for i in range(8)
]


async def names(flt: dict[str, Any]) -> list[str]:
    out = await node("UserListNode", {"filter": flt, "order_by": "id"})
    count = await node("UserCountNode", {"filter": flt})
    assert count["count"] == out["count"]
    return [r["name"] for r in out["records"]]


async def test_a_known_shape_with_new_values_finds_the_right_rows(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, ROWS)
    for _ in range(2):  # the second round reuses every plan of the first
        for limit in (0, 25, 45, 75, 100):
            expected = [r["name"] for r in ROWS if r["age"] < limit and r["active"]]
            assert await names({"age": {"$lt": limit}, "active": True}) == expected
        assert await names({"age": {"$gte": 20, "$lte": 40}, "name": {"$ne": "user 3"}}) == ["user 2", "user 4"]
        assert await names({"active": False, "age": 50}) == ["user 5"]
        assert await names({"name": "user 6"}) == ["user 6"]
    with pytest.raises(TypeMismatchError):
        await names({"active": 1})  # same field, an int: another shape, rejected as before


async def test_update_and_delete_by_filter_bind_after_their_set_values(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, ROWS)
    for age in (10, 30):  # the second update reuses the filter's plan at the same parameter position
        flt = {"age": {"$lte": age}, "active": True}
        out = await node("UserBulkUpdateNode", {"filter": flt, "fields": {"name": "x"}})
        assert out["updated"] == (1 if age == 10 else 2)
    assert await names({"name": "x"}) == ["x", "x"]
    for age in (5, 70):
        deleted = await node("UserBulkDeleteNode", {"filter": {"age": {"$gt": age}, "active": False}})
        assert deleted["deleted"] == (4 if age == 5 else 0)
    assert len(await names({})) == 4
