"""Value types, ids, unique constraints, upserts and all-or-nothing bulk writes, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from _dfhelp import define_user, node, seed_users

from dataflow import (
    DataFlow,
    Field,
    InvalidConflictTargetError,
    InvalidParameterError,
    MissingFieldError,
    TypeMismatchError,
    UniqueViolationError,
)


def define_everything(db: DataFlow) -> None:
    @db.model
    class Sample:
        id: int
        text: str
        number: int
        ratio: float
        yes: bool
        when: datetime
        day: date
        money: Decimal
        doc: dict
        items: list
        maybe: str | None = None
        tags: list = Field(default_factory=list)


async def test_all_value_types_round_trip(db: DataFlow) -> None:
    define_everything(db)
    values: dict[str, Any] = {
        "text": "héllo 'world'",
        "number": -(2**62),
        "ratio": 0.1 + 0.2,
        "yes": False,
        "when": datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        "day": date(1999, 12, 31),
        "money": Decimal("12345678901234567890.123456789"),
        "doc": {"a": [1, 2.5, None, True], "b": {"c": "ü"}, "e": {}},
        "items": [1, "two", {"three": 3}, [4]],
    }
    created = await node("SampleCreateNode", values)
    read = await node("SampleReadNode", {"id": created["id"]})
    for record in (created, read):
        for key, value in values.items():
            assert record[key] == value, key
            assert type(record[key]) is type(value), key
        assert record["maybe"] is None and record["tags"] == []
        assert record["when"].tzinfo is not None and record["when"].utcoffset() == timedelta(0)
    listed = (await node("SampleListNode"))["records"][0]
    assert listed == read


async def test_datetimes_are_returned_as_aware_utc(db: DataFlow) -> None:
    define_everything(db)
    base = {"text": "", "number": 0, "ratio": 1, "yes": True, "day": "2024-01-01", "money": 1, "doc": {}, "items": []}
    plus_two = timezone(timedelta(hours=2))
    inputs = [
        datetime(2024, 1, 1, 12, 0),  # naive = UTC
        datetime(2024, 1, 1, 14, 0, tzinfo=plus_two),
        "2024-01-01T12:00:00+00:00",
        "2024-01-01T07:00:00-05:00",
    ]
    for value in inputs:
        out = await node("SampleCreateNode", {**base, "when": value})
        assert out["when"] == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        assert out["when"].utcoffset() == timedelta(0)
        assert out["ratio"] == 1.0 and isinstance(out["ratio"], float)
        assert out["day"] == date(2024, 1, 1) and out["money"] == Decimal(1)
    count = await node("SampleCountNode", {"filter": {"when": datetime(2024, 1, 1, 14, 0, tzinfo=plus_two)}})
    assert count == {"count": 4}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", 5),
        ("text", "nul\x00"),
        ("number", "5"),
        ("number", 1.0),
        ("number", True),
        ("number", 2**63),
        ("ratio", "1.5"),
        ("ratio", float("inf")),
        ("yes", 1),
        ("when", "yesterday"),
        ("day", datetime(2024, 1, 1)),
        ("money", "12abc"),
        ("doc", {"bad": object()}),
        ("items", [float("nan")]),
    ],
)
async def test_wrong_types_are_rejected_identically(db: DataFlow, field: str, value: Any) -> None:
    define_everything(db)
    base = {"text": "", "number": 0, "ratio": 1, "yes": True, "when": datetime.now(UTC), "day": date.today(),
            "money": 1, "doc": {}, "items": []}  # fmt: skip
    with pytest.raises(TypeMismatchError) as info:
        await node("SampleCreateNode", {**base, field: value})
    assert info.value.code == "DF-103" and info.value.context["field"] == field
    assert (await node("SampleCountNode"))["count"] == 0


async def test_missing_required_field(db: DataFlow) -> None:
    define_user(db)
    with pytest.raises(MissingFieldError) as info:
        await node("UserCreateNode", {"name": "x"})
    assert info.value.code == "DF-101" and "'email'" in str(info.value)


async def test_auto_and_explicit_int_ids_do_not_collide(db: DataFlow) -> None:
    define_user(db)
    assert (await node("UserCreateNode", {"name": "a", "email": "a"}))["id"] == 1
    assert (await node("UserCreateNode", {"id": 10, "name": "b", "email": "b"}))["id"] == 10
    assert (await node("UserCreateNode", {"name": "c", "email": "c"}))["id"] == 11
    await node(
        "UserBulkCreateNode",
        {"records": [{"id": 50, "name": "d", "email": "d"}, {"id": 40, "name": "e", "email": "e"}]},
    )
    assert (await node("UserCreateNode", {"name": "f", "email": "f"}))["id"] == 51
    await node("UserBulkUpsertNode", {"records": [{"id": 100, "name": "g", "email": "g"}]})
    assert (await node("UserCreateNode", {"name": "h", "email": "h"}))["id"] == 101
    await node("UserUpsertNode", {"where": {"id": 200}, "create": {"name": "i", "email": "i"}})
    assert (await node("UserCreateNode", {"name": "j", "email": "j"}))["id"] == 201
    await node("UserBulkCreateNode", {"records": [{"name": "k", "email": "k"}, {"name": "l", "email": "l"}]})
    ids = [r["id"] for r in (await node("UserListNode", {"order_by": "id"}))["records"]]
    assert ids == [1, 10, 11, 40, 50, 51, 100, 101, 200, 201, 202, 203]
    with pytest.raises(UniqueViolationError):
        await node("UserCreateNode", {"id": 10, "name": "dup", "email": "dup"})


async def test_string_ids(db: DataFlow) -> None:
    @db.model
    class Tag:
        id: str
        label: str

    assert await node("TagCreateNode", {"id": "t-1", "label": "one"}) == {"id": "t-1", "label": "one"}
    with pytest.raises(MissingFieldError):
        await node("TagCreateNode", {"label": "no id"})
    with pytest.raises(UniqueViolationError) as info:
        await node("TagCreateNode", {"id": "t-1", "label": "again"})
    assert info.value.code == "DF-302"
    assert (await node("TagReadNode", {"id": "t-1"}))["label"] == "one"


async def test_unique_violation_df302(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [{"name": "a", "email": "same@x"}])
    with pytest.raises(UniqueViolationError) as info:
        await node("UserCreateNode", {"name": "b", "email": "same@x"})
    err = info.value
    assert err.code == "DF-302"
    assert err.__cause__ is not None  # the driver error is kept
    assert err.context["node"] == "n"
    await node("UserCreateNode", {"name": "c", "email": "other@x"})
    with pytest.raises(UniqueViolationError):
        await node("UserUpdateNode", {"filter": {"email": "other@x"}, "fields": {"email": "same@x"}})
    with pytest.raises(UniqueViolationError):
        await node("UserBulkUpdateNode", {"filter": {}, "fields": {"email": "all@x"}})
    assert (await node("UserCountNode"))["count"] == 2


def define_membership(db: DataFlow) -> None:
    @db.model(unique=[("team", "member")])
    class Membership:
        id: int
        team: str
        member: str
        role: str = "user"
        note: str | None = None


async def test_upsert_on_composite_unique(db: DataFlow) -> None:
    define_membership(db)
    params = {
        "where": {"team": "red", "member": "ann"},
        "update": {"role": "admin"},
        "create": {"note": "first"},
    }
    first = await node("MembershipUpsertNode", params)
    assert first["created"] is True and first["record"]["role"] == "user" and first["record"]["note"] == "first"
    second = await node("MembershipUpsertNode", {**params, "conflict_on": ["member", "team"]})
    assert second["created"] is False and second["action"] == "updated"
    assert second["record"] == {**first["record"], "role": "admin"}
    other = await node("MembershipUpsertNode", {**params, "where": {"team": "blue", "member": "ann"}})
    assert other["created"] is True
    assert (await node("MembershipCountNode"))["count"] == 2
    out = await node(
        "MembershipBulkUpsertNode",
        {"records": [{"team": "red", "member": "ann", "note": "bulk"}, {"team": "red", "member": "bo"}],
         "conflict_on": ["team", "member"]},
    )  # fmt: skip
    assert out == {"upserted": 2}
    assert (await node("MembershipCountNode"))["count"] == 3
    ann = (await node("MembershipListNode", {"filter": {"team": "red", "member": "ann"}}))["records"][0]
    assert ann["note"] == "bulk" and ann["role"] == "admin"
    with pytest.raises(UniqueViolationError):
        await node("MembershipCreateNode", {"team": "red", "member": "bo"})


@pytest.mark.parametrize(
    "conflict_on", [["role"], ["team"], ["member"], ["team", "role"], ["note"], "role", ["team", "member", "role"]]
)
async def test_conflict_on_a_non_unique_target_df305(db: DataFlow, conflict_on: Any) -> None:
    define_membership(db)
    with pytest.raises(InvalidConflictTargetError) as info:
        await node(
            "MembershipUpsertNode",
            {"where": {"team": "t", "member": "m", "role": "r", "note": "n"}, "conflict_on": conflict_on},
        )
    assert info.value.code == "DF-305"
    assert "(team, member)" in str(info.value)
    with pytest.raises(InvalidConflictTargetError):
        await node(
            "MembershipBulkUpsertNode",
            {"records": [{"team": "t", "member": "m", "role": "r", "note": "n"}], "conflict_on": conflict_on},
        )
    assert (await node("MembershipCountNode"))["count"] == 0


async def test_upsert_conflict_on_a_plain_field_is_rejected_even_when_where_uses_it(db: DataFlow) -> None:
    define_user(db)
    with pytest.raises(InvalidConflictTargetError):
        await node("UserUpsertNode", {"where": {"name": "Al"}, "create": {"email": "al@x"}})
    with pytest.raises(InvalidParameterError):  # where and create disagree
        await node("UserUpsertNode", {"where": {"email": "a@x"}, "create": {"name": "A", "email": "b@x"}})


async def test_bulk_create_is_all_or_nothing(db: DataFlow) -> None:
    define_user(db)
    rows = [{"name": f"u{i}", "email": f"u{i}@x"} for i in range(100)]
    rows[50] = {"name": "dup", "email": "u10@x"}
    with pytest.raises(UniqueViolationError):
        await node("UserBulkCreateNode", {"records": rows})
    assert (await node("UserCountNode"))["count"] == 0
    # Different column sets (groups) in one call: still one transaction.
    mixed = [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x", "age": 3}, {"name": "c", "email": "a@x"}]
    with pytest.raises(UniqueViolationError):
        await node("UserBulkCreateNode", {"records": mixed})
    assert (await node("UserCountNode"))["count"] == 0
    # A validation error in the middle: nothing is written either.
    bad = [{"name": "a", "email": "a@x"}, {"name": "b", "email": 5}]
    with pytest.raises(TypeMismatchError) as info:
        await node("UserBulkCreateNode", {"records": bad})
    assert info.value.context["record_index"] == 1
    assert (await node("UserCountNode"))["count"] == 0
    # Clashing with an existing row.
    await seed_users(db, [{"name": "x", "email": "x@x"}])
    with pytest.raises(UniqueViolationError):
        await node("UserBulkCreateNode", {"records": [{"name": "y", "email": "y@x"}, {"name": "x2", "email": "x@x"}]})
    assert (await node("UserCountNode"))["count"] == 1


async def test_bulk_upsert_and_update_are_all_or_nothing(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x"}])
    with pytest.raises(UniqueViolationError):
        await node(
            "UserBulkUpsertNode",
            {"records": [{"id": 1, "name": "A", "email": "a@x"}, {"id": 3, "name": "C", "email": "b@x"}]},
        )
    names = [r["name"] for r in (await node("UserListNode", {"order_by": "id"}))["records"]]
    assert names == ["a", "b"]
    with pytest.raises(UniqueViolationError):
        await node("UserBulkUpdateNode", {"filter": {}, "fields": {"email": "same@x"}})
    emails = [r["email"] for r in (await node("UserListNode", {"order_by": "id"}))["records"]]
    assert emails == ["a@x", "b@x"]


async def test_bulk_create_1000_rows(db: DataFlow) -> None:
    define_user(db)
    rows = [{"name": f"n{i}", "email": f"e{i}@x", "age": i % 7} for i in range(1000)]
    assert await node("UserBulkCreateNode", {"records": rows}) == {"created": 1000}
    assert await node("UserCountNode") == {"count": 1000}
    assert await node("UserCountNode", {"filter": {"age": 0}}) == {"count": 143}
    last = await node("UserListNode", {"order_by": "-id", "limit": 1})
    assert last["records"][0]["id"] == 1000 and last["records"][0]["name"] == "n999"
