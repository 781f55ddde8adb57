"""The base that a tenant-scoped model's eleven node classes put in front of their operation.

- ``build()`` validates their parameters without a tenant (the tenant is known when they run), and
  keeps nothing prepared for them: every run compiles its statements for the tenant of that run.
- With row-level security (``tenant_rls=True``), every statement runs in a transaction whose
  ``dataflow.tenant_id`` is the current tenant: a single-statement node opens one, and the nodes
  that open their own set it there (``ensure_table`` runs first in each of them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from .._dialects import Connection
from .._tenancy import validating
from .._tenant_sql import TenantStatements
from ._base import Node

__all__ = ["TenantNode"]

T = TypeVar("T")


class TenantNode(Node):
    """Put before the operation's class in a tenant-scoped model's node classes."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.runs_prepared = False  # what build() compiled has no tenant in it

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        with validating():
            return super().prepare(params, connected)

    @classmethod
    def _set_tenant(cls) -> Callable[[Connection], Awaitable[None]] | None:
        """``statements.set_tenant`` under row-level security, else ``None``."""
        st = cls.statements
        return st.set_tenant if isinstance(st, TenantStatements) and st.row_security is not None else None

    @classmethod
    async def on_connection(
        cls, operation: Callable[[Connection], Awaitable[T]], cache_key: tuple[str, Sequence[Any]] | None = None
    ) -> T:
        if cls._set_tenant() is None:
            return await super().on_connection(operation, cache_key)
        async with cls.execution_context().transaction():
            await cls.ensure_table()
            result = await super().on_connection(operation, cache_key)
        return result

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        if cls.operation in ("upsert", "bulk_upsert") and isinstance(st, TenantStatements):
            # An explicit id of another tenant's row: refused with DF-302 (the upsert's SQL leaves such a
            # row alone in any case).
            if cls.operation == "upsert":
                given = [values.get("where") or {}, values.get("create") or {}]
            else:
                given = values.get("records") or []
            ids = [r["id"] for r in given if isinstance(r, Mapping) and r.get("id") is not None]
            if ids:
                await cls.on_connection(lambda c: st.refuse_foreign_ids(c, ids, cls.type_name))
        return await super().execute(values)

    @classmethod
    async def ensure_table(cls) -> None:
        await super().ensure_table()
        set_tenant = cls._set_tenant()
        context = cls.execution_context()
        if set_tenant is not None and context.current_transaction() is not None:
            async with context.connection() as connection:
                await set_tenant(connection)
