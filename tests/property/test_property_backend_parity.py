"""SQLite and PostgreSQL agree: the same random valid filters return the same ids on both.

One shared dataset (edge values on purpose: NULLs, -0.0, huge and tiny floats, unicode and
``LIKE``/``GLOB`` metacharacters, years 1 and 9999, Decimals) is inserted into a PostgreSQL
database and a SQLite file in the same test. Hypothesis then draws valid filters (``$and``/``$or``/
``$not`` nesting, ``$in``/``$nin`` with ``None``, ``$ne`` with NULL rows, ``$like``/``$ilike`` on ASCII
patterns, ``$contains``/``$startswith``/``$endswith`` on any text, comparisons on every type) and
checks that ``List`` (with a random ``order_by``/``limit``/``offset``) and ``Count`` give identical
results on both backends.
"""

from __future__ import annotations

import random
import string
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from _hostile import FAST, Loop
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow import DataFlow, DataFlowError

NAME_POOL = ["alpha", "Alpha", "ALPHA", "beta", "a%b", "a_b", "a\\b", "a*b", "a?b", "[x]", "", " ", "é", "É",
             "ß", "\U0001f600", "zz", "a'b", "a\"b", "Ab", "aB", "ab", "abc", "x" * 300, "日本語", "ǅ"]
FLOATS = [0.0, -0.0, 1.5, -1.5, 1e300, -1e300, 5e-324, 0.1, 2.0**53, 3.0]
DECIMALS = [Decimal("0"), Decimal("0.10"), Decimal("-5.25"), Decimal("12345678.99"), Decimal("1"), Decimal("1.00")]
DATES = [date(1, 1, 1), date(999, 12, 31), date(2000, 2, 29), date(2024, 1, 1), date(9999, 12, 31)]
DATETIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 5, 5, 5, 5, 5, 5, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


def _dataset() -> list[dict[str, Any]]:
    rng = random.Random(20240601)  # own generator: independent of pytest-randomly's reseeding

    def maybe(values: list[Any]) -> Any:
        return None if rng.random() < 0.2 else rng.choice(values)

    rows = []
    for i in range(1, 61):
        rows.append({
            "id": i,
            "name": rng.choice(NAME_POOL),
            "note": maybe(NAME_POOL),
            "n": maybe([0, 1, -1, 2, 42, 2**62, -(2**63)]),
            "x": maybe(FLOATS),
            "flag": maybe([True, False]),
            "amount": maybe(DECIMALS),
            "day": maybe(DATES),
            "at": maybe(DATETIMES),
        })
    return rows


DATASET = _dataset()

ASCII_PATTERN = st.text(alphabet=string.ascii_letters[:6] + "ABab%_ \\*?[]'", max_size=6).filter(
    lambda p: not (p.endswith("\\") and (len(p) - len(p.rstrip("\\"))) % 2)
)
ANY_TEXT = st.one_of(st.sampled_from(NAME_POOL), st.text(max_size=4).filter(lambda s: "\x00" not in s))
BY_KIND: dict[str, st.SearchStrategy[Any]] = {
    "str": ANY_TEXT,
    "int": st.one_of(st.sampled_from([0, 1, -1, 2, 42, 2**62, -(2**63)]), st.integers(-(2**63), 2**63 - 1)),
    "float": st.one_of(st.sampled_from(FLOATS), st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5)),
    "bool": st.booleans(),
    "decimal": st.one_of(st.sampled_from(DECIMALS), st.decimals(min_value=-10**8, max_value=10**8, places=2)),
    "date": st.one_of(st.sampled_from(DATES), st.dates()),
    "datetime": st.one_of(st.sampled_from(DATETIMES), st.datetimes(timezones=st.just(UTC))),
}
FIELDS = {"id": "int", "name": "str", "note": "str", "n": "int", "x": "float", "flag": "bool", "amount": "decimal",
          "day": "date", "at": "datetime"}


@st.composite
def field_clause(draw: st.DrawFn, field: str, depth: int = 0) -> Any:
    kind = FIELDS[field]
    value = BY_KIND[kind]
    nullable = st.one_of(st.none(), value)
    ops = ["$eq", "$ne", "$in", "$nin", "$null", "plain"]
    if kind != "bool":
        ops += ["$lt", "$lte", "$gt", "$gte"]
    if kind == "str":
        ops += ["$like", "$ilike", "$contains", "$startswith", "$endswith"]
    if depth < 2:
        ops.append("$not")
    op = draw(st.sampled_from(ops))
    if op == "plain":
        return draw(nullable)
    if op in ("$eq", "$ne"):
        return {op: draw(nullable)}
    if op in ("$in", "$nin"):
        return {op: draw(st.lists(nullable, max_size=4))}
    if op == "$null":
        return {op: draw(st.booleans())}
    if op in ("$like", "$ilike"):
        return {op: draw(ASCII_PATTERN)}
    if op == "$not":
        inner = draw(field_clause(field, depth + 1))
        return {"$not": inner if isinstance(inner, dict) else {"$eq": inner}}
    return {op: draw(value)}


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    choice = draw(st.integers(0, 9 if depth < 3 else 5))
    if choice <= 5:
        names = draw(st.lists(st.sampled_from(list(FIELDS)), max_size=2, unique=True))
        return {name: draw(field_clause(name)) for name in names}
    if choice <= 7:
        op = "$and" if choice == 6 else "$or"
        return {op: draw(st.lists(filters(depth + 1), max_size=3))}
    if choice == 8:
        return {"$not": draw(filters(depth + 1))}
    return {**draw(filters(depth + 1)), "$or": draw(st.lists(filters(depth + 1), min_size=1, max_size=2))}


