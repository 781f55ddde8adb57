"""PostgreSQL row-level security as the second wall of multi-tenancy (``tenant_rls=True``).

Superusers bypass row-level security, and the suite's server connects as one, so these tests
create a role without superuser or ``BYPASSRLS``, give it the test's database and connect as it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from dataflow import AsyncLocalRuntime, DataFlow, DataFlowError, RowSecurityBypassedError

pytestmark = pytest.mark.postgresql_only(reason="row-level security is a PostgreSQL feature (SQLite: DF-814)")

PASSWORD = "rls-Pa55"


def as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}:{PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
async def app_url(postgres_url: str) -> AsyncIterator[str]:
    """The test database, owned by a new role without superuser or BYPASSRLS, and a URL that logs in as it."""
    role = f"df_app_{uuid.uuid4().hex[:10]}"
    database = urlsplit(postgres_url).path.lstrip("/")
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}' NOSUPERUSER NOBYPASSRLS")
        await admin.execute(f'ALTER DATABASE "{database}" OWNER TO {role}')
        await admin.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    finally:
        await admin.close()
    try:
        yield as_role(postgres_url, role)
    finally:
        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            await admin.execute(f"DROP OWNED BY {role}")
            await admin.execute(f"DROP ROLE {role}")
        finally:
            await admin.close()


def declare(db: DataFlow) -> None:
    @db.model(tenant=True)
    class Note:
        id: int
        title: str


async def run(db: DataFlow, node: str, params: dict[str, Any], tenant: str | None) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(
        db.workflow().add_node(node, "n", params).build(), tenant_id=tenant
    )
    return results["n"]


async def raw_tenants(db: DataFlow) -> list[str]:
    async with db.connection() as connection:
        return [r[0] for r in await connection.fetch('SELECT "tenant_id" FROM "notes" ORDER BY "id"', [])]


async def test_raw_sql_on_the_instances_connection_sees_only_the_current_tenant(app_url: str) -> None:
    db = DataFlow(app_url, tenant_rls=True)
    declare(db)
    try:
        for tenant in ("a", "b"):
            await run(db, "NoteBulkCreateNode", {"records": [{"title": f"{tenant}{i}"} for i in range(3)]}, tenant)
            await run(db, "NoteCreateNode", {"title": f"{tenant}-one"}, tenant)
        assert (await run(db, "NoteCountNode", {}, "a"))["count"] == 4
        async with db.connection() as connection:
            flags = await connection.fetch(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'notes'", []
            )
        assert tuple(flags[0]) == (True, True)
        assert await raw_tenants(db) == []  # no tenant: no row, never all of them
        async with db.tenant("a"):
            assert await raw_tenants(db) == ["a"] * 4
            async with db.transaction():
                assert await raw_tenants(db) == ["a"] * 4
                async with db.connection() as connection:
                    rows = await connection.fetch('SELECT count(*) FROM "notes" WHERE "tenant_id" = \'b\'', [])
                    assert rows[0][0] == 0
            with pytest.raises(DataFlowError):  # WITH CHECK: a raw insert for another tenant is refused
                async with db.connection() as connection:
                    await connection.execute('INSERT INTO "notes" ("title", "tenant_id") VALUES (\'x\', \'b\')')
        async with db.tenant("b"):
            assert await raw_tenants(db) == ["b"] * 4
            async with db.connection() as connection:
                assert await connection.execute('UPDATE "notes" SET "title" = \'z\'') == 4  # b's four only
        async with db.tenant("a"):
            listed = await run(db, "NoteListNode", {}, None)
            assert {r["title"] for r in listed["records"]} == {"a0", "a1", "a2", "a-one"}
            await run(db, "NoteBulkDeleteNode", {"filter": {}}, None)
        assert (await run(db, "NoteCountNode", {}, "b"))["count"] == 4
    finally:
        await db.close()


async def test_the_table_owner_is_held_to_the_policy_too(app_url: str) -> None:
    db = DataFlow(app_url, tenant_rls=True)
    declare(db)
    try:
        await run(db, "NoteCreateNode", {"title": "x"}, "a")
        connection = await asyncpg.connect(app_url)  # the owner, outside DataFlow: FORCE ROW LEVEL SECURITY
        try:
            assert await connection.fetchval('SELECT count(*) FROM "notes"') == 0
            async with connection.transaction():
                await connection.execute("SELECT set_config('dataflow.tenant_id', 'a', true)")
                assert await connection.fetchval('SELECT count(*) FROM "notes"') == 1
            assert await connection.fetchval('SELECT count(*) FROM "notes"') == 0  # SET LOCAL ended with it
        finally:
            await connection.close()
    finally:
        await db.close()


async def test_a_superuser_connection_is_refused(postgres_url: str) -> None:
    db = DataFlow(postgres_url, tenant_rls=True)
    declare(db)
    try:
        with pytest.raises(RowSecurityBypassedError):
            await run(db, "NoteCountNode", {}, "a")
    finally:
        await db.close()


async def test_migrations_create_the_policy_with_the_table(app_url: str, tmp_path: Any) -> None:
    db = DataFlow(app_url, tenant_rls=True, migrations_dir=tmp_path)
    declare(db)
    try:
        path = await db.generate_migration_async("notes")
        assert path is not None
        source = path.read_text()
        assert 'enable_row_security("notes", "tenant_id")' in source and "import" in source
        await db.migrate_async()
        async with db.connection() as connection:
            flags = await connection.fetch(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'notes'", []
            )
            policies = await connection.fetch("SELECT policyname FROM pg_policies WHERE tablename = 'notes'", [])
        assert tuple(flags[0]) == (True, True) and [p[0] for p in policies] == ["dataflow_tenant"]
        await run(db, "NoteCreateNode", {"title": "x"}, "a")
        assert await raw_tenants(db) == []
        assert (await run(db, "NoteCountNode", {}, "a"))["count"] == 1
        await db.rollback_async("base")
    finally:
        await db.close()


async def test_create_tables_puts_the_table_under_the_policy_at_once(app_url: str) -> None:
    db = DataFlow(app_url, tenant_rls=True)
    declare(db)
    try:
        await db.create_tables()  # no tenant-scoped operation has run yet
        admin = await asyncpg.connect(app_url)
        try:
            flags = await admin.fetchrow(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'notes'"
            )
            policies = await admin.fetchval("SELECT count(*) FROM pg_policies WHERE tablename = 'notes'")
        finally:
            await admin.close()
        assert tuple(flags) == (True, True) and policies == 1
    finally:
        await db.close()


async def test_a_table_made_without_the_policy_gets_it_on_first_use(app_url: str) -> None:
    plain = DataFlow(app_url)
    declare(plain)
    try:
        await run(plain, "NoteCreateNode", {"title": "x"}, "a")  # the table, without row-level security
    finally:
        await plain.close()
    db = DataFlow(app_url, tenant_rls=True)
    declare(db)
    try:
        assert (await run(db, "NoteCountNode", {}, "b"))["count"] == 0
        async with db.tenant("b"):
            assert await raw_tenants(db) == []
        async with db.tenant("a"):
            assert await raw_tenants(db) == ["a"]
    finally:
        await db.close()
