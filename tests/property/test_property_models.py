"""Model definitions: SQL keywords work as names, anything unsupported is a clear DF-104.

* Fields (and tables) named after SQL keywords work through every node on both backends,
  including unique constraints, indexes, ``order_by`` and upserts on them (identifiers are quoted).
* For random field-name sets, ``@db.model`` either raises DF-104 or the model works on both
  backends (names that would collide on one backend only, such as ``name``/``Name`` on SQLite or
  two names sharing their first 63 characters on PostgreSQL, are rejected up front).
* Unsupported annotations, a missing or wrongly typed ``id``: DF-104 naming the model and field.
"""

from __future__ import annotations

import typing
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from _hostile import FAST, SQL_KEYWORDS, Loop, run_node
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow import DataFlow, DataFlowError, Field


def test_sql_keywords_as_field_and_table_names(database_url: str) -> None:
    """select/order/group/user/table/... as field names and 'user'/'order' as tables: every node works."""
    loop = Loop()
    db = DataFlow(database_url, test_mode=True)
    try:

        annotations = {
            "id": int, "select": str, "order": int, "group": str, "user": str | None, "table": str, "from": str,
            "where": int | None, "limit": float | None, "offset": bool, "default": Decimal | None,
            "primary": date | None, "key": dict | None,
        }
        namespace = {"__annotations__": annotations, "order": Field(default=0, index=True), "group": "",
                     "user": Field(default=None, unique=True), "table": "", "from": "", "where": None,
                     "limit": None, "offset": False, "default": None, "primary": None, "key": None}
        # "from" cannot be written in a class body, so the class is built with type().
        db.model(table="user", unique=[("group", "from")], indexes=[("where", "limit")])(
            type("Keyword", (), namespace)
        )

        @db.model(table="order")
        class Order:
            id: str
            having: str = ""
            union: int = 0
            returning: str | None = None

        a = loop.run(run_node("KeywordCreateNode", {"select": "a", "order": 2, "user": "u1", "group": "g",
                                                     "table": "t", "where": 1, "limit": 0.5, "offset": True,
                                                     "default": Decimal("1.5"), "primary": date(2024, 1, 1),
                                                     "key": {"k": 1}, "from": "f"}))
        b = loop.run(run_node("KeywordCreateNode", {"select": "b", "order": 1, "user": "u2", "group": "g"}))
        assert a["select"] == "a" and a["key"] == {"k": 1} and a["default"] == Decimal("1.5")
        listed = loop.run(run_node("KeywordListNode", {"filter": {"group": "g", "order": {"$gte": 1}},
                                                       "order_by": ["order", "-select"]}))
        assert [r["id"] for r in listed["records"]] == [b["id"], a["id"]]
        counted = loop.run(run_node("KeywordCountNode", {"filter": {"$or": [{"select": "a"}, {"user": "u2"}]}}))
        assert counted["count"] == 2
        updated = loop.run(run_node("KeywordUpdateNode", {"filter": {"user": "u1"}, "fields": {"table": "x"}}))
        assert updated["table"] == "x"
        upserted = loop.run(run_node("KeywordUpsertNode", {"where": {"user": "u2"}, "create": {"select": "new"},
                                                           "update": {"select": "bb"}}))
        assert upserted["action"] == "updated" and upserted["record"]["select"] == "bb"
        with pytest.raises(DataFlowError) as info:
            loop.run(run_node("KeywordCreateNode", {"select": "c", "user": "u1"}))
        assert info.value.code == "DF-302"
        bulk_upserted = loop.run(run_node("KeywordBulkUpsertNode", {"records": [{"id": a["id"], "select": "A"}]}))
        assert bulk_upserted["upserted"] == 1
        assert loop.run(run_node("KeywordBulkUpdateNode", {"filter": {"select": {"$in": ["A", "bb"]}},
                                                           "fields": {"offset": False}}))["updated"] == 2
        assert loop.run(run_node("KeywordDeleteNode", {"id": b["id"]}))["select"] == "bb"
        assert loop.run(run_node("KeywordBulkDeleteNode", {"filter": {}}))["deleted"] == 1

        created = loop.run(run_node("OrderCreateNode", {"id": "select", "having": "x", "returning": "y"}))
        assert created == {"id": "select", "having": "x", "union": 0, "returning": "y"}
        assert loop.run(run_node("OrderReadNode", {"id": "select"}))["returning"] == "y"
        assert loop.run(run_node("OrderBulkCreateNode", {"records": [{"id": "from"}, {"id": "where"}]}))["created"] == 2
        assert loop.run(run_node("OrderCountNode", {"filter": {"id": {"$nin": ["from"]}}}))["count"] == 2
        loop.run(db.drop_tables())
    finally:
        loop.run(db.close())
        loop.close()


