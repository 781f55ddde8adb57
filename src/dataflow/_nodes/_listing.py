"""The reading nodes over many records: List and Count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._model import ModelSpec
from .._query import Statement
from .._types import FieldType
from ._base import Node
from ._params import check_non_negative_int, filter_param
from ._spec import NodeSpec, OutputSpec, ParamSpec

__all__ = ["CountNode", "ListNode"]


class ListNode(Node):
    """Records matching a filter, ordered and paged; output: ``records`` and ``count``."""

    operation = "list"
    reads_only = True

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        params = (
            filter_param(),
            ParamSpec("order_by", "A field name, '-field' for descending, or a list of those."),
            ParamSpec("limit", "At most this many records (an int >= 0).", check=check_non_negative_int("limit")),
            ParamSpec("offset", "Skip this many records first (an int >= 0).", check=check_non_negative_int("offset")),
        )
        outputs = (
            OutputSpec("records", None, f"The matching {model.name} records (a list of dicts).", ("results",)),
            OutputSpec("count", FieldType.INT, "How many records were returned."),
        )
        return NodeSpec(params, outputs)

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        if connected:
            return super().prepare(params, connected)
        # Static parameters: the SELECT compiled here (which checks the filter and order_by) is the one run.
        return cls._select(cls.checked(params))

    @classmethod
    def _select(cls, values: Mapping[str, Any]) -> Statement:
        return cls.statements.select(
            values.get("filter"),
            order=values.get("order_by"),
            limit=values.get("limit"),
            offset=values.get("offset"),
            node=cls.type_name,
            include_deleted="include_deleted" in values and values["include_deleted"],
        )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        return await self.run_prepared(type(self)._select(values))

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        cls = type(self)
        sql, args = prepared
        records = cls.statements.records(await cls.on_connection(lambda c: c.fetch(sql, args), (sql, args)))
        return {"records": records, "count": len(records)}


class CountNode(Node):
    """How many records match a filter; output: ``count``."""

    operation = "count"
    reads_only = True

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        return NodeSpec((filter_param(),), (OutputSpec("count", FieldType.INT, "How many records match."),))

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        if connected:
            return super().prepare(params, connected)
        return cls._count(cls.checked(params))

    @classmethod
    def _count(cls, values: Mapping[str, Any]) -> Statement:
        deleted = "include_deleted" in values and values["include_deleted"]
        return cls.statements.count(values.get("filter"), cls.type_name, include_deleted=deleted)

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        return await self.run_prepared(type(self)._count(values))

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        sql, args = prepared
        rows = await type(self).on_connection(lambda c: c.fetch(sql, args), (sql, args))
        return {"count": int(rows[0][0])}
