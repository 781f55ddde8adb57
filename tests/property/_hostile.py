"""Shared pieces of the property-based reliability tests: hostile values, models, a sync driver.

Imported by ``tests/property/test_property_*.py`` (pytest puts this directory on ``sys.path``).
Every test that uses a database builds its own ``DataFlow`` and closes it, so the tests are
independent of order and of the xdist worker they land on.
"""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from dataflow import AsyncLocalRuntime, DataFlow, DataFlowError, Field, WorkflowBuilder

#: Error codes that mean "your input is invalid" (raised before any SQL runs).
VALIDATION_CODES = {"DF-101", "DF-102", "DF-103", "DF-104", "DF-105", "DF-201", "DF-202", "DF-305"}

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    derandomize=False,
)

SQL_PAYLOADS = [
    "'; DROP TABLE hostiles; --",
    "\"; DROP TABLE hostiles; --",
    "1 OR 1=1",
    "' OR '1'='1",
    "x'); DELETE FROM hostiles; --",
    "$1",
    "?",
    "%",
    "_",
    "\\",
    "\\%",
    "*",
    "[",
    "]",
    "[*]",
    "/* comment */",
    "-- comment",
    "ROLLBACK; COMMIT;",
    "E'\\x41'",
    "$$ dollar $$",
    "\u2019\u201c",
    "\U0001f600 emoji",
    "ǅ ß ﬁ İ ı",
    "\u202e right-to-left",
    "\ufeff bom",
    "line\nbreak\r\ttab",
]
SQL_KEYWORDS = ["select", "order", "group", "user", "table", "from", "where", "limit", "offset", "null",
                "true", "default", "primary", "key", "index", "values", "returning", "having", "join", "union"]


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text that looks dangerous to SQL, plus arbitrary Unicode (surrogates and NUL included)."""
    return st.one_of(
        st.sampled_from(SQL_PAYLOADS),
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8),  # surrogates too
        st.text(alphabet="'\"\\%_*?[]$;-\x00 ", max_size=max_size),
        st.builds(lambda s, n: s * n, st.sampled_from(["'", "a", "\U0001f600", "\\"]), st.integers(1_000, 20_000)),
    )


def any_value() -> st.SearchStrategy[Any]:
    """Values of every kind a caller might pass, valid or not."""
    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.dates(),
        st.datetimes(timezones=st.sampled_from([None, UTC])),
        st.binary(max_size=8),
        st.just(object()),
    )
    return st.recursive(
        scalar,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
        max_leaves=6,
    )


def define_hostile(db: DataFlow) -> type:
    """A model with every field type and SQL keywords as field names."""

    @db.model
    class Hostile:
        id: int
        name: str = ""
        note: str | None = None
        n: int | None = None
        x: float | None = None
        flag: bool | None = None
        amount: Decimal | None = None
        day: date | None = None
        at: datetime | None = None
        data: dict | None = None
        select: str | None = None
        order: int | None = None
        group: str | None = None
        user: str | None = None
        table: str | None = Field(default=None, index=True)

    return Hostile


HOSTILE_FIELDS = ["id", "name", "note", "n", "x", "flag", "amount", "day", "at", "data",
                  "select", "order", "group", "user", "table"]
STR_FIELDS = ["name", "note", "select", "group", "user", "table"]


async def run_node(node: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Build and run a one-node workflow; return the node's output."""
    builder = WorkflowBuilder()
    builder.add_node(node, "n", dict(params))
    results, _ = await AsyncLocalRuntime().execute_workflow_async(builder.build())
    return results["n"]


def assert_dataflow_error(exc: BaseException, allowed: set[str] = VALIDATION_CODES) -> None:
    """Fail unless ``exc`` is a DataFlowError with one of the ``allowed`` codes."""
    assert isinstance(exc, DataFlowError), f"non-DataFlow exception {type(exc).__name__}: {exc}"
    assert exc.code in allowed, f"unexpected {exc.code}: {exc}"
    assert re.match(r"^DF-\d{3}: ", str(exc)), str(exc)[:200]


_QUOTED_IDENT = re.compile(r'"(?:[^"]|"")*"')
SQL_WORDS = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IS", "NULL", "IN", "TRUE", "FALSE", "COALESCE", "LIKE",
    "ILIKE", "GLOB", "ESCAPE", "COLLATE", "CAST", "AS", "REAL", "ORDER", "BY", "ASC", "DESC", "NULLS", "FIRST",
    "LAST", "LIMIT", "OFFSET", "COUNT", "UPDATE", "SET", "DELETE", "RETURNING", "INSTR", "SUBSTR", "LENGTH",
}


def assert_sql_has_no_values(sql: str, params: list[Any], numbered: bool) -> None:
    """Check that ``sql`` is built only from keywords, quoted identifiers and placeholders.

    Quoted identifiers are model field/table names (validated identifiers); ``ESCAPE '\\'`` is the only
    literal DataFlow writes. Anything else (a quote, a value's text) would mean a value became SQL.
    """
    skeleton = _QUOTED_IDENT.sub(" IDENT ", sql.replace("ESCAPE '\\'", "ESCAPE"))
    assert "'" not in skeleton and '"' not in skeleton, sql
    assert re.fullmatch(r"[A-Za-z0-9_ ()=<>,?$*.-]*", skeleton), sql
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", skeleton)) - {"IDENT"}
    assert words <= SQL_WORDS, (words - SQL_WORDS, sql)
    if numbered:
        found = sorted({int(n) for n in re.findall(r"\$(\d+)", skeleton)})
        assert found == list(range(1, len(params) + 1)), (found, len(params), sql)
    else:
        assert skeleton.count("?") == len(params), (skeleton.count("?"), len(params), sql)


class Loop:
    """One event loop for a synchronous hypothesis test (``asyncio.Runner``), closed at the end."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def close(self) -> None:
        self.runner.close()


ASCII = string.ascii_letters + string.digits + " _%\\'"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
__all__ = ["ASCII", "EPOCH", "FAST", "Loop", "timedelta"]
