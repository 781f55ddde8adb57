"""FilterPlans: a filter of a shape seen before reuses its SQL, with exactly the compiler's result and errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dataflow import DataFlow, InvalidFilterError, TypeMismatchError, UnknownFieldError
from dataflow._dialects import dialect_for
from dataflow._filters import FilterPlans, compile_filter


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> Any:
    return dialect_for(request.param)


@pytest.fixture
def model() -> Any:
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Item:
        id: int
        name: str
        qty: int
        ratio: float = 0.0
        price: Decimal | None = None
        active: bool = True
        data: dict | None = None

    return db.models["Item"]


def both(flt: Any, model: Any, dialect: Any, plans: FilterPlans, start: int = 0) -> None:
    """The plans give what compile_filter gives, for a fresh and for a remembered shape."""
    expected = dialect.params()
    for _ in range(start):
        expected.add("x")
    sql = compile_filter(flt, model, dialect, expected)
    for _ in range(2):  # the first call remembers the shape, the second reuses it
        params = dialect.params()
        for _ in range(start):
            params.add("x")
        assert plans.compile(flt, params, None) == sql
        assert params.values == expected.values
        assert [type(v) for v in params.values] == [type(v) for v in expected.values]


FILTERS: list[dict[str, Any]] = [
    {"name": "a"},
    {"qty": 3, "active": True},
    {"qty": {"$lt": 30}, "active": True},
    {"qty": {"$gte": 1, "$lte": 9}, "name": {"$ne": "z"}},
    {"ratio": {"$gt": 1}},  # an int for a float field: converted by the check
    {"price": {"$lt": 3}},  # Decimal: converted for the driver, CAST on SQLite
    {"price": {"$lt": 2.5}},
    {"price": None},  # not remembered: compiled each time
    {"qty": {"$in": [1, 2]}},
    {"$or": [{"qty": 1}, {"name": "a"}]},
]


@pytest.mark.parametrize("flt", FILTERS, ids=[repr(f) for f in FILTERS])
def test_remembered_shapes_give_the_compilers_sql_and_values(flt: dict[str, Any], model: Any, dialect: Any) -> None:
    plans = FilterPlans(model, dialect)
    both(flt, model, dialect, plans)
    both(flt, model, dialect, plans, start=2)  # placeholders numbered after earlier parameters


def test_new_values_of_a_known_shape_are_bound_not_reused(model: Any, dialect: Any) -> None:
    plans = FilterPlans(model, dialect)
    first, second = dialect.params(), dialect.params()
    sql = plans.compile({"qty": {"$lt": 30}, "name": "a"}, first, None)
    assert plans.compile({"qty": {"$lt": 7}, "name": "b"}, second, None) == sql
    assert (first.values, second.values) == ([30, "a"], [7, "b"])


def test_a_bool_and_an_int_are_different_shapes(model: Any, dialect: Any) -> None:
    plans = FilterPlans(model, dialect)
    plans.compile({"active": True}, dialect.params(), None)
    with pytest.raises(TypeMismatchError):
        plans.compile({"active": 1}, dialect.params(), None)  # the compiler rejects an int for a bool
    with pytest.raises(TypeMismatchError):
        plans.compile({"qty": True}, dialect.params(), None)
    plans.compile({"qty": 1}, dialect.params(), None)
    with pytest.raises(TypeMismatchError):
        plans.compile({"qty": True}, dialect.params(), None)


def test_errors_are_the_compilers_and_nothing_invalid_is_remembered(model: Any, dialect: Any) -> None:
    plans = FilterPlans(model, dialect)
    for _ in range(2):
        with pytest.raises(UnknownFieldError):
            plans.compile({"nope": 1}, dialect.params(), "ItemCountNode")
        with pytest.raises(InvalidFilterError):
            plans.compile({"data": {"$eq": "x"}}, dialect.params(), None)  # JSON fields: $null only
    plans.compile({"name": "ok"}, dialect.params(), None)
    with pytest.raises(TypeMismatchError) as hit:
        plans.compile({"name": "bad\x00"}, dialect.params(), None)  # a known shape: the value is still checked
    with pytest.raises(TypeMismatchError) as compiled:
        compile_filter({"name": "bad\x00"}, model, dialect, dialect.params())
    assert str(hit.value) == str(compiled.value)
