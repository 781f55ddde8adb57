"""The eleven generated nodes and their output shapes, on both backends."""

from __future__ import annotations

import pytest
from _dfhelp import define_user, names, node, run, seed_users

from dataflow import (
    DataFlow,
    InvalidParameterError,
    MultipleRecordsError,
    RecordNotFoundError,
    WorkflowBuilder,
)

ALICE = {"name": "Alice", "email": "alice@x.io", "age": 30}
BOB = {"name": "Bob", "email": "bob@x.io", "age": 25}
CAROL = {"name": "Carol", "email": "carol@x.io", "age": None, "active": False}


async def test_create_returns_stored_record(db: DataFlow) -> None:
    define_user(db)
    out = await node("UserCreateNode", ALICE)
    assert out == {"id": 1, "name": "Alice", "email": "alice@x.io", "age": 30, "active": True}
    out2 = await node("UserCreateNode", {"name": "Dan", "email": "d@x.io"})
    assert out2 == {"id": 2, "name": "Dan", "email": "d@x.io", "age": None, "active": True}


async def test_read(db: DataFlow) -> None:
    define_user(db)
    created = await node("UserCreateNode", ALICE)
    assert await node("UserReadNode", {"id": created["id"]}) == created
    with pytest.raises(RecordNotFoundError) as info:
        await node("UserReadNode", {"id": 999})
    assert info.value.code == "DF-301"
    assert info.value.context["node"] == "n"


async def test_update_by_id_and_filter(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE, BOB])
    out = await node("UserUpdateNode", {"id": 1, "fields": {"age": 31}})
    assert out == {**ALICE, "id": 1, "age": 31, "active": True}
    out = await node("UserUpdateNode", {"filter": {"email": "bob@x.io"}, "fields": {"name": "Robert"}})
    assert out["id"] == 2 and out["name"] == "Robert"
    out = await node("UserUpdateNode", {"filters": {"name": "Robert"}, "fields": {"age": None}})
    assert out["age"] is None
    assert (await node("UserReadNode", {"id": 2}))["name"] == "Robert"


async def test_update_and_delete_matching_nothing_raise_df301(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE])
    for params in ({"id": 42}, {"filter": {"name": "Nobody"}}):
        with pytest.raises(RecordNotFoundError) as info:
            await node("UserUpdateNode", {**params, "fields": {"age": 1}})
        assert info.value.code == "DF-301"
        with pytest.raises(RecordNotFoundError) as info:
            await node("UserDeleteNode", params)
        assert info.value.code == "DF-301"
    assert (await node("UserCountNode"))["count"] == 1


async def test_update_and_delete_matching_several_raise_df304(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE, BOB])
    with pytest.raises(MultipleRecordsError) as info:
        await node("UserUpdateNode", {"filter": {"active": True}, "fields": {"age": 1}})
    assert info.value.code == "DF-304"
    with pytest.raises(MultipleRecordsError) as info:
        await node("UserDeleteNode", {"filter": {"age": {"$gt": 0}}})
    assert info.value.code == "DF-304"
    listed = await node("UserListNode", {"order_by": "id"})
    assert [r["age"] for r in listed["records"]] == [30, 25]  # nothing changed


async def test_delete_returns_deleted_record(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE, BOB])
    out = await node("UserDeleteNode", {"id": 1})
    assert out == {**ALICE, "id": 1, "active": True}
    out = await node("UserDeleteNode", {"filter": {"name": "Bob"}})
    assert out["email"] == "bob@x.io"
    assert (await node("UserCountNode"))["count"] == 0


async def test_single_write_needs_a_target(db: DataFlow) -> None:
    define_user(db)
    for params in ({}, {"filter": {}}, {"id": 1, "filter": {"name": "x"}}):
        with pytest.raises(InvalidParameterError):
            await node("UserDeleteNode", params)


async def test_list_and_count(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE, BOB, CAROL])
    out = await node("UserListNode", {})
    assert set(out) == {"records", "count"}
    assert out["count"] == 3 and len(out["records"]) == 3
    out = await node("UserListNode", {"filter": {"active": True}, "order_by": "-age"})
    assert names(out) == ["Alice", "Bob"] and out["count"] == 2
    assert await node("UserCountNode") == {"count": 3}
    assert await node("UserCountNode", {"filter": {"age": None}}) == {"count": 1}
    assert await node("UserCountNode", {"filters": {"name": {"$in": ["Alice", "Bob"]}}}) == {"count": 2}
    empty = await node("UserListNode", {"filter": {"name": "Zed"}})
    assert empty == {"records": [], "count": 0}


