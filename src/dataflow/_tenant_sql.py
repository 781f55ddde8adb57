"""The SQL of tenant-scoped models: every statement bound to the current tenant.

:class:`TenantStatements` is the :class:`~dataflow._query.Statements` of a model declared with
``@db.model(tenant=...)``. Every ``WHERE`` it compiles is ``(filter) AND tenant = <current>``, so
reads, counts, updates, deletes and the probes of upserts see only the tenant's rows, whatever the
filter says (``$or``, ``$not`` and conditions on the tenant field stay inside the caller's part).
Every value written to the tenant column passes one converter that accepts only the current tenant
(DF-307), and conflict targets get the tenant column in front (unique per tenant). With
``tenant_rls=True`` (PostgreSQL) the table's DDL also carries the row-level security policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ._dialects import Backend, Connection, Params, RowSecurity, quote_ident
from ._errors import (
    RowSecurityBypassedError,
    RowSecurityUnsupportedError,
    TenantMismatchError,
    UniqueViolationError,
)
from ._model import ModelSpec
from ._query import Statement, Statements
from ._tenancy import current_tenant, is_validating, required_tenant, validating

if TYPE_CHECKING:
    from ._executor import ExecutionContext

__all__ = ["TenantStatements", "check_row_security", "statements_for", "tenant_connection"]


def check_row_security(backend: Backend, tenant_rls: bool) -> RowSecurity | None:
    """The backend's row-level security when ``tenant_rls`` asks for it (DF-814 where there is none)."""
    if not tenant_rls:
        return None
    if backend.row_security is None:
        raise RowSecurityUnsupportedError(
            f"DataFlow(tenant_rls=True) asks for row-level security, which {backend.name} does not have.",
            context={"backend": backend.name},
        )
    return backend.row_security


def statements_for(model: ModelSpec, backend: Backend, row_security: RowSecurity | None) -> Statements:
    """The statements of ``model``: tenant-bound when the model is tenant-scoped."""
    if model.tenant_field is None:
        return Statements(model, backend)
    return TenantStatements(model, backend, row_security)


