"""Both runtimes, connection paths, in-memory SQLite persistence, and table lifecycle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _dfhelp import define_user, node, run

from dataflow import (
    AmbiguousNodeTypeError,
    AsyncLocalRuntime,
    ConnectionPathError,
    DataFlow,
    DataFlowError,
    InvalidParameterError,
    LocalRuntime,
    MultipleRecordsError,
    RecordNotFoundError,
    TypeMismatchError,
    UniqueViolationError,
    UnknownFieldError,
    WorkflowBuilder,
)


def failing_workflows() -> list[tuple[str, WorkflowBuilder, type[DataFlowError], str]]:
    cases: list[tuple[str, WorkflowBuilder, type[DataFlowError], str]] = []
    read_missing = WorkflowBuilder().add_node("UserReadNode", "r", {"id": 404})
    cases.append(("read-missing", read_missing, RecordNotFoundError, "r"))
    wf = WorkflowBuilder()
    wf.add_node("UserCreateNode", "a", {"name": "a", "email": "dup"})
    wf.add_node("UserCreateNode", "b", {"name": "b", "email": "dup"})
    cases.append(("unique", wf, UniqueViolationError, "b"))
    wf = WorkflowBuilder().add_node("UserUpdateNode", "u", {"filter": {"name": {"$ne": "x"}}, "fields": {"age": 1}})
    cases.append(("several", wf, MultipleRecordsError, "u"))
    wf = WorkflowBuilder().add_node("UserListNode", "src", {})
    wf.add_node("UserCreateNode", "c", {"email": "e"}).add_connection("src", "count", "c", "name")
    cases.append(("type via connection", wf, TypeMismatchError, "c"))
    wf = WorkflowBuilder().add_node("UserListNode", "src", {}).add_node("UserCountNode", "n", {})
    wf.add_connection("src", "count", "n", "filter.nope")
    cases.append(("field via connection", wf, UnknownFieldError, "n"))
    wf = WorkflowBuilder().add_node("UserListNode", "src", {}).add_node("UserReadNode", "r", {})
    wf.add_connection("src", "records.5.id", "r", "id")
    cases.append(("path", wf, ConnectionPathError, "r"))
    return cases


CASE_IDS = [c[0] for c in failing_workflows()]


async def prepare(db: DataFlow) -> None:
    define_user(db)
    await node("UserBulkCreateNode", {"records": [{"name": "p", "email": "p"}, {"name": "q", "email": "q"}]})


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
async def test_async_runtime_raises_typed_errors(db: DataFlow, index: int) -> None:
    await prepare(db)
    _, wf, error, failing = failing_workflows()[index]
    with pytest.raises(error) as info:
        await AsyncLocalRuntime().execute_workflow_async(wf.build())
    assert info.value.context["node"] == failing
    assert str(info.value).startswith(info.value.code)


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_local_runtime_raises_the_same_typed_errors(database_url: str, index: int) -> None:
    db = DataFlow(database_url)
    try:
        with LocalRuntime() as runtime:
            define_user(db)
            seed = WorkflowBuilder().add_node(
                "UserBulkCreateNode", "s", {"records": [{"name": "p", "email": "p"}, {"name": "q", "email": "q"}]}
            )
            runtime.execute(seed.build())
            _, wf, error, failing = failing_workflows()[index]
            with pytest.raises(error) as info:
                runtime.execute(wf.build())
            assert info.value.context["node"] == failing
            assert info.value.context.get("node_type", "User").startswith("User")
    finally:
        asyncio.run(db.close())


def test_local_runtime_round_trip(database_url: str) -> None:
    db = DataFlow(database_url)
    try:
        define_user(db)
        with LocalRuntime() as runtime:
            wf = WorkflowBuilder()
            wf.add_node("UserCreateNode", "create", {"name": "Ann", "email": "ann"})
            wf.add_node("UserReadNode", "read", {})
            wf.add_connection("create", "id", "read", "id")
            results, run_id = runtime.execute(wf.build())
            assert results["read"] == results["create"] and isinstance(run_id, str)
            for _ in range(3):  # the runtime's loop and pools are reused
                out, _ = runtime.execute(WorkflowBuilder().add_node("UserCountNode", "c").build())
                assert out["c"] == {"count": 1}
        second, _ = LocalRuntime().execute(WorkflowBuilder().add_node("UserCountNode", "c").build())
        assert second["c"] == {"count": 1}
    finally:
        asyncio.run(db.close())


async def test_connection_paths(db: DataFlow) -> None:
    define_user(db)

    @db.model
    class Post:
        id: int
        user_id: int
        title: str

    wf = WorkflowBuilder()
    wf.add_node("UserUpsertNode", "user", {"where": {"email": "a"}, "create": {"name": "A"}})
    wf.add_node("PostCreateNode", "p1", {"title": "first"})
    wf.add_node("PostCreateNode", "p2", {"title": "second"})
    wf.add_node("PostListNode", "posts", {"order_by": "id"})
    wf.add_node("PostReadNode", "first", {})
    wf.add_node("PostCountNode", "count", {"filter": {"title": {"$ne": "zzz"}}})
    wf.add_node("UserUpdateNode", "rename", {"fields": {}})
    wf.add_connection("user", "record.id", "p1", "user_id")
    wf.add_connection("user", "record.id", "p2", "user_id")
    wf.add_connection("p2", "user_id", "posts", "filter.user_id")
    wf.add_connection("posts", "records.0.id", "first", "id")
    wf.add_connection("posts", "records.-1.user_id", "count", "filter.user_id")
    wf.add_connection("first", "title", "rename", "fields.name")
    wf.add_connection("user", "record.id", "rename", "id")
    results = await run(wf)
    assert results["posts"]["count"] == 2
    assert results["first"]["title"] == "first"
    assert results["count"] == {"count": 2}
    assert results["rename"]["name"] == "first"

    for path in ("record.nope", "records.9.id", "count.deeper", "nope"):
        bad = WorkflowBuilder()
        bad.add_node("UserUpsertNode", "user", {"where": {"email": "a"}, "create": {"name": "A"}})
        bad.add_node("PostListNode", "posts", {})
        bad.add_node("PostReadNode", "target", {})
        bad.add_connection("user" if path.startswith("record.") else "posts", path, "target", "id")
        with pytest.raises(ConnectionPathError) as info:
            await run(bad)
        assert info.value.code == "DF-405"
        assert info.value.context["node"] == "target"


async def test_whole_output_connection(db: DataFlow) -> None:
    define_user(db)
    wf = WorkflowBuilder()
    wf.add_node("UserListNode", "src", {"filter": {"name": "none"}})
    wf.add_node("UserBulkCreateNode", "copy", {})
    wf.add_connection("src", "records", "copy", "records")
    results = await run(wf)
    assert results["copy"] == {"created": 0}


def test_memory_sqlite_keeps_tables_across_local_runtime_calls() -> None:
    """In-memory SQLite only: the database lives in the instance's connection."""
    db = DataFlow("sqlite:///:memory:")
    define_user(db)
    with LocalRuntime() as runtime:
        runtime.execute(WorkflowBuilder().add_node("UserCreateNode", "c", {"name": "a", "email": "a"}).build())
        runtime.execute(WorkflowBuilder().add_node("UserCreateNode", "c", {"name": "b", "email": "b"}).build())
        out, _ = runtime.execute(WorkflowBuilder().add_node("UserCountNode", "n").build())
        assert out["n"] == {"count": 2}
    out, _ = LocalRuntime().execute(WorkflowBuilder().add_node("UserCountNode", "n").build())
    assert out["n"] == {"count": 2}
    asyncio.run(db.close())