ORDERS = st.one_of(st.none(), st.sampled_from(list(FIELDS)), st.sampled_from(["-" + f for f in FIELDS]),
                   st.lists(st.sampled_from(list(FIELDS) + ["-" + f for f in FIELDS]), max_size=3, unique=True))


def _model(db: DataFlow) -> None:
    @db.model
    class Sample:
        id: int
        name: str
        note: str | None = None
        n: int | None = None
        x: float | None = None
        flag: bool | None = None
        amount: Decimal | None = None
        day: date | None = None
        at: datetime | None = None


async def _query(db: DataFlow, params: dict[str, Any], count_filter: dict[str, Any]) -> Any:
    """Run List and Count with ``db``'s nodes (the latest registration wins, so bind explicitly)."""
    listing = await db.nodes["SampleListNode"]().run(params)
    counting = await db.nodes["SampleCountNode"]().run({"filter": count_filter})
    return [r["id"] for r in listing["records"]], counting["count"], listing["records"]


def test_same_filters_same_ids_on_sqlite_and_postgresql(postgres_server: Any, tmp_path: Path) -> None:
    """Random valid filters, orders and pages give identical ids and records on both backends."""
    pg_url = postgres_server.create_database()
    loop = Loop()
    sqlite_db = DataFlow(f"sqlite:///{tmp_path / 'parity.db'}", test_mode=True)
    pg_db = DataFlow(pg_url, test_mode=True)
    try:
        for db in (sqlite_db, pg_db):
            _model(db)
            loop.run(db.nodes["SampleBulkCreateNode"]().run({"records": DATASET}))
        # Sanity: both hold the same records.
        assert loop.run(_query(sqlite_db, {}, {}))[2] == loop.run(_query(pg_db, {}, {}))[2]

        @settings(FAST, max_examples=150)
        @given(flt=filters(), order=ORDERS, limit=st.one_of(st.none(), st.integers(0, 70)),
               offset=st.one_of(st.none(), st.integers(0, 70)))
        def agree(flt: dict[str, Any], order: Any, limit: int | None, offset: int | None) -> None:
            params: dict[str, Any] = {"filter": flt, "order_by": order, "limit": limit, "offset": offset}
            outcomes = []
            for db in (sqlite_db, pg_db):
                try:
                    ids, count, _ = loop.run(_query(db, params, flt))
                    outcomes.append(("ok", ids, count))
                except DataFlowError as exc:
                    outcomes.append(("error", exc.code, None))
            assert outcomes[0] == outcomes[1], f"sqlite={outcomes[0]} postgresql={outcomes[1]}"
            assert outcomes[0][0] == "ok", f"a valid filter was rejected: {outcomes[0]}"

        agree()
    finally:
        for db in (sqlite_db, pg_db):
            loop.run(db.close())
        loop.close()
        postgres_server.drop_database(pg_url)


def test_dataset_round_trips_identically(postgres_server: Any, tmp_path: Path) -> None:
    """Every edge value of the dataset reads back equal to what was written, on both backends."""
    pg_url = postgres_server.create_database()
    loop = Loop()
    dbs = [DataFlow(f"sqlite:///{tmp_path / 'rt.db'}", test_mode=True), DataFlow(pg_url, test_mode=True)]
    try:
        for db in dbs:
            _model(db)
            loop.run(db.nodes["SampleBulkCreateNode"]().run({"records": DATASET}))
            records = loop.run(_query(db, {}, {}))[2]
            for written, read in zip(DATASET, records, strict=True):
                assert read == written, (db.dialect, written, read)
            created = loop.run(db.nodes["SampleCreateNode"]().run({"name": "late", "at": datetime(5, 1, 1, 12)}))
            assert created["at"] == datetime(5, 1, 1, 12, tzinfo=UTC)
            assert loop.run(db.nodes["SampleReadNode"]().run({"id": created["id"]}))["at"] == created["at"]
            early = loop.run(_query(db, {"filter": {"at": {"$lt": datetime(1000, 1, 1, tzinfo=UTC)}}}, {}))[0]
            assert created["id"] in early
    finally:
        for db in dbs:
            loop.run(db.close())
        loop.close()
        postgres_server.drop_database(pg_url)


assert timedelta  # imported for readers extending the dataset
