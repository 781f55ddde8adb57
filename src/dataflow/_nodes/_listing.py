"""The reading nodes over many records: List and Count."""

from __future__ import annotations

from typing import Any

from .._model import ModelSpec
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

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        sql, args = st.select(
            values.get("filter"),
            order=values.get("order_by"),
            limit=values.get("limit"),
            offset=values.get("offset"),
            node=cls.type_name,
        )
        rows = await cls.on_connection(lambda c: c.fetch(sql, args), (sql, args))
        records = [st.record(r) for r in rows]
        return {"records": records, "count": len(records)}


class CountNode(Node):
    """How many records match a filter; output: ``count``."""

    operation = "count"
    reads_only = True

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        return NodeSpec((filter_param(),), (OutputSpec("count", FieldType.INT, "How many records match."),))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        sql, args = cls.statements.count(values.get("filter"), cls.type_name)
        rows = await cls.on_connection(lambda c: c.fetch(sql, args), (sql, args))
        return {"count": int(rows[0][0])}