async def test_upsert_created_then_updated(db: DataFlow) -> None:
    define_user(db)
    params = {
        "where": {"email": "alice@x.io"},
        "conflict_on": ["email"],
        "update": {"age": 31},
        "create": {"name": "Alice", "email": "alice@x.io", "age": 30},
    }
    first = await node("UserUpsertNode", params)
    assert first == {"created": True, "action": "created", "record": {**ALICE, "id": 1, "active": True}}
    second = await node("UserUpsertNode", params)
    assert second["created"] is False and second["action"] == "updated"
    assert second["record"] == {**ALICE, "id": 1, "age": 31, "active": True}
    assert (await node("UserCountNode"))["count"] == 1


async def test_upsert_default_conflict_on_is_where_keys(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE])
    out = await node("UserUpsertNode", {"where": {"id": 1}, "update": {"name": "Alicia"}, "create": ALICE})
    assert out["action"] == "updated" and out["record"]["name"] == "Alicia" and out["record"]["id"] == 1
    out = await node("UserUpsertNode", {"where": {"email": "new@x.io"}, "create": {"name": "New"}})
    assert out["created"] is True and out["record"]["email"] == "new@x.io"
    # No update given: an existing row is returned unchanged.
    out = await node("UserUpsertNode", {"where": {"email": "new@x.io"}, "create": {"name": "Other"}})
    assert out["created"] is False and out["record"]["name"] == "New"


async def test_bulk_create_update_delete(db: DataFlow) -> None:
    define_user(db)
    rows = [{"name": f"u{i}", "email": f"u{i}@x.io", "age": i} for i in range(50)]
    assert await node("UserBulkCreateNode", {"records": rows}) == {"created": 50}
    assert await node("UserBulkCreateNode", {"records": []}) == {"created": 0}
    assert await node("UserBulkUpdateNode", {"filter": {"age": {"$lt": 10}}, "fields": {"active": False}}) == {
        "updated": 10
    }
    assert await node("UserCountNode", {"filter": {"active": False}}) == {"count": 10}
    assert await node("UserBulkUpdateNode", {"filter": {"name": "nobody"}, "fields": {"age": 1}}) == {"updated": 0}
    assert await node("UserBulkDeleteNode", {"filter": {"age": {"$gte": 40}}}) == {"deleted": 10}
    assert await node("UserBulkDeleteNode", {"filter": {"name": "nobody"}}) == {"deleted": 0}
    assert await node("UserBulkUpdateNode", {"filter": {}, "fields": {"age": 0}}) == {"updated": 40}
    assert await node("UserBulkDeleteNode", {"filter": {}}) == {"deleted": 40}
    assert await node("UserCountNode") == {"count": 0}


async def test_bulk_update_and_delete_need_a_filter(db: DataFlow) -> None:
    define_user(db)
    with pytest.raises(InvalidParameterError):
        await node("UserBulkDeleteNode", {})
    with pytest.raises(InvalidParameterError):
        await node("UserBulkUpdateNode", {"fields": {"age": 1}})


async def test_bulk_upsert(db: DataFlow) -> None:
    define_user(db)
    await seed_users(db, [ALICE, BOB])
    out = await node(
        "UserBulkUpsertNode",
        {
            "records": [
                {"name": "Alice2", "email": "alice@x.io"},
                {"name": "Eve", "email": "eve@x.io", "age": 22},
            ],
            "conflict_on": ["email"],
        },
    )
    assert out == {"upserted": 2}
    listed = await node("UserListNode", {"order_by": "email"})
    by_email = {r["email"]: r for r in listed["records"]}
    assert by_email["alice@x.io"]["name"] == "Alice2"
    assert by_email["alice@x.io"]["age"] == 30  # not passed: kept, not reset to the default
    assert by_email["eve@x.io"]["age"] == 22
    assert listed["count"] == 3
    # update_fields restricts what changes on conflict.
    await node(
        "UserBulkUpsertNode",
        {
            "records": [{"name": "X", "email": "bob@x.io", "age": 99}],
            "conflict_on": ["email"],
            "update_fields": ["age"],
        },
    )
    bob = (await node("UserListNode", {"filter": {"email": "bob@x.io"}}))["records"][0]
    assert bob["name"] == "Bob" and bob["age"] == 99
    # Default conflict target: id.
    assert await node("UserBulkUpsertNode", {"records": [{"id": 1, "name": "A1", "email": "alice@x.io"}]}) == {
        "upserted": 1
    }
    assert (await node("UserReadNode", {"id": 1}))["name"] == "A1"


