"""What build() validates once and the runtime reuses (issue 19), on both backends.

A node whose parameters are all static is validated at ``build()`` and run from what
``Node.prepare()`` returned; these tests pin that the outputs and errors are the ones the
run-time path gives: a built workflow runs again with fresh defaults and fresh database state,
bulk records take the column-by-column path only when every value is plain, and every bad input
still raises its DF error.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from _dfhelp import define_user, node, run, seed_users

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Field,
    InvalidParameterError,
    MissingFieldError,
    TypeMismatchError,
    UniqueViolationError,
    UnknownFieldError,
    WorkflowBuilder,
)
from dataflow._workflow import UNPREPARED


async def again(workflow: Any) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow)
    return results


async def test_static_nodes_are_prepared_and_connected_ones_are_not(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node("UserCreateNode", "create", {"name": "A", "email": "a@x.io"})
    wf.add_node("UserReadNode", "read", {})
    wf.add_connection("create", "id", "read", "id")
    built = wf.build()
    prepared = {entry.node_id: entry.prepared is not UNPREPARED for entry in built.nodes}
    assert prepared == {"create": True, "read": False}
    results = await again(built)
    expected = {"id": 1, "name": "A", "email": "a@x.io", "age": None, "active": True}
    assert results["read"] == results["create"] == expected


async def test_a_built_create_runs_again_with_fresh_default_factories(db: DataFlow) -> None:
    counter = itertools.count(1)

    @db.model
    class Stamp:
        id: int
        label: str
        serial: int = Field(default_factory=lambda: next(counter))
        at: datetime = Field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))

    wf = WorkflowBuilder()
    wf.add_node("StampCreateNode", "c", {"label": "x"})
    built = wf.build()
    assert next(counter) == 1  # build() did not call the factory
    first, second = (await again(built))["c"], (await again(built))["c"]
    assert (first["id"], first["serial"]) == (1, 2)
    assert (second["id"], second["serial"]) == (2, 3)
    assert first["at"] == datetime(2024, 1, 1, tzinfo=UTC)


async def test_params_changed_after_add_node_do_not_change_the_workflow(db: DataFlow) -> None:
    define_user(db)
    records = [{"name": f"u{i}", "email": f"u{i}@x.io", "age": i} for i in range(20)]
    wf = WorkflowBuilder()
    wf.add_node("UserBulkCreateNode", "b", {"records": records})
    records[0]["name"] = "changed"
    records.append({"name": "extra", "email": "extra@x.io"})
    built = wf.build()
    records[1]["age"] = "not an int"
    assert (await again(built))["b"] == {"created": 20}
    listed = await node("UserListNode", {"order_by": "id"})
    assert [r["name"] for r in listed["records"]] == [f"u{i}" for i in range(20)]
    assert [r["age"] for r in listed["records"]] == list(range(20))


async def test_a_built_upsert_reports_created_then_updated(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node(
        "UserUpsertNode",
        "u",
        {"where": {"email": "a@x.io"}, "create": {"name": "A", "age": 1}, "update": {"age": 2}},
    )
    built = wf.build()
    first, second = (await again(built))["u"], (await again(built))["u"]
    assert (first["created"], first["action"], first["record"]["age"]) == (True, "created", 1)
    assert (second["created"], second["action"], second["record"]["age"]) == (False, "updated", 2)
    assert first["record"]["id"] == second["record"]["id"]
    # Without 'update': the existing record comes back unchanged, reported as updated.
    plain = WorkflowBuilder().add_node("UserUpsertNode", "u", {"where": {"email": "a@x.io"}, "create": {"name": "Z"}})
    plain = plain.build()
    out = (await again(plain))["u"]
    assert (out["created"], out["record"]["age"], out["record"]["name"]) == (False, 2, "A")
    # The conflict key given by 'create' and a default that completes the row.
    out = await node("UserUpsertNode", {"where": {"email": "b@x.io"}, "create": {"name": "B"}, "conflict_on": "email"})
    assert out["created"] is True and out["record"]["active"] is True and out["record"]["age"] is None


async def test_upsert_of_the_row_inserted_last_reports_updated(db: DataFlow) -> None:
    # The case that rules out SQLite's last_insert_rowid() as the created/updated signal: after
    # an insert on the connection, an upsert that updates that very row must say "updated".
    define_user(db)
    created = await node("UserCreateNode", {"name": "A", "email": "a@x.io"})
    out = await node("UserUpsertNode", {"where": {"email": "a@x.io"}, "update": {"age": 5}, "create": {"name": "A"}})
    assert (out["created"], out["action"], out["record"]["id"], out["record"]["age"]) == (
        False,
        "updated",
        created["id"],
        5,
    )
    out = await node("UserUpsertNode", {"where": {"email": "b@x.io"}, "create": {"name": "B"}})
    assert out["created"] is True and out["record"]["id"] > created["id"]  # PostgreSQL may skip sequence values


async def test_built_list_and_count_see_the_current_rows(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node("UserListNode", "l", {"filter": {"age": {"$gte": 18}}, "order_by": "-age", "limit": 2})
    wf.add_node("UserCountNode", "c", {"filter": {"active": True}})
    built = wf.build()
    assert (await again(built))["l"] == {"records": [], "count": 0}
    await seed_users(db, [{"name": n, "email": f"{n}@x.io", "age": a} for n, a in (("A", 30), ("B", 17), ("C", 40))])
    results = await again(built)
    assert [r["name"] for r in results["l"]["records"]] == ["C", "A"]
    assert results["l"]["records"][0]["active"] is True
    assert results["c"] == {"count": 3}


async def test_read_by_id_static_and_connected(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [{"name": "A", "email": "a@x.io"}, {"name": "B", "email": "b@x.io", "active": False}])
    for record_id, name, active in ((1, "A", True), (2, "B", False), (1, "A", True)):
        out = await node("UserReadNode", {"id": record_id})
        assert (out["name"], out["active"]) == (name, active)
    wf = WorkflowBuilder()
    wf.add_node("UserListNode", "l", {"filter": {"name": "B"}})
    wf.add_node("UserReadNode", "r", {})
    wf.add_connection("l", "records.0.id", "r", "id")
    assert (await run(wf))["r"]["email"] == "b@x.io"


DROP = object()  # a key left out of the record
RECORDS = [{"name": f"user {i}", "email": f"u{i}@x.io", "age": i % 80, "active": i % 3 != 0} for i in range(50)]


@pytest.mark.parametrize(
    "records",
    [
        pytest.param(RECORDS, id="plain"),
        pytest.param([{k: r[k] for k in ("name", "email")} for r in RECORDS], id="defaults-filled"),
        pytest.param([dict(reversed(list(r.items()))) if i % 2 else r for i, r in enumerate(RECORDS)], id="key-order"),
        pytest.param([{**r, "name": f"usér {i}"} for i, r in enumerate(RECORDS)], id="non-ascii"),
        pytest.param([{**r, "age": None} if i % 5 == 0 else r for i, r in enumerate(RECORDS)], id="some-none"),
        pytest.param([{**r, "id": 100 + i} for i, r in enumerate(RECORDS)], id="explicit-ids"),
    ],
)
async def test_bulk_create_stores_what_the_records_say(db: DataFlow, records: list[dict[str, Any]]) -> None:
    define_user(db)
    for how in ("static", "connected"):
        await node("UserBulkDeleteNode", {"filter": {}})
        wf = WorkflowBuilder()
        if how == "static":
            wf.add_node("UserBulkCreateNode", "b", {"records": records})
        else:
            wf.add_node("SwitchNode", "s", {"condition": "True", "input": records})
            wf.add_node("UserBulkCreateNode", "b", {})
            wf.add_connection("s", "true_output", "b", "records")
        assert (await run(wf))["b"] == {"created": len(records)}
        stored = (await node("UserListNode", {"order_by": "email"}))["records"]
        expected = sorted(records, key=lambda r: r["email"])
        assert [r["email"] for r in stored] == [r["email"] for r in expected]
        for got, want in zip(stored, expected, strict=True):
            assert got["name"] == want["name"]
            assert got["age"] == want.get("age")
            assert got["active"] is want.get("active", True)
            if "id" in want:
                assert got["id"] == want["id"]
    if "id" in records[0]:  # the id sequence moved past explicit ids
        assert (await node("UserCreateNode", {"name": "n", "email": "n@x.io"}))["id"] > 149


async def test_bulk_create_stores_the_records_as_they_were_when_added(db: DataFlow) -> None:
    define_user(db)
    records = [dict(r) for r in RECORDS[:20]]
    wf = WorkflowBuilder().add_node("UserBulkCreateNode", "b", {"records": records})
    records[3]["name"] = "changed after add_node"
    records.append({"name": "late", "email": "late@x.io"})
    built = wf.build()
    records[4]["age"] = "not an age"  # neither the add_node copy nor the built workflow sees it
    assert (await again(built))["b"] == {"created": 20}
    stored = (await node("UserListNode", {"order_by": "id"}))["records"]
    assert [(r["name"], r["age"]) for r in stored] == [(r["name"], r["age"]) for r in RECORDS[:20]]


async def test_bulk_create_float_and_bool_columns(db: DataFlow) -> None:
    @db.model
    class Reading:
        id: int
        value: float
        ok: bool = False

    rows = [{"value": i / 4, "ok": i % 2 == 0} for i in range(40)]
    assert (await node("ReadingBulkCreateNode", {"records": rows}))["created"] == 40
    stored = (await node("ReadingListNode", {"order_by": "id"}))["records"]
    assert [(r["value"], r["ok"]) for r in stored] == [(r["value"], r["ok"]) for r in rows]
    assert all(type(r["value"]) is float and type(r["ok"]) is bool for r in stored)
    ints = [{"value": i} for i in range(12)]  # ints for a float field: stored as floats, default filled in
    assert (await node("ReadingBulkCreateNode", {"records": ints}))["created"] == 12
    stored = (await node("ReadingListNode", {"filter": {"id": {"$gt": 40}}, "order_by": "id"}))["records"]
    assert [(r["value"], r["ok"]) for r in stored] == [(float(i), False) for i in range(12)]


@pytest.mark.parametrize(
    ("bad", "error", "code"),
    [
        ({"age": "thirty"}, TypeMismatchError, "DF-103"),
        ({"name": "nul\x00"}, TypeMismatchError, "DF-103"),
        ({"age": 2**63}, TypeMismatchError, "DF-103"),
        ({"name": "\ud800"}, TypeMismatchError, "DF-103"),
        ({"nickname": "x"}, UnknownFieldError, "DF-102"),
        ({"age": DROP, "nickname": "x"}, UnknownFieldError, "DF-102"),  # as many keys, one of them another
        ({"name": None}, TypeMismatchError, "DF-103"),
        ({"email": DROP}, MissingFieldError, "DF-101"),
    ],
)
async def test_bulk_create_bad_record_raises_at_build_and_at_run(
    db: DataFlow, bad: dict[str, Any], error: type[Exception], code: str
) -> None:
    define_user(db)
    records = [dict(r) for r in RECORDS[:30]]
    records[17] = {k: v for k, v in {**records[17], **bad}.items() if v is not DROP}
    wf = WorkflowBuilder().add_node("UserBulkCreateNode", "b", {"records": records})
    with pytest.raises(error) as info:
        wf.build()
    assert getattr(info.value, "code", None) == code
    assert info.value.context["record_index"] == 17  # type: ignore[attr-defined]
    connected = WorkflowBuilder()
    connected.add_node("SwitchNode", "s", {"condition": "True", "input": records})
    connected.add_node("UserBulkCreateNode", "b", {})
    connected.add_connection("s", "true_output", "b", "records")
    with pytest.raises(error) as info:
        await run(connected)
    assert getattr(info.value, "code", None) == code
    assert (await node("UserCountNode"))["count"] == 0


async def test_bulk_create_of_plain_rows_is_all_or_nothing(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [{"name": "A", "email": "u7@x.io"}])
    with pytest.raises(UniqueViolationError):
        await node("UserBulkCreateNode", {"records": RECORDS[:20]})
    assert (await node("UserCountNode"))["count"] == 1


async def test_static_errors_still_raise_at_build(db: DataFlow) -> None:
    define_user(db)
    cases = [
        ("UserCreateNode", {"name": "A"}, "DF-101"),
        ("UserCreateNode", {"name": "A", "email": 3}, "DF-103"),
        ("UserReadNode", {"id": "one"}, "DF-103"),
        ("UserListNode", {"filter": {"nope": 1}}, "DF-102"),
        ("UserListNode", {"order_by": "nope"}, "DF-102"),
        ("UserListNode", {"limit": -1}, "DF-105"),
        ("UserCountNode", {"filter": {"age": {"$regex": "x"}}}, "DF-201"),
        ("UserUpsertNode", {"where": {"email": "a@x.io"}, "conflict_on": ["name"]}, "DF-305"),
        ("UserUpsertNode", {"where": {"email": "a@x.io"}, "update": {"age": "x"}}, "DF-103"),
        ("UserUpsertNode", {"where": {"email": "a@x.io"}}, "DF-101"),
    ]
    for node_type, params, code in cases:
        with pytest.raises(Exception) as info:
            WorkflowBuilder().add_node(node_type, "n", params).build()
        assert getattr(info.value, "code", None) == code, (node_type, params, info.value)
    with pytest.raises(InvalidParameterError):
        WorkflowBuilder().add_node("UserBulkCreateNode", "b", {"records": [1, 2]}).build()