NAMES = st.one_of(
    st.sampled_from(SQL_KEYWORDS),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.from_regex(r"[a-z]{60}[A-Za-z0-9_]{0,6}", fullmatch=True),
    st.sampled_from(["Name", "name", "NAME", "_private", "9lives", "with space", "dash-ed", "ünïcode", "x" * 64]),
)


def test_random_field_names(database_url: str) -> None:
    """Random field-name sets: DF-104 at definition, or CRUD works on this backend."""
    loop = Loop()
    try:

        @settings(FAST, max_examples=25)
        @given(names=st.lists(NAMES, min_size=1, max_size=5, unique=True))
        def check(names: list[str]) -> None:
            names = [n for n in names if n != "id"]
            cls = type("Thing", (), {"__annotations__": {"id": int, **{n: str | None for n in names}}})
            db = DataFlow(database_url, test_mode=True)
            try:
                try:
                    db.model(cls)
                except DataFlowError as exc:
                    assert exc.code == "DF-104", str(exc)
                    folded = [n.lower() for n in names]
                    assert (
                        len(set(folded)) < len(folded)
                        or any(
                            len(n) > 63 or not n.isascii() or not (n[0].isalpha()) or not n.replace("_", "").isalnum()
                            for n in names
                        )
                    ), f"valid names rejected: {names}: {exc}"
                    return
                values = {n: f"v-{i}" for i, n in enumerate(names)}
                record = loop.run(db.nodes["ThingCreateNode"]().run(values))
                assert {k: record[k] for k in values} == values
                found = loop.run(db.nodes["ThingListNode"]().run({"filter": values, "order_by": names}))
                assert [r["id"] for r in found["records"]] == [record["id"]]
                loop.run(db.drop_tables())
            finally:
                loop.run(db.close())

        check()
    finally:
        loop.close()


class Custom:
    pass


@pytest.mark.parametrize(
    ("annotations", "field"),
    [
        ({"id": int, "tags": set}, "tags"),
        ({"id": int, "blob": bytes}, "blob"),
        ({"id": int, "pair": tuple}, "pair"),
        ({"id": int, "c": complex}, "c"),
        ({"id": int, "obj": Custom}, "obj"),
        ({"id": int, "anything": typing.Any}, "anything"),
        ({"id": int, "either": int | str}, "either"),
        ({"id": int, "maybe_set": set | None}, "maybe_set"),
        ({"id": int, "nested": typing.Optional[typing.Optional[bytes]]}, "nested"),  # noqa: UP045
        ({"name": str}, None),
        ({"ident": int}, None),
        ({"id": float}, "id"),
        ({"id": int | None}, "id"),
        ({"id": bool}, "id"),
        ({"id": dict}, "id"),
        ({"id": int, "_hidden": str}, "_hidden"),
        ({"id": int, "a" * 64: str}, "a" * 64),
        ({"id": int, "title": str, "Title": str}, "Title"),
    ],
)
def test_unsupported_models_are_df104(annotations: dict[str, Any], field: str | None) -> None:
    """Unsupported types, a missing/ill-typed id, bad or colliding names: DF-104 naming model and field."""
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    cls = type("Broken", (), {"__annotations__": annotations})
    with pytest.raises(DataFlowError) as info:
        db.model(cls)
    err = info.value
    assert err.code == "DF-104", str(err)
    assert err.context["model"] == "Broken"
    assert "Broken" in str(err)
    if field is None:
        assert "'id'" in str(err)
    else:
        assert err.context.get("field") == field, err.context
        assert repr(field) in str(err) or f"'{field}'" in str(err)
    assert db.models == {} and db.nodes == {}


@pytest.mark.parametrize(
    "kwargs",
    [{"table": "bad name"}, {"table": "x" * 64}, {"unique": [("nope",)]}, {"indexes": [("id", 5)]}],
    ids=["table-space", "table-too-long", "unique-unknown", "index-not-str"],
)
def test_bad_model_options_are_df104(kwargs: dict[str, Any]) -> None:
    """Bad table names and unique/index entries: DF-104 before anything is registered."""
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    cls = type("Opt", (), {"__annotations__": {"id": int, "a": str}})
    with pytest.raises(DataFlowError) as info:
        db.model(**kwargs)(cls)
    assert info.value.code == "DF-104", str(info.value)
    assert db.models == {}


def test_not_a_class_is_df104() -> None:
    db = DataFlow("sqlite:///:memory:", test_mode=True)
    with pytest.raises(DataFlowError) as info:
        db.model(lambda: None)  # type: ignore[arg-type]
    assert info.value.code == "DF-104"