@pytest.mark.dataflow_leaks_expected(reason="exercises the loop-shutdown safety net of asyncio.run on purpose")
@pytest.mark.filterwarnings("ignore::dataflow.LoopReuseWarning")  # DF-703: one instance on five loops, on purpose
def test_memory_sqlite_keeps_tables_across_asyncio_run_calls() -> None:
    """In-memory SQLite only: one connection per instance, shared by every event loop."""
    db = DataFlow("sqlite:///:memory:")
    define_user(db)

    async def create(i: int) -> None:
        await node("UserCreateNode", {"name": f"u{i}", "email": f"u{i}"})

    async def total() -> int:
        return int((await node("UserCountNode"))["count"])

    for i in range(3):
        asyncio.run(create(i))
    assert asyncio.run(total()) == 3
    asyncio.run(db.create_tables())
    assert asyncio.run(total()) == 3
    asyncio.run(db.close())


async def test_create_and_drop_tables(db: DataFlow) -> None:
    define_user(db)

    @db.model
    class Note:
        id: int
        text: str

    await db.create_tables()
    await db.create_tables()  # idempotent
    assert await node("UserCountNode") == {"count": 0}
    await node("NoteCreateNode", {"text": "x"})
    await db.drop_tables()
    # Dropped, then re-created on first use: empty again.
    assert await node("NoteCountNode") == {"count": 0}
    assert await node("NoteCreateNode", {"text": "y"}) == {"id": 1, "text": "y"}
    await db.drop_tables()
    await db.drop_tables()  # dropping missing tables is fine
    await db.create_tables()
    assert await node("UserListNode") == {"records": [], "count": 0}