async def test_all_eleven_nodes_in_one_workflow(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node("UserCreateNode", "create", ALICE)
    wf.add_node("UserReadNode", "read", {})
    wf.add_node("UserUpdateNode", "update", {"fields": {"age": 40}})
    wf.add_node("UserBulkCreateNode", "bulk_create", {"records": [BOB, CAROL]})
    wf.add_node("UserUpsertNode", "upsert", {"where": {"email": "dan@x.io"}, "create": {"name": "Dan"}})
    wf.add_node(
        "UserBulkUpsertNode", "bulk_upsert", {"records": [{"name": "Eve", "email": "eve@x.io"}], "conflict_on": "email"}
    )
    wf.add_node("UserBulkUpdateNode", "bulk_update", {"filter": {"age": None}, "fields": {"age": 1}})
    wf.add_node("UserListNode", "list", {"order_by": ["-age", "name"]})
    wf.add_node("UserCountNode", "count", {})
    wf.add_node("UserDeleteNode", "delete", {})
    wf.add_node("UserBulkDeleteNode", "bulk_delete", {"filter": {"age": 1}})
    wf.add_connection("create", "id", "read", "id")
    wf.add_connection("read", "id", "update", "id")
    wf.add_connection("update", "id", "delete", "id")
    results = await run(wf)  # unconnected nodes run in insertion order
    assert results["create"]["id"] == 1 and results["read"] == results["create"]
    assert results["update"]["age"] == 40
    assert results["bulk_create"] == {"created": 2}
    assert results["upsert"]["created"] is True
    assert results["bulk_upsert"] == {"upserted": 1}
    assert results["bulk_update"] == {"updated": 3}  # Carol, Dan, Eve had no age
    assert names(results["list"]) == ["Alice", "Bob", "Carol", "Dan", "Eve"]
    assert results["count"] == {"count": 5}
    assert results["delete"]["name"] == "Alice"
    assert results["bulk_delete"] == {"deleted": 3}
    assert names(await node("UserListNode")) == ["Bob"]
    with pytest.raises(InvalidParameterError) as info:  # a connected unknown parameter fails at run time
        bad = WorkflowBuilder().add_node("UserCountNode", "a").add_node("UserCountNode", "b")
        await run(bad.add_connection("a", "count", "b", "limit"))
    assert info.value.context["node"] == "b"


async def test_workflow_runs_nodes_in_dependency_order(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node("UserUpdateNode", "update", {"fields": {"age": 40}})
    wf.add_node("UserReadNode", "read", {})
    wf.add_node("UserCreateNode", "create", ALICE)
    wf.add_node("UserDeleteNode", "delete", {})
    wf.add_connection("create", "id", "read", "id")
    wf.add_connection("read", "id", "update", "id")
    wf.add_connection("update", "id", "delete", "id")
    results = await run(wf)
    assert list(results) == ["create", "read", "update", "delete"]
    assert results["update"]["age"] == 40
    assert results["delete"] == results["update"]
    assert (await node("UserCountNode"))["count"] == 0


async def test_a_mixed_case_table_is_created_once_and_found_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first-use check finds the table and its index by their quoted names (PostgreSQL folds
    # unquoted names to lower case); a second instance must find them instead of failing or
    # creating them again.
    from dataflow import Field

    class Gauge:
        id: int
        label: str = Field(index=True)

    first, second = DataFlow(database_url), DataFlow(database_url)
    try:
        first.model(Gauge, table="GaugeReadings")
        second.model(Gauge, table="GaugeReadings")
        await first.create_tables()
        workflow = first.workflow()
        workflow.add_node("GaugeCreateNode", "create", {"label": "north"})
        await run(workflow)
        if second.dialect == "postgresql":  # SQLite runs its IF NOT EXISTS statements as they are
            from dataflow._dialects.postgresql import PostgresConnection

            sent: list[str] = []
            original = PostgresConnection.execute

            async def recorded(self, sql, params=()):  # type: ignore[no-untyped-def]
                sent.append(sql)
                return await original(self, sql, params)

            monkeypatch.setattr(PostgresConnection, "execute", recorded)
        await second.create_tables()  # finds both: no DDL, nothing lost
        if second.dialect == "postgresql":
            assert len(sent) == 1 and sent[0].startswith("SELECT 1 WHERE"), sent
            monkeypatch.undo()
        workflow = second.workflow()
        workflow.add_node("GaugeListNode", "list", {})
        results = await run(workflow)
        assert [r["label"] for r in results["list"]["records"]] == ["north"]
    finally:
        async with first.connection() as connection:
            await connection.execute('DROP TABLE IF EXISTS "GaugeReadings"')
        await first.close()
        await second.close()
