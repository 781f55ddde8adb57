"""Multi-tenancy on both backends: where the tenant comes from, every one of the eleven nodes bound
to it, filters that cannot escape it, writes that cannot name another tenant, unique constraints and
upsert targets per tenant, the query cache, streams and change capture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Field,
    InvalidTenantError,
    LocalRuntime,
    RecordNotFoundError,
    TenantConflictError,
    TenantMismatchError,
    TenantRequiredError,
    UniqueViolationError,
    WorkflowBuilder,
)


def declare(db: DataFlow) -> None:
    @db.model(tenant=True)
    class Note:
        id: int
        title: str
        slug: str = Field(unique=True)
        stars: int = 0


async def run(db: DataFlow, node: str, params: dict[str, Any], tenant: str | None = None) -> dict[str, Any]:
    workflow = db.workflow().add_node(node, "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id=tenant)
    return results["n"]


async def raw_rows(db: DataFlow) -> list[tuple[Any, ...]]:
    async with db.connection() as connection:
        rows = await connection.fetch('SELECT "tenant_id", "slug", "title", "stars" FROM "notes" ORDER BY "id"', [])
    return [tuple(r) for r in rows]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[DataFlow]:
    instance = DataFlow(database_url)
    declare(instance)
    await instance.create_tables()
    for tenant in ("a", "b"):
        records = [{"title": f"{tenant}{i}", "slug": f"s{i}", "stars": i} for i in range(3)]
        await run(instance, "NoteBulkCreateNode", {"records": records}, tenant)
    yield instance
    await instance.close()


def test_the_seeds_metadata_line_runs_as_written(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    with LocalRuntime() as runtime:
        workflow = WorkflowBuilder()
        workflow.metadata["tenant_id"] = "tenant_a"
        workflow.add_node("NoteCreateNode", "create", {"title": "Hello", "slug": "hello"})
        workflow.add_node("NoteCountNode", "count", {})
        results, _ = runtime.execute(workflow.build())
        assert results["create"]["tenant_id"] == "tenant_a"
        other = WorkflowBuilder()
        other.add_node("NoteCountNode", "count", {})
        assert runtime.execute(other.build(), tenant_id="tenant_b")[0]["count"] == {"count": 0}
        assert runtime.execute(other.build(), tenant_id="tenant_a")[0]["count"] == {"count": 1}
    import asyncio

    asyncio.run(db.close())


async def test_reads_lists_and_counts_see_only_the_tenant(db: DataFlow) -> None:
    listed = await run(db, "NoteListNode", {"order_by": "slug"}, "a")
    assert [r["title"] for r in listed["records"]] == ["a0", "a1", "a2"]
    assert {r["tenant_id"] for r in listed["records"]} == {"a"}
    assert (await run(db, "NoteCountNode", {}, "b"))["count"] == 3
    b_first = (await run(db, "NoteListNode", {"limit": 1}, "b"))["records"][0]
    with pytest.raises(RecordNotFoundError):
        await run(db, "NoteReadNode", {"id": b_first["id"]}, "a")
    assert (await run(db, "NoteReadNode", {"id": b_first["id"]}, "b"))["title"] == "b0"


ESCAPES = [
    {"$or": [{"tenant_id": "b"}, {"stars": {"$gte": 0}}]},
    {"$not": {"tenant_id": "a"}},
    {"tenant_id": "b"},
    {"tenant_id": {"$in": ["a", "b"]}},
    {"$or": [{"$not": {"stars": -1}}, {"tenant_id": {"$ne": "a"}}]},
]


async def test_a_filter_cannot_escape_the_tenant(db: DataFlow) -> None:
    before = [r for r in await raw_rows(db) if r[0] == "b"]
    for escape in ESCAPES:
        listed = await run(db, "NoteListNode", {"filter": escape}, "a")
        assert {r["tenant_id"] for r in listed["records"]} <= {"a"}, escape
        count = (await run(db, "NoteCountNode", {"filter": escape}, "a"))["count"]
        assert count == listed["count"]
        await run(db, "NoteBulkUpdateNode", {"filter": escape, "fields": {"stars": 99}}, "a")
    assert (await run(db, "NoteCountNode", {"filter": ESCAPES[0]}, "a"))["count"] == 3
    for escape in ESCAPES:
        await run(db, "NoteBulkDeleteNode", {"filter": escape}, "a")
    assert [r for r in await raw_rows(db) if r[0] == "b"] == before


async def test_single_writes_touch_only_the_tenants_rows(db: DataFlow) -> None:
    b_id = (await run(db, "NoteListNode", {"limit": 1}, "b"))["records"][0]["id"]
    for node, params in [
        ("NoteUpdateNode", {"id": b_id, "fields": {"title": "x"}}),
        ("NoteUpdateNode", {"filter": {"slug": "s0"}, "fields": {"title": "x"}}),
        ("NoteDeleteNode", {"id": b_id}),
    ]:
        if "filter" in params:  # a's own s0 is changed, b's is not
            assert (await run(db, node, params, "a"))["tenant_id"] == "a"
            continue
        with pytest.raises(RecordNotFoundError):
            await run(db, node, params, "a")
    rows = await raw_rows(db)
    assert [r for r in rows if r[0] == "b"] == [("b", "s0", "b0", 0), ("b", "s1", "b1", 1), ("b", "s2", "b2", 2)]
    assert ("a", "s0", "x", 0) in rows
    deleted = await run(db, "NoteDeleteNode", {"filter": {"slug": "s1"}}, "b")
    assert deleted["tenant_id"] == "b"
    assert ("a", "s1", "a1", 1) in await raw_rows(db)


async def test_unique_fields_and_upserts_are_per_tenant(db: DataFlow) -> None:
    with pytest.raises(UniqueViolationError):
        await run(db, "NoteCreateNode", {"title": "dup", "slug": "s0"}, "a")
    upserted = await run(
        db, "NoteUpsertNode", {"where": {"slug": "s0"}, "create": {"title": "n"}, "update": {"stars": 7}}, "a"
    )
    assert (upserted["action"], upserted["record"]["tenant_id"]) == ("updated", "a")
    fresh = await run(db, "NoteUpsertNode", {"where": {"slug": "new"}, "create": {"title": "n"}}, "b")
    assert fresh["action"] == "created"
    records = [{"slug": "s1", "title": "B1", "stars": 5}, {"slug": "s9", "title": "B9"}]
    assert (await run(db, "NoteBulkUpsertNode", {"records": records, "conflict_on": ["slug"]}, "b"))["upserted"] == 2
    ignored = await run(
        db, "NoteBulkUpsertNode", {"records": records, "conflict_on": ["slug"], "on_conflict": "ignore"}, "a"
    )
    assert (ignored["upserted"], ignored["skipped"]) == (1, 1)  # s9 is new for a; s1 is a's own
    rows = await raw_rows(db)
    assert ("a", "s0", "a0", 7) in rows and ("b", "s0", "b0", 0) in rows
    assert ("b", "s1", "B1", 5) in rows and ("a", "s1", "a1", 1) in rows
    assert ("a", "s9", "B9", 0) in rows and ("b", "s9", "B9", 0) in rows


async def test_an_upsert_on_another_tenants_id_changes_nothing(db: DataFlow) -> None:
    b_row = (await run(db, "NoteListNode", {"limit": 1}, "b"))["records"][0]
    before = await raw_rows(db)
    with pytest.raises(UniqueViolationError):
        await run(
            db, "NoteUpsertNode",
            {"where": {"id": b_row["id"]}, "create": {"title": "t", "slug": "z"}, "update": {"title": "stolen"}}, "a",
        )
    with pytest.raises(UniqueViolationError):
        await run(db, "NoteBulkUpsertNode", {"records": [{"id": b_row["id"], "title": "stolen", "slug": "z"}]}, "a")
    assert await raw_rows(db) == before


MISMATCHES = [
        ("NoteCreateNode", {"title": "t", "slug": "x", "tenant_id": "b"}),
        ("NoteBulkCreateNode", {
            "records": [{"title": "t", "slug": "x"}, {"title": "t", "slug": "y", "tenant_id": "b"}]
        }),
        ("NoteUpdateNode", {"filter": {"slug": "s0"}, "fields": {"tenant_id": "b"}}),
        ("NoteBulkUpdateNode", {"filter": {}, "fields": {"tenant_id": "b"}}),
        ("NoteUpsertNode", {"where": {"slug": "s0"}, "create": {"title": "t"}, "update": {"tenant_id": "b"}}),
        ("NoteUpsertNode", {"where": {"slug": "q", "tenant_id": "b"}, "create": {"title": "t"}}),
        ("NoteBulkUpsertNode", {"records": [{"title": "t", "slug": "s0", "tenant_id": "b"}], "conflict_on": ["slug"]}),
]


async def test_a_write_that_names_another_tenant_is_refused(db: DataFlow) -> None:
    before = await raw_rows(db)
    for node, params in MISMATCHES:
        with pytest.raises(TenantMismatchError) as info:
            await run(db, node, params, "a")
        assert "names tenant 'b'" in str(info.value) and "current tenant is 'a'" in str(info.value)
        assert await raw_rows(db) == before, node
    own = {"title": "t", "slug": "x", "tenant_id": "a"}  # naming one's own tenant is fine
    assert (await run(db, "NoteCreateNode", own, "a"))["tenant_id"] == "a"


WITHOUT_TENANT = [
        ("NoteCreateNode", {"title": "t", "slug": "x"}),
        ("NoteReadNode", {"id": 1}),
        ("NoteUpdateNode", {"id": 1, "fields": {"stars": 1}}),
        ("NoteDeleteNode", {"id": 1}),
        ("NoteListNode", {}),
        ("NoteCountNode", {}),
        ("NoteUpsertNode", {"where": {"slug": "s0"}, "create": {"title": "t"}}),
        ("NoteBulkCreateNode", {"records": [{"title": "t", "slug": "x"}]}),
        ("NoteBulkUpdateNode", {"filter": {}, "fields": {"stars": 1}}),
        ("NoteBulkDeleteNode", {"filter": {}}),
        ("NoteBulkUpsertNode", {"records": [{"title": "t", "slug": "s0"}], "conflict_on": ["slug"]}),
]


async def test_no_tenant_is_an_error_never_all_tenants(db: DataFlow) -> None:
    before = await raw_rows(db)
    assert len({node for node, _ in WITHOUT_TENANT}) == 11
    for node, params in WITHOUT_TENANT:
        workflow = db.workflow().add_node(node, "n", params)
        built = workflow.build()  # building needs no tenant
        with pytest.raises(TenantRequiredError) as info:
            await AsyncLocalRuntime().execute_workflow_async(built)
        assert "Model Note is tenant-scoped and no tenant is set" in str(info.value), node
        assert info.value.context["node"] == "n"
    assert await raw_rows(db) == before


async def test_the_tenant_from_db_tenant_metadata_and_the_runtime(db: DataFlow) -> None:
    async with db.tenant("a"):
        assert (await run(db, "NoteCountNode", {}))["count"] == 3
        with db.tenant("b"):  # nested: the inner tenant for the block
            assert (await run(db, "NoteCountNode", {"filter": {"slug": "s0"}}))["count"] == 1
            listed = await run(db, "NoteListNode", {})
            assert {r["tenant_id"] for r in listed["records"]} == {"b"}
        created = await run(db, "NoteCreateNode", {"title": "ctx", "slug": "ctx"})
        assert created["tenant_id"] == "a"
        with pytest.raises(TenantConflictError) as info:
            await run(db, "NoteCountNode", {}, "b")
    assert "the runtime's tenant_id= = 'b'" in str(info.value)
    workflow = db.workflow().add_node("NoteCountNode", "n", {})
    workflow.metadata["tenant_id"] = "b"
    with pytest.raises(TenantConflictError):
        await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id="a")
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id="b")
    assert results["n"]["count"] == 3
    for bad in ("", 7, "x" * 201, "a\x00b"):
        with pytest.raises(InvalidTenantError):
            db.tenant(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidTenantError):
        await run(db, "NoteCountNode", {}, 5)  # type: ignore[arg-type]


async def test_connected_parameters_and_a_bound_connection(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.metadata["tenant_id"] = "b"
    workflow.add_node("NoteListNode", "first", {"filter": {"slug": "s2"}})
    workflow.add_node("NoteUpdateNode", "bump", {"fields": {"stars": 50}})
    workflow.add_connection("first", "records.0.id", "bump", "id")
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["bump"]["tenant_id"] == "b" and results["bump"]["stars"] == 50
    assert ("a", "s2", "a2", 2) in await raw_rows(db)


async def test_a_declared_tenant_field(database_url: str) -> None:
    db = DataFlow(database_url)

    @db.model(tenant="org_id", unique=[("code",)])
    class Project:
        id: str
        org_id: str
        code: str

    spec = db.models["Project"]
    assert spec.tenant_field == "org_id" and ("org_id", "code") in spec.unique_together
    try:
        await run(db, "ProjectCreateNode", {"id": "p1", "code": "X"}, "acme")
        await run(db, "ProjectCreateNode", {"id": "p2", "code": "X", "org_id": "globex"}, "globex")
        listed = await run(db, "ProjectListNode", {}, "acme")
        assert [(r["id"], r["org_id"]) for r in listed["records"]] == [("p1", "acme")]
        with pytest.raises(RecordNotFoundError):
            await run(db, "ProjectReadNode", {"id": "p2"}, "acme")
    finally:
        await db.close()


async def test_query_cache_entries_are_per_tenant(database_url: str) -> None:
    db = DataFlow(database_url, enable_query_cache=True, cache_ttl=300)
    declare(db)
    try:
        await run(db, "NoteCreateNode", {"title": "A", "slug": "s"}, "a")
        assert (await run(db, "NoteCountNode", {}, "a"))["count"] == 1
        assert (await run(db, "NoteCountNode", {}, "b"))["count"] == 0  # not a's cached count
        assert (await run(db, "NoteCountNode", {}, "a"))["count"] == 1
        assert db.query_cache is not None and db.query_cache.get_metrics()["hits"] == 1
    finally:
        await db.close()


async def test_streams_are_tenant_bound(db: DataFlow) -> None:
    stream = db.stream("Note", filter={"$or": [{"tenant_id": "b"}, {"stars": {"$gte": 0}}]}, batch_size=2)
    with pytest.raises(TenantRequiredError):
        async for _ in stream:
            pass
    async with db.tenant("b"):
        titles = [r["title"] async for r in stream.records()]
    assert titles == ["b0", "b1", "b2"]


async def test_change_capture_shows_only_the_tenants_events(db: DataFlow) -> None:
    feed = db.change_feed("Note", name="notes_tenants")
    await feed.create()
    try:
        await run(db, "NoteCreateNode", {"title": "na", "slug": "new"}, "a")
        await run(db, "NoteCreateNode", {"title": "nb", "slug": "new"}, "b")
        await run(db, "NoteDeleteNode", {"filter": {"slug": "new"}}, "a")
        await run(db, "NoteUpdateNode", {"filter": {"slug": "new"}, "fields": {"title": "nb2"}}, "b")
        workflow = db.workflow().add_node(
            "ChangeDataCaptureNode", "cdc", {"source_table": "notes", "feed": "notes_tenants", "acknowledge": False}
        )
        with pytest.raises(TenantRequiredError):
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id="b")
        events = results["cdc"]["events"]
        assert [(e["operation"], (e["new"] or e["old"])["title"]) for e in events] == [
            ("INSERT", "nb"), ("UPDATE", "nb2")
        ]
        results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id="a")
        assert [(e["operation"], (e["new"] or e["old"])["title"]) for e in results["cdc"]["events"]] == [
            ("INSERT", "na"), ("DELETE", "na")
        ]
    finally:
        await feed.drop()


async def test_query_router_with_cached_reads_keeps_to_the_tenant(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("QueryRouterNode", "route", {"read_write_split": True, "cache_reads": True})
    workflow.add_node("NoteListNode", "list", {"filter": {"$or": [{"tenant_id": "a"}, {"tenant_id": "b"}]}})
    workflow.add_node("NoteCountNode", "count", {})
    workflow.add_connection("route", "status", "list", "trigger")
    workflow.add_connection("route", "status", "count", "trigger")
    built = workflow.build()
    for tenant in ("a", "b", "a", "b"):
        results, _ = await AsyncLocalRuntime().execute_workflow_async(built, tenant_id=tenant)
        assert {r["tenant_id"] for r in results["list"]["records"]} == {tenant}
        assert results["count"]["count"] == 3
    assert results["route"]["cache_hits"] == 2  # the second round of b: per-tenant entries


async def test_the_inspectors_profile_runs_for_the_workflows_tenant(db: DataFlow) -> None:
    from dataflow import Inspector

    workflow = db.workflow().add_node("NoteCountNode", "count", {})
    workflow.metadata["tenant_id"] = "b"
    assert (await Inspector(workflow).profile_async()).results["count"] == {"count": 3}
    bare = db.workflow().add_node("NoteCountNode", "count", {})
    with pytest.raises(TenantRequiredError):
        await Inspector(bare).profile_async()
    async with db.tenant("a"):
        assert (await Inspector(bare).profile_async()).results["count"] == {"count": 3}


async def test_local_runtime_from_async_code_keeps_the_surrounding_tenant(db: DataFlow) -> None:
    workflow = db.workflow().add_node("NoteCountNode", "count", {"filter": {"slug": "s1"}})
    with LocalRuntime() as runtime:  # runs on its own loop in a worker thread: the tenant goes along
        async with db.tenant("b"):
            results, _ = runtime.execute(workflow.build())
        with pytest.raises(TenantRequiredError):
            runtime.execute(workflow.build())
    assert results["count"]["count"] == 1