async def test_table_created_on_first_use_for_every_node(db: DataFlow) -> None:
    define_user(db)
    outputs: dict[str, Any] = {}
    for node_type, params in [
        ("UserListNode", {}),
        ("UserCountNode", {}),
        ("UserBulkDeleteNode", {"filter": {}}),
        ("UserBulkUpdateNode", {"filter": {}, "fields": {"age": 1}}),
        ("UserBulkCreateNode", {"records": []}),
        ("UserBulkUpsertNode", {"records": []}),
    ]:
        await db.drop_tables()
        outputs[node_type] = await node(node_type, params)
    for node_type in ("UserReadNode", "UserDeleteNode"):
        await db.drop_tables()
        with pytest.raises(RecordNotFoundError):
            await node(node_type, {"id": 1})
    await db.drop_tables()
    with pytest.raises(RecordNotFoundError):
        await node("UserUpdateNode", {"id": 1, "fields": {"age": 2}})
    await db.drop_tables()
    assert (await node("UserUpsertNode", {"where": {"email": "e"}, "create": {"name": "n"}}))["created"] is True
    assert outputs["UserCountNode"] == {"count": 0}


async def test_a_second_instance_sees_the_same_data(db: DataFlow, database_url: str) -> None:
    define_user(db)
    await node("UserCreateNode", {"name": "a", "email": "a"})
    other = DataFlow(database_url)
    try:
        define_user(other)  # two live instances declare User: an unbound name is ambiguous now
        with pytest.raises(AmbiguousNodeTypeError):
            await node("UserCountNode")
        assert (await run(other.workflow().add_node("UserCountNode", "n", {})))["n"] == {"count": 1}
        await other.drop_tables()
    finally:
        await other.close()
    # `db` still caches its table as ready; it was dropped behind its back by another instance.
    with pytest.raises(DataFlowError):
        await node("UserCountNode")


async def test_execute_requires_a_built_workflow(db: DataFlow) -> None:
    define_user(db)
    with pytest.raises(TypeError):
        await AsyncLocalRuntime().execute_workflow_async(WorkflowBuilder())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        await node("UserListNode", {"filter": "name = 'x'"})


def test_local_runtime_closes_the_pools_of_every_instance_on_its_loop(database_url: str) -> None:
    first, second = DataFlow(database_url), DataFlow(database_url)
    for db, name in ((first, "Left"), (second, "Right")):
        db.model(type(name, (), {"__annotations__": {"id": int, "label": str}}))
    runtime = LocalRuntime()
    for db, name in ((first, "Left"), (second, "Right")):
        runtime.execute(db.workflow().add_node(f"{name}CreateNode", "c", {"label": "x"}).build())
    assert first.get_cleanup_metrics()["active_pools"] == second.get_cleanup_metrics()["active_pools"] == 1
    runtime.close()
    for db in (first, second):
        metrics = db.get_cleanup_metrics()
        assert metrics["active_pools"] == 0 and metrics["pools_cleaned"] == 1, metrics
