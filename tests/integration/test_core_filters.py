"""Every filter operator against real data, identical on both backends, including hostile values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from _dfhelp import node

from dataflow import DataFlow, InvalidParameterError, UnknownFieldError

HOSTILE = [
    "O'Brien",
    'say "hi"',
    "'; DROP TABLE items; --",
    "\"; DROP TABLE items; --",
    "100%",
    "a_b",
    "a\\b",
    "back\\\\slash\\",
    "ünïcödé ✓ 日本語 🎉",
    "x" * 10_000,
    "SELECT * FROM items",
    "",
    " ",
    "$gt",
    "NULL",
    "line\nbreak\ttab",
    "%",
    "_",
]


def define_item(db: DataFlow) -> None:
    @db.model
    class Item:
        id: int
        name: str
        qty: int | None = None
        price: Decimal | None = None
        select: str | None = None
        order: int | None = None
        group: str | None = None
        flag: bool | None = None
        seen: datetime | None = None
        day: date | None = None


BASE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ROWS: list[dict[str, Any]] = [
    {"name": "apple", "qty": 5, "price": Decimal("1.50"), "select": "s1", "order": 3, "group": "fruit", "flag": True,
     "seen": BASE, "day": date(2024, 1, 1)},
    {"name": "Apricot", "qty": 10, "price": Decimal("10.00"), "select": "s2", "order": 1, "group": "fruit",
     "flag": False, "seen": BASE + timedelta(days=1), "day": date(2024, 6, 1)},
    {"name": "banana", "qty": None, "price": Decimal("2"), "select": None, "order": 2, "group": "fruit", "flag": None,
     "seen": None, "day": None},
    {"name": "carrot", "qty": 0, "price": None, "select": "s1", "order": None, "group": "veg", "flag": True,
     "seen": BASE - timedelta(hours=1), "day": date(2023, 12, 31)},
    {"name": "BANANA split", "qty": -3, "price": Decimal("9.5"), "select": "s3", "order": 2, "group": None,
     "flag": False, "seen": BASE + timedelta(microseconds=1), "day": date(2024, 1, 1)},
]  # fmt: skip


async def seed(db: DataFlow) -> None:
    define_item(db)
    assert await node("ItemBulkCreateNode", {"records": ROWS}) == {"created": len(ROWS)}


async def find(flt: dict[str, Any], **extra: Any) -> list[str]:
    out = await node("ItemListNode", {"filter": flt, "order_by": "id", **extra})
    count = await node("ItemCountNode", {"filter": flt})
    if "limit" not in extra and "offset" not in extra:
        assert count["count"] == out["count"]
    return [r["name"] for r in out["records"]]


A, AP, B, C, BS = "apple", "Apricot", "banana", "carrot", "BANANA split"
OPERATOR_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, [A, AP, B, C, BS]),
    ({"name": "apple"}, [A]),
    ({"name": "APPLE"}, []),
    ({"qty": None}, [B]),
    ({"qty": {"$eq": 10}}, [AP]),
    ({"qty": {"$eq": None}}, [B]),
    ({"qty": {"$ne": 5}}, [AP, B, C, BS]),  # NULL matches $ne (MongoDB semantics)
    ({"qty": {"$ne": None}}, [A, AP, C, BS]),
    ({"qty": {"$lt": 5}}, [C, BS]),
    ({"qty": {"$lte": 5}}, [A, C, BS]),
    ({"qty": {"$gt": 0}}, [A, AP]),
    ({"qty": {"$gte": 0}}, [A, AP, C]),
    ({"qty": {"$gt": 0, "$lt": 10}}, [A]),
    ({"qty": {"$in": [5, 0]}}, [A, C]),
    ({"qty": {"$in": [5, None]}}, [A, B]),
    ({"qty": {"$in": []}}, []),
    ({"qty": {"$nin": [5, 0]}}, [AP, B, BS]),  # NULL matches $nin
    ({"qty": {"$nin": [5, None]}}, [AP, C, BS]),
    ({"qty": {"$nin": []}}, [A, AP, B, C, BS]),
    ({"name": {"$like": "a%"}}, [A]),  # case-sensitive on both backends
    ({"name": {"$like": "A%"}}, [AP]),
    ({"name": {"$like": "_a%"}}, [B, C]),
    ({"name": {"$ilike": "a%"}}, [A, AP]),
    ({"name": {"$ilike": "%BANANA%"}}, [B, BS]),
    ({"name": {"$contains": "an"}}, [B]),
    ({"name": {"$contains": "AN"}}, [BS]),
    ({"name": {"$startswith": "ban"}}, [B]),
    ({"name": {"$endswith": "ot"}}, [AP, C]),
    ({"price": {"$null": True}}, [C]),
    ({"price": {"$null": False}}, [A, AP, B, BS]),
    ({"price": {"$gt": Decimal("2")}}, [AP, BS]),  # numeric, not text, comparison
    ({"price": {"$gte": 2}}, [AP, B, BS]),
    ({"price": Decimal("2.00")}, [B]),
    ({"price": {"$lt": "9.6"}}, [A, B, BS]),
    ({"flag": True}, [A, C]),
    ({"flag": False}, [AP, BS]),
    ({"flag": {"$ne": True}}, [AP, B, BS]),
    ({"seen": {"$gt": BASE}}, [AP, BS]),
    ({"seen": {"$lte": BASE}}, [A, C]),
    ({"seen": {"$eq": BASE.astimezone(UTC).replace(tzinfo=None)}}, [A]),  # naive = UTC
    ({"seen": {"$gte": "2024-03-02T00:00:00+02:00"}}, [AP]),
    ({"day": date(2024, 1, 1)}, [A, BS]),
    ({"day": {"$lt": date(2024, 1, 1)}}, [C]),
    ({"day": {"$gte": "2024-01-02"}}, [AP]),
    ({"$and": [{"group": "fruit"}, {"qty": {"$gt": 5}}]}, [AP]),
    ({"$and": []}, [A, AP, B, C, BS]),
    ({"$or": [{"qty": 5}, {"group": "veg"}]}, [A, C]),
    ({"$or": []}, []),
    ({"$or": [{"qty": None}, {"$and": [{"group": None}, {"qty": {"$lt": 0}}]}]}, [B, BS]),
    ({"$not": {"group": "fruit"}}, [C, BS]),  # NULL group matches $not
    ({"$not": {"qty": {"$gt": 0}}}, [B, C, BS]),
    ({"qty": {"$not": {"$gt": 0}}}, [B, C, BS]),
    ({"qty": {"$not": {"$in": [5, 10]}}}, [B, C, BS]),
    ({"$not": {"$or": [{"qty": 5}, {"qty": 10}]}}, [B, C, BS]),
    ({"$not": {"$not": {"qty": 5}}}, [A]),
    ({"select": "s1"}, [A, C]),
    ({"order": {"$gte": 2}}, [A, B, BS]),
    ({"group": {"$ne": "fruit"}}, [C, BS]),
    ({"select": {"$in": ["s1", "s3"]}, "order": {"$ne": None}}, [A, BS]),
]


@pytest.mark.parametrize(("flt", "expected"), OPERATOR_CASES, ids=[str(c[0])[:60] for c in OPERATOR_CASES])
async def test_operator(db: DataFlow, flt: dict[str, Any], expected: list[str]) -> None:
    await seed(db)
    assert await find(flt) == expected


async def test_filters_alias_and_unknown_field(db: DataFlow) -> None:
    await seed(db)
    out = await node("ItemListNode", {"filters": {"qty": 5}})
    assert [r["name"] for r in out["records"]] == ["apple"]
    with pytest.raises(UnknownFieldError) as info:
        await node("ItemListNode", {"filter": {"nmae": "x"}})
    assert "id, name, qty, price, select, order, group" in str(info.value)


async def test_hostile_values_round_trip_and_match_exactly(db: DataFlow) -> None:
    define_item(db)
    await node("ItemBulkCreateNode", {"records": [{"name": v, "select": v, "group": v} for v in HOSTILE]})
    created = await node("ItemCreateNode", {"name": "control"})
    for value in HOSTILE:
        expected = [value]
        assert await find({"name": value}) == expected, value
        assert await find({"select": {"$eq": value}, "group": value}) == expected
        assert await find({"name": {"$in": [value, "nope"]}}) == expected
        assert value in await find({"name": {"$nin": ["nope"]}})
        if value:
            assert value in await find({"name": {"$contains": value}})
            assert value in await find({"name": {"$startswith": value}})
            assert value in await find({"name": {"$endswith": value}})
    # Literal matching: %, _ and \ are not wildcards for $contains / $startswith / $endswith.
    assert await find({"name": {"$contains": "%"}}) == ["100%", "%"]
    assert await find({"name": {"$contains": "_"}}) == ["a_b", "_"]
    assert await find({"name": {"$contains": "\\"}}) == ["a\\b", "back\\\\slash\\"]
    assert await find({"name": {"$endswith": "\\"}}) == ["back\\\\slash\\"]
    assert await find({"name": {"$startswith": "'"}}) == ["'; DROP TABLE items; --"]
    # $like: % and _ are wildcards, \ escapes them.
    assert await find({"name": {"$like": "100\\%"}}) == ["100%"]
    assert await find({"name": {"$like": "a\\_b"}}) == ["a_b"]
    assert await find({"name": {"$like": "a_b"}}) == ["a_b", "a\\b"]
    assert await find({"name": {"$like": "a\\\\b"}}) == ["a\\b"]
    assert await find({"name": {"$ilike": "ÜNÏCÖDÉ%"}}) == []  # ASCII-case-insensitive only
    assert await find({"name": {"$ilike": "üNÏCÖDÉ%"}}) == []
    assert await find({"name": {"$ilike": "ünïcödé%"}}) == ["ünïcödé ✓ 日本語 🎉"]
    # The table is intact and holds exactly the rows written.
    everything = await node("ItemListNode", {"order_by": "id"})
    assert [r["name"] for r in everything["records"]] == [*HOSTILE, "control"]
    assert [r["select"] for r in everything["records"]] == [*HOSTILE, None]
    assert (await node("ItemReadNode", {"id": created["id"]}))["name"] == "control"
    # Hostile values in updates and deletes, too.
    assert await node("ItemBulkUpdateNode", {"filter": {"name": HOSTILE[2]}, "fields": {"group": HOSTILE[3]}}) == {
        "updated": 1
    }
    assert await node("ItemBulkDeleteNode", {"filter": {"group": HOSTILE[3]}}) == {"deleted": 2}
    assert (await node("ItemCountNode"))["count"] == len(HOSTILE) - 1


async def test_order_by_nulls_and_ties(db: DataFlow) -> None:
    await seed(db)

    async def order(spec: Any) -> list[str]:
        out = await node("ItemListNode", {"order_by": spec})
        return [r["name"] for r in out["records"]]

    # NULLs sort as the smallest value on both backends; ties are broken by id.
    assert await order(["qty"]) == [B, BS, C, A, AP]
    assert await order("-qty") == [AP, A, C, BS, B]
    assert await order(["order", "name"]) == [C, AP, BS, B, A]
    assert await order(["order", "-name"]) == [C, AP, B, BS, A]
    assert await order(["-order", "id"]) == [A, B, BS, AP, C]
    assert await order(["group", "-id"]) == [BS, B, AP, A, C]
    assert await order("group") == [BS, A, AP, B, C]
    assert await order("name") == sorted([A, AP, B, C, BS])  # binary (C) collation on both
    assert await order(["price"]) == [C, A, B, BS, AP]  # Decimal sorts numerically
    assert await order(["seen", "id"]) == [B, C, A, BS, AP]
    with pytest.raises(UnknownFieldError):
        await order("-nope")


async def test_limit_and_offset(db: DataFlow) -> None:
    await seed(db)
    assert await find({}, limit=2) == [A, AP]
    assert await find({}, limit=2, offset=2) == [B, C]
    assert await find({}, offset=3) == [C, BS]
    assert await find({}, limit=0) == []
    assert await find({}, offset=100) == []
    assert await find({"group": "fruit"}, limit=10, offset=1) == [AP, B]
    for bad in ({"limit": -1}, {"offset": -5}, {"limit": "3"}, {"limit": True}):
        with pytest.raises(InvalidParameterError):
            await node("ItemListNode", bad)
