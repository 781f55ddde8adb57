"""The bulk nodes without conflict handling: BulkCreate, BulkUpdate, BulkDelete.

They run in one transaction (a savepoint when nested): all or nothing. Counts are reported as
they are, 0 included.
"""

from __future__ import annotations

from typing import Any

from .._errors import InvalidParameterError
from .._model import ModelSpec
from .._types import FieldType
from ._base import Node
from ._params import check_fields, fields_param, filter_param, records_param
from ._rows import checked_rows, db_values, group_by_columns
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

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        rows = checked_rows(cls, values["records"])
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

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        sql, args = cls.statements.update(values["filter"], values["fields"], node=cls.type_name, returning=False)
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
        sql, args = cls.statements.delete(values["filter"], node=cls.type_name, returning=False)
        return {"deleted": await cls.on_connection(lambda c: c.execute(sql, args))}