class TenantStatements(Statements):
    """The SQL of a tenant-scoped model; see the module docstring."""

    ddl_from_spec = False  # row-level security adds this instance's policies

    def __init__(self, model: ModelSpec, backend: Backend, row_security: RowSecurity | None = None) -> None:
        super().__init__(model, backend)
        assert model.tenant_field is not None
        self.tenant_field = model.tenant_field
        #: Row-level security (``tenant_rls=True``), else ``None``.
        self.row_security = row_security
        if row_security is not None:
            row_security.protect(model.table)
        #: Whether the role (``BYPASSRLS`` / superuser) and the table's policy were checked (once per instance).
        self.role_checked = False
        stored = self._to_db.get(self.tenant_field)
        self._to_db[self.tenant_field] = self._own_tenant if stored is None else (lambda v: stored(self._own_tenant(v)))

    def tenant(self) -> str:
        """The current tenant (DF-306 when none is set)."""
        return required_tenant(self.model.name)

    def _own_tenant(self, value: Any) -> Any:
        tenant = self.tenant()
        if value != tenant and not is_validating():
            raise TenantMismatchError(
                f"A {self.model.name} value names tenant {value!r:.60} in field '{self.tenant_field}', but the "
                f"current tenant is {tenant!r:.60}; a tenant writes only its own rows.",
                context={"model": self.model.name, "field": self.tenant_field},
            )
        return value

    def scoped_target(self, conflict_on: Sequence[str]) -> list[str]:
        """A conflict target as the unique indexes have it: the tenant column first (the primary key
        stays alone: ids are unique across tenants, and :meth:`guard` keeps other tenants' rows)."""
        if "id" in conflict_on:
            return ["id"]
        return [self.tenant_field, *(n for n in conflict_on if n != self.tenant_field)]

    def upsert_conditions(self, conflict_on: Sequence[str]) -> list[str]:
        """An upsert's ``DO UPDATE`` leaves a conflicting row of another tenant alone (a conflict on
        the id, which is unique across tenants), besides what the base class guards."""
        conditions = super().upsert_conditions(conflict_on)
        if "id" in conflict_on:
            column = quote_ident(self.tenant_field)
            conditions.append(f"{self.table}.{column} = EXCLUDED.{column}")
        return conditions

    def foreign_ids(self, ids: Sequence[Any], node: str | None) -> Statement:
        """SELECT which of ``ids`` belong to another tenant (an upsert may not touch them)."""
        params = self.backend.params()
        flt = {"id": {"$in": list(ids)}, self.tenant_field: {"$ne": self.tenant()}}
        where = Statements.where(self, flt, params, node, include_deleted=True)  # ids stay taken when deleted
        return f'SELECT "id" FROM {self.table}{where} LIMIT 1', params.values

    # --- filters ------------------------------------------------------------------------------

    def where(
        self,
        flt: Mapping[str, Any] | None,
        params: Params,
        node: str | None,
        *,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> str:
        options: dict[str, Any] = {"include_deleted": include_deleted, "version": version}
        if flt is not None and not isinstance(flt, Mapping):
            return super().where(flt, params, node, **options)  # DF-202, as for any model
        own = {self.tenant_field: self.tenant()}
        return super().where({"$and": [flt, own]} if flt else own, params, node, **options)

    def check_filter(self, flt: Mapping[str, Any], node: str | None) -> None:
        with validating():  # build time: no tenant needed to check a filter
            super().check_filter(flt, node)

    # --- statements whose SQL the base class reuses without the tenant -----------------------

    def select_by_id(self, record_id: Any, node: str | None, *, include_deleted: bool = False) -> Statement:
        return self.select({"id": record_id}, limit=1, node=node, include_deleted=include_deleted)

    def update(
        self,
        flt: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
        *,
        node: str | None,
        returning: bool,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> Statement:
        return self._update(
            flt, fields, node=node, returning=returning, include_deleted=include_deleted, version=version
        )

    def upsert_probe(self, row: Mapping[str, Any], conflict_on: Sequence[str], node: str | None) -> Statement:
        return self.select_ids({n: row[n] for n in conflict_on if n != self.tenant_field}, 1, node)

    # --- writes -------------------------------------------------------------------------------

    def insert(self, row: Mapping[str, Any]) -> Statement:
        if self.tenant_field not in row:
            row = {**row, self.tenant_field: self.tenant()}
        return super().insert(row)

    def upsert(self, row: Mapping[str, Any], conflict_on: Sequence[str], update: Mapping[str, Any]) -> Statement:
        return super().upsert(row, self.scoped_target(conflict_on), update)

    def upsert_many(self, names: Sequence[str], conflict_on: Sequence[str], update_fields: Sequence[str]) -> str:
        return super().upsert_many(names, self.scoped_target(conflict_on), update_fields)

    def insert_ignoring(self, names: Sequence[str], rows: int, conflict_on: Sequence[str]) -> str:
        return super().insert_ignoring(names, rows, self.scoped_target(conflict_on))

    # --- DDL ----------------------------------------------------------------------------------

    def create_table(self) -> list[str]:
        statements = super().create_table()
        if self.row_security is not None:
            statements += self.row_security.policy_sql(self.model.table, self.tenant_field)
        return statements

    # --- row-level security -------------------------------------------------------------------

    async def refuse_foreign_ids(self, connection: Connection, ids: Sequence[Any], node: str | None) -> None:
        """DF-302 when one of ``ids`` (explicit ids of an upsert) is another tenant's row's."""
        if ids and await connection.fetch(*self.foreign_ids(ids, node)):
            raise UniqueViolationError(
                f"An id given to {node or self.model.name + ' upsert'} belongs to a {self.model.name} of another "
                "tenant (ids are unique across tenants); that row was left alone.",
                context={"model": self.model.name, "field": "id"},
            )

    async def set_tenant(self, connection: Connection) -> None:
        """Inside a transaction: hold ``connection`` to the current tenant until it ends (RLS only)."""
        security = self.row_security
        if security is None:
            return
        if not self.role_checked:
            rows = await connection.fetch(security.bypass_sql, [])
            if rows and rows[0][0]:
                raise RowSecurityBypassedError(
                    f"DataFlow(tenant_rls=True): the connected role is a superuser or has BYPASSRLS, so "
                    f"PostgreSQL would not apply the row-level security policy of {self.model.table}.",
                    context={"model": self.model.name},
                )
            protected = await connection.fetch(security.protected_sql, [self.model.table])
            if not (protected and protected[0][0]):  # a table made before tenant_rls=True: protect it now
                for sql in security.policy_sql(self.model.table, self.tenant_field):
                    await connection.execute(sql)
            self.role_checked = True
        await connection.fetch(security.set_local_sql, [self.tenant()])


@asynccontextmanager
async def tenant_connection(
    context: ExecutionContext, row_security: RowSecurity | None
) -> AsyncIterator[Connection]:
    """``db.connection()``; with row-level security and a current tenant, the block runs in a
    transaction (its own, or the current one) whose ``dataflow.tenant_id`` is that tenant."""
    tenant = current_tenant()
    if row_security is None:
        async with context.raw_connection() as connection:
            yield connection
        return
    if tenant is None:  # no tenant: none, even where an earlier statement of the transaction set one
        async with context.raw_connection() as connection:
            if context.current_transaction() is not None or context.pinned is not None:
                await connection.fetch(row_security.set_local_sql, [""])
            yield connection
        return
    async with context.transaction(), context.raw_connection() as connection:
        await connection.fetch(row_security.set_local_sql, [tenant])
        yield connection
