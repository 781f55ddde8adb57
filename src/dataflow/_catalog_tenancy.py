"""The catalog entries of multi-tenancy (DF-306..DF-308, DF-412, DF-813..DF-815), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order.
"""

from __future__ import annotations

__all__ = ["TENANCY_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
TENANCY_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-306", "TenantRequiredError", "No tenant for a tenant-scoped model",
        "A node, stream or change capture of a model declared with `@db.model(tenant=...)` ran while no "
        "tenant was set. DataFlow never falls back to every tenant's rows.",
        "Set the tenant for the run: `workflow.metadata[\"tenant_id\"] = \"acme\"` on the builder, "
        "`runtime.execute(workflow.build(), tenant_id=\"acme\")`, or run the code inside "
        "`async with db.tenant(\"acme\"):`.",
    ),
    (
        "DF-307", "TenantMismatchError", "Value names another tenant",
        "A create, bulk create, update or upsert gives the tenant field a value other than the current "
        "tenant: a tenant can only write rows of its own, and cannot move a row to another tenant.",
        "Leave the tenant field out (DataFlow fills it with the current tenant), or run the write for "
        "the tenant it names.",
    ),
    (
        "DF-308", "InvalidTenantError", "Invalid tenant id",
        "The tenant id given to `db.tenant()`, to a runtime's `tenant_id=` or in "
        "`workflow.metadata[\"tenant_id\"]` is not a non-empty str of at most 200 characters without NUL.",
        "Pass the tenant's id as a str, such as `db.tenant(\"acme\")` or `db.tenant(str(org.id))`.",
    ),
    (
        "DF-412", "TenantConflictError", "Workflow run names two tenants",
        "A workflow run got its tenant from more than one place and they differ: the runtime's "
        "`tenant_id=`, `workflow.metadata[\"tenant_id\"]` and the surrounding `db.tenant()` block.",
        "Name the tenant in one place, or make the places agree; a run acts for exactly one tenant.",
    ),
    (
        "DF-813", "InvalidTenantOptionError", "Invalid tenant option",
        "`@db.model(tenant=...)` takes `True` (DataFlow adds a `tenant_id: str` field) or the name of a "
        "declared, non-optional `str` field other than `id`; the option was something else, named no "
        "field, or `tenant=True` met a declared `tenant_id` field.",
        "Use `@db.model(tenant=True)`, or declare `org_id: str` and use `@db.model(tenant=\"org_id\")`.",
    ),
    (
        "DF-814", "RowSecurityUnsupportedError", "Row-level security unsupported",
        "`DataFlow(..., tenant_rls=True)` asks for row-level security policies on tenant-scoped tables, "
        "and the backend has none: SQLite has no row-level security.",
        "Drop `tenant_rls=True` on SQLite: the tenant filter of every generated node still applies. Use "
        "PostgreSQL for the second wall.",
    ),
    (
        "DF-815", "RowSecurityBypassedError", "Role bypasses row-level security",
        "With `tenant_rls=True`, the role in the URL is a superuser or has `BYPASSRLS`; PostgreSQL does "
        "not apply row-level security policies to such roles, so the second wall would not exist.",
        "Connect as a role without superuser and `BYPASSRLS` (`CREATE ROLE app LOGIN PASSWORD '...'; "
        "GRANT ... TO app;`), or drop `tenant_rls=True`.",
    ),
]
