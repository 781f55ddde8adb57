"""Wrong node parameters fail with a DF- error naming the field/parameter, before any SQL runs.

Every test uses a fresh database whose table does not exist yet: DataFlow creates tables on first
use, so "the table still does not exist" after the error proves that no SQL ran. Static parameters
are rejected by ``WorkflowBuilder.build()``; values that only arrive through a connection are
rejected by the node at run time, still before its first statement.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest
from _hostile import FAST, Loop, hostile_text
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow import AsyncLocalRuntime, DataFlow, DataFlowError, WorkflowBuilder

EXPECTED = {"title": "str", "qty": "int", "price": "float", "active": "bool", "due": "date"}


def _model(db: DataFlow) -> None:
    @db.model
    class Task:
        id: int
        title: str
        qty: int = 0
        price: float = 0.0
        active: bool = True
        due: date | None = None

    @db.model
    class Source:
        id: int
        label: str = "x"


def _valid(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str) and "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "date":
        if isinstance(value, str):
            try:
                date.fromisoformat(value)
                return True
            except ValueError:
                return False
        return isinstance(value, date) and not hasattr(value, "hour")
    raise AssertionError(kind)


WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    hostile_text(12),
    st.sampled_from(["10", "1.5", "true", "2024-01-01", "NaN", "; DROP TABLE tasks"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.binary(max_size=4),
    st.datetimes(),
)


async def _tables(db: DataFlow) -> set[str]:
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    async with db.connection() as connection:
        rows = await connection.fetch(sql)
    return {r[0] for r in rows}


def _execute(loop: Loop, node: str, params: dict[str, Any]) -> Any:
    builder = WorkflowBuilder()
    builder.add_node(node, "n", params)
    return loop.run(AsyncLocalRuntime().execute_workflow_async(builder.build()))


@pytest.fixture
def fresh(database_url: str) -> Any:
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    _model(db)
    try:
        yield loop, db
    finally:
        loop.run(db.close())
        loop.close()


def test_wrong_field_types(fresh: Any) -> None:
    """A value of the wrong type for a field: DF-103 naming the field and its type; no table created."""
    loop, db = fresh

    @settings(FAST, max_examples=80)
    @given(field=st.sampled_from(list(EXPECTED)), value=WRONG,
           node=st.sampled_from(["create", "bulk_create", "update", "bulk_update", "filter", "upsert"]))
    def check(field: str, value: Any, node: str) -> None:
        kind = EXPECTED[field]
        if _valid(kind, value) or (value is None and field == "due"):
            return
        record = {"title": "t", field: value}
        attempts = {
            "create": ("TaskCreateNode", record),
            "bulk_create": ("TaskBulkCreateNode", {"records": [{"title": "ok"}, record]}),
            "update": ("TaskUpdateNode", {"id": 1, "fields": {field: value}}),
            "bulk_update": ("TaskBulkUpdateNode", {"filter": {}, "fields": {field: value}}),
            "filter": ("TaskListNode", {"filter": {field: value}}),
            "upsert": ("TaskUpsertNode", {"where": {"id": 1}, "create": record}),
        }
        name, params = attempts[node]
        if node == "filter" and value is None:
            return  # {field: None} is a valid IS NULL filter
        if node == "filter" and isinstance(value, dict) and (not value or any(str(k).startswith("$") for k in value)):
            return  # an operator dict, not a value
        with pytest.raises(DataFlowError) as info:
            _execute(loop, name, params)
        err = info.value
        message = str(err)
        assert err.code in ("DF-103", "DF-202"), message
        assert err.context.get("field") == field, (err.context, message)
        assert f"'{field}'" in message, message
        if err.code == "DF-103":
            assert kind in message, message
        assert "tasks" not in loop.run(_tables(db)), "SQL ran before validation"

    check()


@pytest.mark.parametrize(
    ("node", "params", "parameter", "expected"),
    [
        ("TaskListNode", {"limit": "10"}, "limit", "non-negative int"),
        ("TaskListNode", {"limit": -1}, "limit", "non-negative int"),
        ("TaskListNode", {"limit": 1.0}, "limit", "non-negative int"),
        ("TaskListNode", {"limit": True}, "limit", "non-negative int"),
        ("TaskListNode", {"offset": "0"}, "offset", "non-negative int"),
        ("TaskListNode", {"order_by": 5}, "order_by", "field name"),
        ("TaskListNode", {"order_by": ["title", 1]}, "order_by", "field name"),
        ("TaskListNode", {"filter": "title = 'x'"}, "filter", "dict"),
        ("TaskListNode", {"filter": {}, "filters": {}}, "filters", "filter"),
        ("TaskListNode", {"where": {}}, "where", "filter"),
        ("TaskCountNode", {"limit": 1}, "limit", "filter"),
        ("TaskReadNode", {"id": "1"}, "id", "int"),
        ("TaskReadNode", {}, "id", "id"),
        ("TaskUpdateNode", {"id": 1, "fields": {}}, "fields", "non-empty dict"),
        ("TaskUpdateNode", {"id": 1, "fields": {"id": 2}}, "id", "id"),
        ("TaskUpdateNode", {"id": 1, "fields": "title='x'"}, "fields", "dict"),
        ("TaskBulkDeleteNode", {}, "filter", "filter"),
        ("TaskBulkCreateNode", {"records": {"title": "x"}}, "records", "list"),
        (
            "TaskBulkUpsertNode",
            {"records": [{"id": 1, "title": "x"}], "conflict_on": ["title"]},
            "conflict_on",
            "unique",
        ),
        (
            "TaskBulkUpsertNode",
            {"records": [{"id": 1, "title": "x"}], "update_fields": "title"},
            "update_fields",
            "list",
        ),
        ("TaskUpsertNode", {"where": {}}, "where", "non-empty dict"),
        ("TaskUpsertNode", {"where": {"title": "x"}}, "conflict_on", "unique"),
        ("TaskCreateNode", {"title": "x", "nope": 1}, "nope", "Valid fields"),
        ("TaskCreateNode", {}, "title", "required"),
        ("TaskListNode", {"order_by": "-nope"}, "nope", "Valid fields"),
    ],
)
def test_bad_node_parameters(fresh: Any, node: str, params: dict[str, Any], parameter: str, expected: str) -> None:
    """Unknown keys and wrongly typed node parameters: a DF-1xx/3xx error naming them; no SQL ran."""
    loop, db = fresh
    with pytest.raises(DataFlowError) as info:
        _execute(loop, node, params)
    err = info.value
    message = str(err)
    assert err.code in {"DF-101", "DF-102", "DF-103", "DF-105", "DF-202", "DF-305"}, message
    assert parameter in message, message
    assert expected.lower() in message.lower(), message
    assert parameter in (err.context.get("parameter"), err.context.get("field")), err.context
    assert "tasks" not in loop.run(_tables(db)), "SQL ran before validation"


@settings(FAST, max_examples=60)
@given(key=st.one_of(hostile_text(10), st.sampled_from(["filterz", "Filter", "limits", "order", "select"])))
def test_unknown_parameter_names(key: str) -> None:
    """Any unknown parameter name: DF-105 naming it, at build time (no database needed)."""
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    _model(db)
    accepted = {"filter", "filters", "order_by", "limit", "offset"}
    if key in accepted:
        return
    builder = WorkflowBuilder()
    builder.add_node(db.nodes["TaskListNode"], "n", {key: 1})
    with pytest.raises(DataFlowError) as info:
        builder.build()
    assert info.value.code == "DF-105", str(info.value)
    assert info.value.context["parameter"] == key


def test_connected_wrong_type_is_rejected_before_sql(fresh: Any) -> None:
    """A wrong type that only arrives through a connection fails at run time, before the node's SQL."""
    loop, db = fresh
    builder = WorkflowBuilder()
    builder.add_node("SourceCreateNode", "src", {"label": "hello"})
    builder.add_node("TaskCreateNode", "dst", {"title": "t"})
    builder.add_connection("src", "label", "dst", "qty")  # a str into an int field
    workflow = builder.build()
    with pytest.raises(DataFlowError) as info:
        loop.run(AsyncLocalRuntime().execute_workflow_async(workflow))
    err = info.value
    assert err.code == "DF-103", str(err)
    assert err.context["field"] == "qty" and "int" in str(err)
    assert err.context["node"] == "dst"
    tables = loop.run(_tables(db))
    assert "sources" in tables and "tasks" not in tables
