"""Property: random sequences of all eleven node types for two tenants never show, count or change
the other tenant's rows, on both backends (and, with row-level security on PostgreSQL, raw SELECTs on
the instance's connection see only the current tenant).

The suite runs a few examples; ``DATAFLOW_TENANCY_EXAMPLES=200`` runs the long form.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Field,
    MultipleRecordsError,
    RecordNotFoundError,
    UniqueViolationError,
)

EXAMPLES = int(os.environ.get("DATAFLOW_TENANCY_EXAMPLES", "4"))
TENANTS = ("a", "b")
SLUGS = ("s0", "s1", "s2", "s3")

#: Filters, some of them trying to reach the other tenant.
FILTERS = st.sampled_from(
    [
        {},
        {"stars": {"$gte": 1}},
        {"$or": [{"tenant_id": "a"}, {"tenant_id": "b"}]},
        {"$not": {"tenant_id": "a"}},
        {"tenant_id": {"$ne": "a"}},
        {"$or": [{"stars": {"$lt": 0}}, {"$not": {"stars": -5}}]},
        {"slug": "s1"},
    ]
)
IDS = st.integers(min_value=1, max_value=12)
STEP = st.tuples(
    st.sampled_from(TENANTS),
    st.sampled_from(
        ["Create", "Read", "Update", "Delete", "List", "Count", "Upsert",
         "BulkCreate", "BulkUpdate", "BulkDelete", "BulkUpsert"]
    ),
    FILTERS,
    IDS,
    st.sampled_from(SLUGS),
    st.integers(min_value=0, max_value=9),
)  # fmt: skip
SEQUENCES = st.lists(STEP, min_size=4, max_size=14)


def declare(db: DataFlow) -> None:
    @db.model(tenant=True)
    class Card:
        id: int
        slug: str = Field(unique=True)
        stars: int = 0


def params_for(op: str, flt: dict[str, Any], record_id: int, slug: str, stars: int) -> dict[str, Any]:
    return {
        "Create": {"slug": slug, "stars": stars},
        "Read": {"id": record_id},
        "Update": {"id": record_id, "fields": {"stars": stars}},
        "Delete": {"filter": {"slug": slug}},
        "List": {"filter": flt, "order_by": "id"},
        "Count": {"filter": flt},
        "Upsert": {"where": {"slug": slug}, "update": {"stars": stars}},
        "BulkCreate": {"records": [{"slug": f"{slug}-{uuid.uuid4().hex[:6]}", "stars": stars}]},
        "BulkUpdate": {"filter": flt, "fields": {"stars": stars}},
        "BulkDelete": {"filter": {"$and": [flt, {"stars": stars}]}},
        "BulkUpsert": {"records": [{"slug": slug, "stars": stars}], "conflict_on": ["slug"]},
    }[op]


async def all_rows(admin: Any) -> list[tuple[Any, ...]]:
    """Every row, seen past the tenant scope: the instance's own connection (no RLS), or the admin's."""
    if isinstance(admin, DataFlow):
        async with admin.connection() as connection:
            rows = await connection.fetch('SELECT "id", "tenant_id", "slug", "stars" FROM "cards" ORDER BY "id"', [])
    else:
        rows = await admin.fetch('SELECT "id", "tenant_id", "slug", "stars" FROM "cards" ORDER BY "id"')
    return [tuple(r) for r in rows]


def records_in(output: dict[str, Any]) -> list[dict[str, Any]]:
    if "records" in output:
        return list(output["records"])
    if isinstance(output.get("record"), dict):
        return [output["record"]]
    return [output] if "tenant_id" in output else []


async def check_sequence(db: DataFlow, admin: Any, steps: list[tuple[str, str, dict[str, Any], int, str, int]]) -> None:
    runtime = AsyncLocalRuntime()
    for tenant, op, flt, record_id, slug, stars in steps:
        other = "b" if tenant == "a" else "a"
        before = await all_rows(admin)
        theirs = [r for r in before if r[1] == other]
        mine = [r for r in before if r[1] == tenant]
        workflow = db.workflow().add_node(f"Card{op}Node", "n", params_for(op, flt, record_id, slug, stars))
        try:
            results, _ = await runtime.execute_workflow_async(workflow.build(), tenant_id=tenant)
        except (RecordNotFoundError, UniqueViolationError, MultipleRecordsError) as exc:
            output: dict[str, Any] = {}
            if isinstance(exc, RecordNotFoundError) and op == "Read":
                assert record_id not in {r[0] for r in mine}  # only another tenant's (or no) row is missing
        else:
            output = results["n"]
        after = await all_rows(admin)
        assert [r for r in after if r[1] == other] == theirs, f"{op} for {tenant} changed {other}'s rows"
        for record in records_in(output):
            assert record["tenant_id"] == tenant, f"{op} for {tenant} returned {record}"
        if op == "Count" and flt in ({}, {"$or": [{"tenant_id": "a"}, {"tenant_id": "b"}]}):
            assert output["count"] == len(mine)
        for key in ("updated", "deleted"):
            if key in output:
                assert output[key] <= len(mine)
        if op == "List" and not flt:
            assert [r["id"] for r in output["records"]] == [r[0] for r in mine]
        if isinstance(admin, DataFlow):
            continue
        async with db.tenant(tenant), db.connection() as connection:  # RLS: raw SQL sees one tenant
            seen = await connection.fetch('SELECT DISTINCT "tenant_id" FROM "cards"', [])
        assert {r[0] for r in seen} <= {tenant}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=SEQUENCES)
def test_no_sequence_of_nodes_crosses_tenants(database_url: str, steps: list[Any]) -> None:
    async def main() -> None:
        db = DataFlow(database_url)
        declare(db)
        try:
            await db.create_tables()
            await check_sequence(db, db, steps)
        finally:
            await db.close()

    asyncio.run(main())


async def _role_url(admin_url: str) -> tuple[str, str]:
    role = f"df_prop_{uuid.uuid4().hex[:10]}"
    database = urlsplit(admin_url).path.lstrip("/")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'p' NOSUPERUSER NOBYPASSRLS")
        await admin.execute(f'ALTER DATABASE "{database}" OWNER TO {role}')
        await admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    finally:
        await admin.close()
    parts = urlsplit(admin_url)
    return role, urlunsplit((parts.scheme, f"{role}:p@{parts.hostname}:{parts.port}", parts.path, "", ""))


@pytest.mark.postgresql_only(reason="row-level security is a PostgreSQL feature")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=SEQUENCES)
def test_no_sequence_crosses_tenants_under_row_level_security(database_url: str, steps: list[Any]) -> None:
    async def main() -> None:
        role, url = await _role_url(database_url)
        db = DataFlow(url, tenant_rls=True)
        declare(db)
        admin = await asyncpg.connect(database_url)  # a superuser: sees every tenant, for the checks
        try:
            await db.create_tables()
            await check_sequence(db, admin, steps)
        finally:
            await db.close()
            await admin.execute('DROP TABLE IF EXISTS "cards"')
            await admin.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            await admin.execute(f"DROP OWNED BY {role}")
            await admin.execute(f"DROP ROLE {role}")
            await admin.close()

    asyncio.run(main())
