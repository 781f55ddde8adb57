"""Filter compilation: every operator, bound parameters only, errors raised before any SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from dataflow import (
    DataFlow,
    InvalidFilterError,
    TypeMismatchError,
    UnknownFieldError,
    UnknownOperatorError,
    WorkflowBuilder,
)
from dataflow._dialects import dialect_for
from dataflow._filters import FIELD_OPERATORS, compile_filter

HOSTILE = "'; DROP TABLE items; --"


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def model() -> Any:
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Item:
        id: int
        name: str
        qty: int
        price: Decimal | None = None
        active: bool = True
        seen: datetime | None = None
        day: date | None = None
        data: dict | None = None

    return db.models["Item"]


def compile_(flt: Any, model: Any, dialect_name: str) -> tuple[str, list[Any]]:
    dialect = dialect_for(dialect_name)
    params = dialect.params()
    sql = compile_filter(flt, model, dialect, params)
    return sql, params.values


CASES: list[tuple[str, dict[str, Any], int]] = [
    ("equality", {"name": "a"}, 1),
    ("is null", {"price": None}, 0),
    ("$eq", {"qty": {"$eq": 3}}, 1),
    ("$ne", {"qty": {"$ne": 3}}, 1),
    ("$ne None", {"price": {"$ne": None}}, 0),
    ("$lt", {"qty": {"$lt": 3}}, 1),
    ("$lte", {"qty": {"$lte": 3}}, 1),
    ("$gt", {"qty": {"$gt": 3}}, 1),
    ("$gte", {"qty": {"$gte": 3}}, 1),
    ("$in", {"qty": {"$in": [1, 2, 3]}}, 3),
    ("$in with None", {"qty": {"$in": [1, None]}}, 1),
    ("$in empty", {"qty": {"$in": []}}, 0),
    ("$nin", {"name": {"$nin": ["a", "b"]}}, 2),
    ("$like", {"name": {"$like": "a%"}}, 1),
    ("$ilike", {"name": {"$ilike": "A%"}}, 1),
    ("$contains", {"name": {"$contains": "x"}}, 1),
    ("$startswith", {"name": {"$startswith": "x"}}, 1),
    ("$endswith", {"name": {"$endswith": "x"}}, 1),
    ("$null true", {"price": {"$null": True}}, 0),
    ("$null false", {"data": {"$null": False}}, 0),
    ("field $not", {"qty": {"$not": {"$gt": 5}}}, 1),
    ("$and", {"$and": [{"qty": 1}, {"name": "a"}]}, 2),
    ("$or", {"$or": [{"qty": 1}, {"name": "a"}]}, 2),
    ("top $not", {"$not": {"qty": 1}}, 1),
    ("nested", {"$or": [{"$and": [{"qty": {"$gte": 1}}, {"qty": {"$lte": 9}}]}, {"$not": {"name": "z"}}]}, 3),
    ("decimal", {"price": {"$gt": Decimal("1.5")}}, 1),
    ("bool", {"active": False}, 1),
    ("datetime", {"seen": {"$lt": datetime(2024, 1, 1, tzinfo=UTC)}}, 1),
    ("date", {"day": {"$gte": date(2024, 1, 1)}}, 1),
    ("multiple operators", {"qty": {"$gt": 1, "$lt": 9}}, 2),
    ("several fields", {"qty": 1, "name": "a", "active": True}, 3),
]


@pytest.mark.parametrize(("label", "flt", "n_params"), CASES, ids=[c[0] for c in CASES])
def test_operators_compile_to_bound_parameters(
    model: Any, dialect_name: str, label: str, flt: dict[str, Any], n_params: int
) -> None:
    sql, values = compile_(flt, model, dialect_name)
    assert len(values) == n_params, (sql, values)
    placeholder = "$" if dialect_name == "postgresql" else "?"
    assert sql.count(placeholder) >= n_params
    for value in values:
        if isinstance(value, str) and len(value) > 2:
            assert value.strip("%") not in sql or value.strip("%") in ('"name"',), (sql, value)


def test_every_field_operator_has_a_case(model: Any, dialect_name: str) -> None:
    covered = {op for _, flt, _ in CASES for op in _operators(flt)}
    assert set(FIELD_OPERATORS) <= covered | {"$eq"}


def _operators(flt: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(flt, dict):
        for key, value in flt.items():
            if isinstance(key, str) and key.startswith("$"):
                found.add(key)
            found |= _operators(value)
    elif isinstance(flt, list):
        for item in flt:
            found |= _operators(item)
    return found


def test_empty_filter_matches_all(model: Any, dialect_name: str) -> None:
    assert compile_(None, model, dialect_name) == ("TRUE", [])
    assert compile_({}, model, dialect_name) == ("TRUE", [])


def test_hostile_values_never_become_sql(model: Any, dialect_name: str) -> None:
    for flt in (
        {"name": HOSTILE},
        {"name": {"$in": [HOSTILE, "x"]}},
        {"name": {"$like": HOSTILE}},
        {"name": {"$contains": HOSTILE}},
        {"$or": [{"name": {"$ne": HOSTILE}}]},
    ):
        sql, values = compile_(flt, model, dialect_name)
        assert "DROP" not in sql and ";" not in sql, sql
        assert any(HOSTILE.replace("_", "\\_") in str(v) or HOSTILE in str(v) for v in values)


def test_unknown_field_lists_valid_fields(model: Any, dialect_name: str) -> None:
    for flt in ({"nmae": "x"}, {"$or": [{"qty": 1}, {"colour": "red"}]}, {"$not": {"bogus": 1}}):
        with pytest.raises(UnknownFieldError) as info:
            compile_(flt, model, dialect_name)
        assert info.value.code == "DF-102"
        assert "id, name, qty, price, active, seen, day, data" in str(info.value)


@pytest.mark.parametrize("flt", [{"qty": {"$regex": "x"}}, {"qty": {"$gtt": 1}}, {"$nor": [{"qty": 1}]}, {"$xor": []}])
def test_unknown_operator_lists_valid_ones(model: Any, dialect_name: str, flt: dict[str, Any]) -> None:
    with pytest.raises(UnknownOperatorError) as info:
        compile_(flt, model, dialect_name)
    assert info.value.code == "DF-201"
    text = str(info.value)
    for op in ("$eq", "$ne", "$in", "$nin", "$like", "$ilike", "$null"):
        assert op in text, text


@pytest.mark.parametrize(
    "flt",
    [
        ["name", "a"],
        "name = 'a'",
        {"$and": {"qty": 1}},
        {"$or": "qty"},
        {"$or": [1, 2]},
        {"qty": {"$in": 5}},
        {"qty": {"$nin": "abc"}},
        {"qty": {"$gt": None}},
        {"qty": {"$gt": 1, "plain": 2}},
        {"price": {"$null": "yes"}},
        {"qty": {"$not": 5}},
        {"$not": [1]},
        {"name": {"$like": 5}},
        {"name": {"$like": "abc\\"}},
        {"qty": {"$like": "1%"}},
        {"data": {"$eq": {"a": 1}}},
        {1: "a"},
    ],
)
def test_malformed_filters_raise_df202(model: Any, dialect_name: str, flt: Any) -> None:
    with pytest.raises(InvalidFilterError) as info:
        compile_(flt, model, dialect_name)
    assert info.value.code == "DF-202"


def test_deep_nesting_is_malformed(model: Any, dialect_name: str) -> None:
    flt: dict[str, Any] = {"qty": 1}
    for _ in range(40):
        flt = {"$and": [flt]}
    with pytest.raises(InvalidFilterError):
        compile_(flt, model, dialect_name)


@pytest.mark.parametrize(
    "flt",
    [
        {"qty": "3"},
        {"qty": 1.5},
        {"qty": True},
        {"qty": {"$in": [1, "2"]}},
        {"name": 5},
        {"name": {"$ne": b"bytes"}},
        {"name": "nul\x00byte"},
        {"active": 1},
        {"seen": "not a date"},
        {"day": datetime(2024, 1, 1)},
        {"price": "abc"},
        {"price": float("nan")},
        {"qty": 2**64},
    ],
)
def test_wrong_value_type_raises_df103(model: Any, dialect_name: str, flt: dict[str, Any]) -> None:
    with pytest.raises(TypeMismatchError) as info:
        compile_(flt, model, dialect_name)
    assert info.value.code == "DF-103"
    assert info.value.context["field"] in flt or info.value.context["field"] in str(flt)


UNREACHABLE = "postgresql://u:pw@127.0.0.1:1/nowhere"


@pytest.mark.parametrize(
    ("flt", "error"),
    [
        ({"nope": 1}, UnknownFieldError),
        ({"qty": {"$bogus": 1}}, UnknownOperatorError),
        ({"$or": {"qty": 1}}, InvalidFilterError),
        ({"qty": "x"}, TypeMismatchError),
    ],
)
async def test_filter_errors_are_raised_before_any_sql(flt: dict[str, Any], error: type[Exception]) -> None:
    """Against an unreachable server, a bad filter still fails with its own error, at build and at run."""
    db = DataFlow(UNREACHABLE, connect_timeout=2)

    @db.model
    class Thing:
        id: int
        qty: int

    try:
        for node in ("ThingListNode", "ThingCountNode", "ThingBulkDeleteNode", "ThingBulkUpdateNode"):
            params: dict[str, Any] = {"filter": flt}
            if node == "ThingBulkUpdateNode":
                params["fields"] = {"qty": 1}
            with pytest.raises(error):
                WorkflowBuilder().add_node(node, "n", params).build()
            # At run time (params arriving through a connection are only checked there): still before SQL.
            with pytest.raises(error):
                await db.nodes[node]().run(params)
        assert db.get_cleanup_metrics()["pools_created"] == 0
    finally:
        await db.close()
