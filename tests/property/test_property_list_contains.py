"""``$contains`` on list fields: random stored lists and random queries, checked against Python's
answer ("holds every element") on SQLite and PostgreSQL in the same test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _hostile import FAST, Loop
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow import DataFlow

ELEMENTS = st.one_of(
    st.sampled_from(["a", "b", "A", "", "1", "true", "null", "é", "%", "_", "[1]", "x'y"]),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, -2.0, 2.0**53]),
    st.booleans(),
    st.none(),
)


def _holds(stored: list[Any], wanted: list[Any]) -> bool:
    def same(a: Any, b: Any) -> bool:
        # JSON semantics: numbers compare by value across int/float; true/false/null/text only themselves.
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
            return type(a) is type(b) and a == b
        if isinstance(a, str) or isinstance(b, str):
            return type(a) is type(b) and a == b
        return bool(a == b)

    return all(any(same(s, w) for s in stored) for w in wanted)


def test_list_contains_matches_python_on_both_backends(postgres_server: Any, tmp_path: Path) -> None:
    pg_url = postgres_server.create_database()
    loop = Loop()
    dbs = [DataFlow(f"sqlite:///{tmp_path / 'lists.db'}", test_mode=True), DataFlow(pg_url, test_mode=True)]
    rng_rows = st.lists(st.lists(ELEMENTS, max_size=5), min_size=1, max_size=12)
    try:
        for db in dbs:

            @db.model
            class Bag:
                id: int
                items: list | None = None

        @settings(FAST, max_examples=80)
        @given(rows=rng_rows, wanted=st.lists(ELEMENTS, max_size=3))
        def agree(rows: list[list[Any]], wanted: list[Any]) -> None:
            expected = [i + 1 for i, row in enumerate(rows) if _holds(row, wanted)]
            for db in dbs:
                loop.run(db.nodes["BagBulkDeleteNode"]().run({"filter": {}}))
                records = [{"id": i + 1, "items": row} for i, row in enumerate(rows)]
                loop.run(db.nodes["BagBulkCreateNode"]().run({"records": records}))
                found = loop.run(db.nodes["BagListNode"]().run({"filter": {"items": {"$contains": wanted}}}))
                assert [r["id"] for r in found["records"]] == expected, (db.dialect, rows, wanted)

        agree()
    finally:
        for db in dbs:
            loop.run(db.close())
        loop.close()
        postgres_server.drop_database(pg_url)
