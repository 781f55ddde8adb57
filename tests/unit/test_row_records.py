"""Result rows to record dicts: the generated functions of ``_row_records``."""

from __future__ import annotations

from dataflow._row_records import record_maker


def _as_bool(value: object) -> bool:
    return bool(value)


def test_rows_become_records_with_the_conversions_applied() -> None:
    maker = record_maker(["id", "name", "active"], {"active": _as_bool})
    assert maker.one((1, "Ada", 1)) == {"id": 1, "name": "Ada", "active": True}
    assert maker.one((2, "Bob", None)) == {"id": 2, "name": "Bob", "active": None}  # NULL is not converted
    assert list(maker.one((3, "Cy", 0, "extra"))) == ["id", "name", "active"]  # extra columns are left out
    rows = [(1, "Ada", 1), (2, "Bob", 0)]
    assert maker.many(rows) == [maker.one(row) for row in rows]
    assert maker.many([]) == []


def test_a_short_row_keeps_the_columns_it_has() -> None:
    maker = record_maker(["id", "name", "active"], {"active": _as_bool})
    assert maker.one((1, "Ada")) == {"id": 1, "name": "Ada"}
    assert maker.many([(1,), (2,)]) == [{"id": 1}, {"id": 2}]


def test_names_that_are_not_identifiers_are_literal_keys() -> None:
    maker = record_maker(["id", "it's", 'a"b'], {})
    assert maker.one((1, 2, 3)) == {"id": 1, "it's": 2, 'a"b': 3}


def test_the_same_columns_and_converters_share_one_maker() -> None:
    first = record_maker(["id", "name", "active"], {"active": _as_bool})
    assert record_maker(("id", "name", "active"), {"active": _as_bool}) is first
    assert record_maker(["id", "name", "active"], {}) is not first
