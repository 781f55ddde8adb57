"""Row-level security for tenant-scoped tables (PostgreSQL): the policy and the tenant setting.

Each tenant-scoped table gets ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (so the table's owner,
usually the application's role, is held to it too) and one policy: a row is visible and writable
only when its tenant column equals the transaction's ``dataflow.tenant_id`` setting. DataFlow sets
it with ``set_config(..., true)``, the function form of ``SET LOCAL``: it ends with the transaction.
With no setting, no row matches. Superusers and roles with ``BYPASSRLS`` are not held to policies.
"""

from __future__ import annotations

__all__ = ["POSTGRES_ROW_SECURITY", "RowSecurity"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class RowSecurity:
    """What a backend with row-level security runs for a tenant-scoped table."""

    #: The run-time setting the policies compare with (a custom, dotted parameter name).
    setting = "dataflow.tenant_id"
    policy = "dataflow_tenant"
    #: One row, one column: True when the connected role is not held to row-level security.
    bypass_sql = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    #: One row, one column: True when table ``$1`` (of the current schema) is under the policy.
    protected_sql = (
        "SELECT c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM pg_policies p "
        f"WHERE p.schemaname = n.nspname AND p.tablename = c.relname AND p.policyname = '{policy}') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = $1 AND n.nspname = current_schema()"
    )
    #: Sets the tenant until the end of the current transaction (``SET LOCAL``); one parameter.
    set_local_sql = f"SELECT set_config('{setting}', $1, true)"

    def __init__(self) -> None:
        #: Tables put under the policy by instances of this process: bulk loads into them use
        #: INSERT, since PostgreSQL refuses ``COPY FROM`` where row-level security applies.
        self.tables: set[str] = set()

    def protect(self, table: str) -> None:
        """``table`` is (or will be) under the tenant policy."""
        self.tables.add(table)

    def policy_sql(self, table: str, column: str) -> list[str]:
        """The idempotent statements that put ``table`` under the tenant policy on ``column``."""
        quoted = _quote(table)
        condition = f"{_quote(column)} = current_setting('{self.setting}', true)"
        # Table names are checked identifiers (letters, digits, underscores), safe inside a literal.
        exists = (
            f"SELECT 1 FROM pg_policies WHERE schemaname = current_schema() AND tablename = '{table}' "
            f"AND policyname = '{self.policy}'"
        )
        return [
            f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
            f"DO $$ BEGIN IF NOT EXISTS ({exists}) THEN CREATE POLICY {self.policy} ON {quoted} "
            f"USING ({condition}) WITH CHECK ({condition}); END IF; END $$",
        ]


#: PostgreSQL's row-level security (its backend and its schema editor share it).
POSTGRES_ROW_SECURITY = RowSecurity()
