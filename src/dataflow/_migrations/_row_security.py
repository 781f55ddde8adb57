"""``enable_row_security(table, column)``: the migration operation that puts a table under the
tenant policy of ``DataFlow(..., tenant_rls=True)`` (PostgreSQL row-level security).

Autogenerate adds it after the ``create_table()`` of a tenant-scoped model when the instance has
``tenant_rls=True``; write it by hand to protect a table that exists already. ``drop_table()``
removes the policy with the table, so its downgrade is nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._dialects import SchemaEditor
from .._errors import RowSecurityUnsupportedError
from ._ops import Operation, Step, literal

__all__ = ["EnableRowSecurity", "enable_row_security"]


@dataclass(frozen=True)
class EnableRowSecurity(Operation):
    """ENABLE and FORCE row-level security on ``table`` with the tenant policy on ``column``."""

    table: str
    column: str = "tenant_id"

    def source(self) -> str:
        return f"enable_row_security({literal(self.table)}, {literal(self.column)})"

    def check(self, editor: SchemaEditor) -> None:
        if editor.row_security is None:
            raise RowSecurityUnsupportedError(
                f"{self.source()}: this backend has no row-level security.", context={"table": self.table}
            )

    async def run(self, step: Step) -> None:
        self.check(step.editor)
        security = step.editor.row_security
        assert security is not None
        for sql in security.policy_sql(self.table, self.column):
            await step.connection.execute(sql)
        security.protect(self.table)


def enable_row_security(table: str, column: str = "tenant_id") -> EnableRowSecurity:
    """Put ``table`` under the tenant policy: rows are visible and writable only when ``column``
    equals the transaction's ``dataflow.tenant_id`` (PostgreSQL; DF-814 elsewhere)."""
    return EnableRowSecurity(table, column)
