"""The bulk nodes without conflict handling: BulkCreate, BulkUpdate, BulkDelete.

They run in one transaction (a savepoint when nested): all or nothing. Counts are reported as
they are, 0 included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidParameterError
from .._model import ModelSpec
from .._types import FieldType
from ._base import Node
from ._params import check_fields, fields_param, filter_param, records_param
from ._row_options import deleted_now, restore_fields
from ._rows import ColumnRows, checked_rows, converted_columns, db_values, group_by_columns, plain_table
from ._spec import NodeSpec, OutputSpec

__all__ = ["BulkCreateNode", "BulkDeleteNode", "BulkUpdateNode", "needs_records"]


def needs_records(cls: type[Node]) -> None:
    """The error for a bulk node without ``records``."""
    raise InvalidParameterError(
        f"{cls.type_name} needs 'records': a list of dicts, got NoneType.",
        context=cls.error_context(parameter="records"),
    )


def _needs_filter(cls: type[Node]) -> None:
    raise InvalidParameterError(
        f"{cls.type_name} needs a 'filter' (use {{}} to match every record).",
        context=cls.error_context(parameter="filter"),
    )


class BulkCreateNode(Node):
    """Insert many records in one transaction; output: ``created``."""

    operation = "bulk_create"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        outputs = (OutputSpec("created", FieldType.INT, "How many records were inserted."),)
        return NodeSpec((records_param(),), outputs)

    @classmethod
    def missing(cls, name: str) -> None:
        needs_records(cls)

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if "records" in values:
            checked_rows(cls, values["records"])

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        if connected:
            return super().prepare(params, connected)
        values = cls.checked(params)
        # Plain records are checked here, column by column, once; others take the per-record path.
        table = plain_table(cls, values["records"])
        if table is None or table.defaults(cls.model) is None:
            cls.check_static(values, connected)
        return values, table

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        values, table = prepared
        if table is not None and (completed := table.complete(type(self).model)) is not None:
            return await self._insert_plain(*completed)
        return await self._insert(values["records"])

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        table = plain_table(cls, values["records"])
        if table is not None and (completed := table.complete(cls.model)) is not None:
            return await self._insert_plain(*completed)
        return await self._insert(values["records"])

    async def _insert_plain(self, names: tuple[str, ...], columns: list[tuple[Any, ...]]) -> dict[str, Any]:
        """Checked values of one column set, without ids: converted by column, sent in one batch."""
        cls = type(self)
        st = cls.statements
        size = len(columns[0])
        rows = ColumnRows(converted_columns(st, names, columns), size)
        context = cls.execution_context()
        async with context.transaction():
            await cls.ensure_table()
            cls.wrote()
            async with context.connection() as c:
                if not await c.copy_records(cls.model.table, names, rows):
                    await c.executemany(st.insert_many(names), rows)
        return {"created": size}

    async def _insert(self, records: list[Mapping[str, Any]]) -> dict[str, Any]:
        cls = type(self)
        rows = checked_rows(cls, records)
        if not rows:
            return {"created": 0}
        st = cls.statements
        explicit_ids = cls.model.auto_id and any("id" in r for r in rows)
        context = cls.execution_context()
        async with context.transaction():
            await cls.ensure_table()
            cls.wrote()
            async with context.connection() as c:
                for names, group in group_by_columns(rows).items():
                    converted = db_values(st, names, group)
                    if not await c.copy_records(cls.model.table, names, converted):
                        await c.executemany(st.insert_many(names), converted)
                if explicit_ids and (sync := st.sync_identity()):
                    await c.fetch(sync)
        return {"created": len(rows)}


class BulkUpdateNode(Node):
    """Change every record a filter matches; output: ``updated``."""

    operation = "bulk_update"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        outputs = (OutputSpec("updated", FieldType.INT, "How many records were changed (0 included)."),)
        return NodeSpec((filter_param(required=True), fields_param(required=True, aliases=("updates",))), outputs)

    @classmethod
    def missing(cls, name: str) -> None:
        if name == "filter":
            _needs_filter(cls)
        check_fields(cls, None)

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        super().check_static(values, connected)
        if "fields" not in values and not values.get("restore") and not connected & {"fields", "restore"}:
            check_fields(cls, None)  # a soft delete model's BulkUpdate needs fields or restore=True

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        if not cls.model.managed:
            sql, args = cls.statements.update(values["filter"], values["fields"], node=cls.type_name, returning=False)
            return {"updated": await cls.on_connection(lambda c: c.execute(sql, args))}
        restore = values.get("restore", False)
        fields = values.get("fields") or (restore_fields() if restore else check_fields(cls, None))
        if restore:
            fields = {**fields, **restore_fields()}
        sql, args = cls.statements.update(
            values["filter"], fields, node=cls.type_name, returning=False, include_deleted=restore
        )
        return {"updated": await cls.on_connection(lambda c: c.execute(sql, args))}


class BulkDeleteNode(Node):
    """Delete every record a filter matches; output: ``deleted``."""

    operation = "bulk_delete"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        outputs = (OutputSpec("deleted", FieldType.INT, "How many records were deleted (0 included)."),)
        return NodeSpec((filter_param(required=True),), outputs)

    @classmethod
    def missing(cls, name: str) -> None:
        _needs_filter(cls)

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        if st.live and not ("hard" in values and values["hard"]):  # soft delete: mark the live records
            sql, args = st.update(values["filter"], deleted_now(), node=cls.type_name, returning=False)
        else:  # hard=True removes soft-deleted records too
            sql, args = st.delete(values["filter"], node=cls.type_name, returning=False, include_deleted=True)
        return {"deleted": await cls.on_connection(lambda c: c.execute(sql, args))}
