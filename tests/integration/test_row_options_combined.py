"""A model with every row option: tenant-scoped, soft delete and versioned rows together, on both
backends. Each option keeps its promise when the others are on: the tenant bounds what soft deletes,
restores, version checks and upserts can reach, and unique fields are unique per tenant among the
live rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Field,
    RecordNotFoundError,
    StaleRecordError,
    TenantMismatchError,
    UniqueViolationError,
)


def declare(db: DataFlow) -> None:
    @db.model(tenant=True, soft_delete=True, versioned=True)
    class Page:
        id: int
        title: str
        slug: str = Field(unique=True)


async def run(db: DataFlow, node: str, params: dict[str, Any], tenant: str) -> Any:
    workflow = db.workflow().add_node(node, "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id=tenant)
    return results["n"]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[DataFlow]:
    instance = DataFlow(database_url)
    declare(instance)
    await instance.drop_tables()
    try:
        yield instance
    finally:
        await instance.drop_tables()
        await instance.close()


async def test_unique_fields_are_per_tenant_among_live_rows(db: DataFlow) -> None:
    first = await run(db, "PageCreateNode", {"title": "Home", "slug": "home"}, "a")
    await run(db, "PageCreateNode", {"title": "Home", "slug": "home"}, "b")  # another tenant: allowed
    with pytest.raises(UniqueViolationError):
        await run(db, "PageCreateNode", {"title": "Again", "slug": "home"}, "a")
    await run(db, "PageDeleteNode", {"id": first["id"]}, "a")
    again = await run(db, "PageCreateNode", {"title": "New home", "slug": "home"}, "a")  # the old one is deleted
    assert again["version"] == 1 and again["tenant_id"] == "a"
    assert (await run(db, "PageCountNode", {"include_deleted": True}, "a")) == {"count": 2}
    assert (await run(db, "PageCountNode", {"include_deleted": True}, "b")) == {"count": 1}


async def test_soft_delete_restore_and_versions_stay_inside_the_tenant(db: DataFlow) -> None:
    page = await run(db, "PageCreateNode", {"title": "Docs", "slug": "docs"}, "a")
    with pytest.raises(RecordNotFoundError):  # another tenant cannot delete it, even by id
        await run(db, "PageDeleteNode", {"id": page["id"]}, "b")
    deleted = await run(db, "PageDeleteNode", {"id": page["id"]}, "a")
    assert deleted["deleted_at"] is not None and deleted["version"] == 2
    with pytest.raises(RecordNotFoundError):  # nor read or restore it, deleted rows included
        await run(db, "PageReadNode", {"id": page["id"], "include_deleted": True}, "b")
    with pytest.raises(RecordNotFoundError):
        await run(db, "PageUpdateNode", {"id": page["id"], "restore": True}, "b")
    restored = await run(db, "PageUpdateNode", {"id": page["id"], "restore": True}, "a")
    assert restored["deleted_at"] is None and restored["version"] == 3

    with pytest.raises(StaleRecordError) as stale:
        await run(db, "PageUpdateNode", {"id": page["id"], "fields": {"title": "x"}, "expected_version": 2}, "a")
    assert stale.value.context["current_version"] == 3
    with pytest.raises(RecordNotFoundError):  # the right version, the wrong tenant: not found, not stale
        await run(db, "PageUpdateNode", {"id": page["id"], "fields": {"title": "x"}, "expected_version": 3}, "b")
    params = {"id": page["id"], "fields": {"title": "Docs 2"}, "expected_version": 3}
    updated = await run(db, "PageUpdateNode", params, "a")
    assert updated["version"] == 4


async def test_upserts_are_per_tenant_skip_deleted_rows_and_bump_the_version(db: DataFlow) -> None:
    def upsert(title: str, **extra: Any) -> dict[str, Any]:
        return {"where": {"slug": "faq"}, "create": {"title": title, **extra}, "update": {"title": title}}

    created = await run(db, "PageUpsertNode", upsert("A"), "a")
    other = await run(db, "PageUpsertNode", upsert("B"), "b")
    assert created["created"] and other["created"]  # the same slug in two tenants: two rows
    updated = await run(db, "PageUpsertNode", upsert("A2"), "a")
    assert updated["action"] == "updated" and updated["record"]["version"] == 2
    assert (await run(db, "PageReadNode", {"id": other["record"]["id"]}, "b"))["title"] == "B"

    await run(db, "PageDeleteNode", {"id": created["record"]["id"]}, "a")
    fresh = await run(db, "PageUpsertNode", upsert("A3"), "a")
    assert fresh["created"] and fresh["record"]["id"] != created["record"]["id"]  # the deleted row stays deleted
    records = [{"title": "bulk", "slug": "faq"}, {"title": "bulk", "slug": "new"}]
    assert (await run(db, "PageBulkUpsertNode", {"records": records, "conflict_on": ["slug"]}, "b"))["upserted"] == 2
    assert (await run(db, "PageReadNode", {"id": fresh["record"]["id"]}, "a"))["title"] == "A3"
    assert (await run(db, "PageReadNode", {"id": other["record"]["id"]}, "b"))["version"] == 2
    with pytest.raises(TenantMismatchError):
        await run(db, "PageUpsertNode", upsert("C", tenant_id="b"), "a")
