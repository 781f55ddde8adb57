"""Hostile filters and values: valid input runs with bound parameters, anything else is a DF- error.

Properties:

* For any filter (arbitrary field names, operators, nesting, values of any type, including quotes,
  NUL bytes, lone surrogates, huge strings, ``; DROP`` payloads and SQL keywords), compiling a
  SELECT/COUNT/UPDATE/DELETE either raises a validation DataFlowError (DF-1xx/DF-2xx) or yields SQL
  made only of keywords, quoted identifiers and placeholders, with one placeholder per bound value:
  no value ever becomes SQL text (checked on both dialects, no database needed).
* Running those filters against a real database (both backends) returns rows or raises a
  validation DataFlowError: never a driver error (DF-512), never a non-DataFlow exception, and the
  table is unchanged afterwards.
* Hostile strings stored in any str field (SQL keywords as field names included) read back
  unchanged and are found again by ``$eq``/``$in``/``$contains``/``$startswith``/``$endswith``;
  strings no backend can store (NUL, lone surrogates) are rejected with DF-103 before any SQL runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _hostile import (
    FAST,
    HOSTILE_FIELDS,
    SQL_KEYWORDS,
    STR_FIELDS,
    VALIDATION_CODES,
    Loop,
    any_value,
    assert_dataflow_error,
    assert_sql_has_no_values,
    define_hostile,
    hostile_text,
    run_node,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow import DataFlow, DataFlowError
from dataflow._dialects import dialect_for
from dataflow._filters import FIELD_OPERATORS
from dataflow._query import Statements

FIELD_KEYS = st.one_of(
    st.sampled_from(HOSTILE_FIELDS),
    st.sampled_from(HOSTILE_FIELDS),
    st.sampled_from(SQL_KEYWORDS),
    hostile_text(12),
    st.sampled_from(['name"; DROP TABLE hostiles; --', "name'", "NAME", "na me", "id)", "$", "$where"]),
)
OPERATORS = st.one_of(
    st.sampled_from(FIELD_OPERATORS),
    st.sampled_from(FIELD_OPERATORS),
    st.sampled_from(["$regex", "$where", "$", "$EQ", "$eq ", "$in; DROP TABLE hostiles", "$exists"]),
    hostile_text(8).map(lambda s: "$" + s),
)


def _clause(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        any_value(),
        st.dictionaries(OPERATORS, st.one_of(any_value(), children), min_size=1, max_size=3),
    )


FILTERS: st.SearchStrategy[Any] = st.recursive(
    st.dictionaries(FIELD_KEYS, _clause(st.nothing()), max_size=3),
    lambda inner: st.one_of(
        st.dictionaries(FIELD_KEYS, _clause(inner), max_size=3),
        st.builds(lambda op, items: {op: items}, st.sampled_from(["$and", "$or"]), st.lists(inner, max_size=3)),
        st.builds(lambda f: {"$not": f}, inner),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$and", "$or", "$not", "$nor"]), any_value()),
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def statements() -> dict[str, Statements]:
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    name = define_hostile(db).__name__
    model = db.models[name]
    return {name: Statements(model, dialect_for(name)) for name in ("sqlite", "postgresql")}


def _builders(st_: Statements, flt: Any) -> dict[str, Callable[[], Any]]:
    """The four statements a filter can go into, each compiled when called (compiling may raise)."""
    return {
        "select": lambda: st_.select(flt, order=["-name", "table"], limit=5, offset=1, node="HostileListNode"),
        "count": lambda: st_.count(flt, node="HostileCountNode"),
        "update": lambda: st_.update(flt, {"name": "v"}, node="HostileBulkUpdateNode", returning=True),
        "delete": lambda: st_.delete(flt, node="HostileBulkDeleteNode", returning=False),
    }


@settings(FAST, max_examples=400)
@given(flt=FILTERS)
def test_compiled_sql_never_contains_values(statements: dict[str, Statements], flt: Any) -> None:
    """Any filter compiles to value-free SQL with bound parameters, or raises a validation DF- error."""
    for dialect, st_ in statements.items():
        for what, build in _builders(st_, flt).items():
            try:
                sql, params = build()
            except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
                assert_dataflow_error(exc)
                continue
            assert_sql_has_no_values(sql, params, numbered=dialect == "postgresql")
            for value in params:
                if isinstance(value, str) and len(value) >= 3 and value not in ("v",):
                    assert value not in sql, (dialect, what, value, sql)


SEED = [
    {"name": "alpha", "note": "it's", "n": 1, "x": 1.5, "flag": True, "select": "s", "order": 3, "table": "t"},
    {"name": "'; DROP TABLE hostiles; --", "note": None, "n": -7, "flag": False, "group": "%_\\", "user": "\U0001f600"},
    {"name": "", "n": None, "x": -0.0, "order": None, "user": "root", "data": {"k": ["v", 1]}},
]


@settings(FAST, max_examples=50)
@given(data=st.data())
def _never_hits_the_driver(loop: Loop, data: st.DataObject) -> None:
    flt = data.draw(FILTERS, label="filter")
    node = data.draw(st.sampled_from(["HostileListNode", "HostileCountNode"]), label="node")
    try:
        out = loop.run(run_node(node, {"filter": flt}))
    except Exception as exc:  # noqa: BLE001
        assert_dataflow_error(exc)
    else:
        got = out["count"]
        assert 0 <= got <= len(SEED)
    assert loop.run(run_node("HostileCountNode", {}))["count"] == len(SEED)


def test_hostile_filters_never_reach_the_driver(database_url: str) -> None:
    """Random hostile filters against a real table: rows or a validation DF- error, table intact."""
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    try:
        define_hostile(db)
        loop.run(run_node("HostileBulkCreateNode", {"records": SEED}))
        _never_hits_the_driver(loop)
    finally:
        loop.run(db.close())
        loop.close()


@settings(FAST, max_examples=40)
@given(data=st.data())
def _round_trips(loop: Loop, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(STR_FIELDS), label="field")
    text = data.draw(hostile_text(), label="text")
    encodable = "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    before = loop.run(run_node("HostileCountNode", {}))["count"]
    try:
        record = loop.run(run_node("HostileCreateNode", {"name": "rt", field: text}))
    except Exception as exc:  # noqa: BLE001
        assert not encodable, f"{field}={text!r:.80} was rejected: {exc}"
        assert_dataflow_error(exc, {"DF-103"})
        assert exc.context.get("field") == field  # type: ignore[attr-defined]
        assert loop.run(run_node("HostileCountNode", {}))["count"] == before, "a rejected create wrote a row"
        return
    assert encodable, f"{text!r:.80} should have been rejected with DF-103"
    rid = record["id"]
    assert record[field] == text
    assert loop.run(run_node("HostileReadNode", {"id": rid}))[field] == text
    for flt in (
        {field: text},
        {field: {"$in": [text, None]}},
        {field: {"$contains": text}},
        {field: {"$startswith": text}},
        {field: {"$endswith": text}},
        {field: {"$gte": text, "$lte": text}},
        {"$not": {field: {"$ne": text}}},
    ):
        ids = [r["id"] for r in loop.run(run_node("HostileListNode", {"filter": flt}))["records"]]
        assert rid in ids, (flt, ids)
    if len(text) > 2:
        middle = text[1:-1]
        found = loop.run(run_node("HostileListNode", {"filter": {field: {"$contains": middle}}}))
        ids = [r["id"] for r in found["records"]]
        assert rid in ids
    loop.run(run_node("HostileDeleteNode", {"id": rid}))


def test_hostile_strings_round_trip(database_url: str) -> None:
    """Hostile text in any str field (incl. SQL-keyword field names) is stored and found unchanged."""
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    try:
        define_hostile(db)
        _round_trips(loop)
    finally:
        loop.run(db.close())
        loop.close()


@pytest.mark.parametrize(
    "params",
    [
        {"name": "\x00"},
        {"name": "a\x00b"},
        {"note": "\ud800"},
        {"select": "x\udfffy"},
        {"data": {"k": "\x00"}},
        {"data": {"k": "\ud83d"}},
        {"data": {"\ud83d": 1}},
    ],
    ids=[
        "nul", "inner-nul", "surrogate", "keyword-field-surrogate", "json-nul", "json-surrogate", "json-key-surrogate"
    ],
)
def test_unstorable_text_is_df103_before_sql(database_url: str, params: dict[str, Any]) -> None:
    """NUL bytes and lone surrogates: DF-103 naming the field, on both backends, table never created."""
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    try:
        define_hostile(db)
        attempts = [("HostileCreateNode", params), ("HostileBulkCreateNode", {"records": [params]})]
        if "data" not in params:  # JSON fields take $null only in filters (DF-202)
            attempts.append(("HostileListNode", {"filter": params}))
        for node, node_params in attempts:
            with pytest.raises(DataFlowError) as info:
                loop.run(run_node(node, node_params))
            assert info.value.code == "DF-103", str(info.value)
            assert info.value.context["field"] == next(iter(params))
        # Nothing ran: the table was never created.
        assert "hostiles" not in loop.run(_tables(db))
    finally:
        loop.run(db.close())
        loop.close()


async def _tables(db: DataFlow) -> set[str]:
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    async with db.connection() as connection:
        rows = await connection.fetch(sql)
    return {r[0] for r in rows}


assert VALIDATION_CODES  # re-exported for readers of this module


@pytest.mark.parametrize("size", [16_000, 60_000])
def test_huge_literal_and_like_patterns(database_url: str, size: int) -> None:
    """Huge $contains/$startswith/$endswith texts work on both backends (SQLite used to fail with
    "LIKE or GLOB pattern too complex", DF-512); huge $like patterns are DF-202 on both."""
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    try:
        define_hostile(db)
        text = "\U0001f600[*" * (size // 3)
        record = loop.run(run_node("HostileCreateNode", {"name": "x" + text + "y"}))
        for flt, found in (
            ({"name": {"$contains": text}}, True),
            ({"name": {"$startswith": "x" + text}}, True),
            ({"name": {"$endswith": text + "y"}}, True),
            ({"name": {"$startswith": text}}, False),
            ({"name": {"$endswith": text}}, False),
            ({"name": {"$contains": text + "z"}}, False),
            ({"name": {"$contains": ""}}, True),
            ({"note": {"$contains": ""}}, False),  # NULL never contains anything
        ):
            ids = [r["id"] for r in loop.run(run_node("HostileListNode", {"filter": flt}))["records"]]
            assert (record["id"] in ids) is found, flt.keys()
        for op in ("$like", "$ilike"):
            with pytest.raises(DataFlowError) as info:
                loop.run(run_node("HostileListNode", {"filter": {"name": {op: "[" * 16_001}}}))
            assert info.value.code == "DF-202", str(info.value)
        found = loop.run(run_node("HostileListNode", {"filter": {"name": {"$like": "x" + "[" * 15_000 + "%"}}}))
        ids = [r["id"] for r in found["records"]]
        assert ids == []
    finally:
        loop.run(db.close())
        loop.close()
