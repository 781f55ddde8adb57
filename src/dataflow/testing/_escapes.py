"""The escaped-writes check of ``dataflow_isolated`` (DF-702).

Before the test's isolation begins and after it is rolled back, one connection *outside* the
isolation reads every table's row count and largest row marker (SQLite: ``rowid``; PostgreSQL:
``xmin``, the writing transaction). Whatever the isolation rolled back is invisible to both reads, so
any difference is a committed write that escaped it: a second connection of the test's own, an
instance on another URL of the database, or a raw ``COMMIT`` on the isolated connection. The cost is
two statements per read (the table list, then one ``UNION ALL`` of counts).
"""

from __future__ import annotations

import re
from collections.abc import Generator

import pytest

from .._catalog import CATALOG, error_url
from .._dataflow import DataFlow
from .._dialects import SchemaEditor, backend_for, parse_url
from .._errors import EscapedWritesError

__all__ = ["MARKER", "EscapeWatch", "LockedWriteHint", "escapes_allowed"]

#: ``@pytest.mark.dataflow_escapes_expected(reason=...)``: the test writes outside its isolation on purpose.
MARKER = "dataflow_escapes_expected"

Marks = dict[str, tuple[int, int]]

#: The table a write statement names, in a failure report's source lines and messages.
_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+[\"`\[]?(\w+)", re.IGNORECASE
)


def escapes_allowed(item: pytest.Item) -> bool:
    """True when the test opted out of the check (a reason is required)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return False
    if not marker.kwargs.get("reason") and not marker.args:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs reason=...")
    return True


class EscapeWatch:
    """The committed state of the database before a test, compared with the state after it.

    Args:
        db: The fixture's instance (its pool gives the connection outside the isolation).
        url: The database URL with its password (for the backend's editor).
    """

    def __init__(self, db: DataFlow, url: str) -> None:
        self.db = db
        self.editor: SchemaEditor = backend_for(parse_url(url)).editor
        self.before: Marks = {}

    async def read(self) -> Marks:
        """The row counts and markers of every table, read on a connection outside any isolation."""
        async with self.db.connection() as connection:
            return await self.editor.row_marks(connection)

    async def start(self) -> None:
        """Remember the committed state (call before the isolation begins)."""
        self.before = await self.read()

    async def escaped(self) -> list[str]:
        """What changed since :meth:`start`, one line per table (call after the isolation ended)."""
        after = await self.read()
        lines = []
        for table in sorted(set(self.before) | set(after)):
            old, new = self.before.get(table), after.get(table)
            if old == new:
                continue
            if old is None:
                assert new is not None
                lines.append(f"table '{table}': created outside the isolation, with {new[0]} row(s)")
                continue
            if new is None:
                lines.append(f"table '{table}': dropped outside the isolation (it had {old[0]} row(s))")
                continue
            async with self.db.connection() as connection:
                written = await self.editor.rows_written_since(connection, table, old[1])
            removed = max(old[0] + written - new[0], 0)
            parts = [f"{written} row(s) inserted or updated"] if written else []
            parts += [f"{removed} row(s) deleted"] if removed else []
            lines.append(
                f"table '{table}': " + (", ".join(parts) or "rows changed") + f" ({old[0]} -> {new[0]} rows)"
            )
        return lines

    async def check(self, test: str) -> None:
        """Raise DF-702 naming ``test``, each table and its row counts when writes escaped."""
        lines = await self.escaped()
        if lines:
            raise EscapedWritesError(
                f"Test {test} wrote to the database outside its isolation; these changes were committed and "
                "are still there after its rollback:\n  - " + "\n  - ".join(lines),
                context={"test": test, "tables": [line.split("'")[1] for line in lines]},
            )


class LockedWriteHint:
    """On SQLite the isolation holds the write lock for the whole test, so a write through another
    connection cannot escape: it waits and fails with "database is locked". The failure report of
    such a test under ``dataflow_isolated`` gets a DF-702 line naming the table it wrote."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        if (
            call.when != "call"
            or excinfo is None
            or "dataflow_isolated" not in getattr(item, "fixturenames", ())
            or "database is locked" not in str(excinfo.value)
            or escapes_allowed(item)
        ):
            return report
        tables = sorted(set(_WRITE.findall(str(report.longrepr))))
        what = f"table(s) {', '.join(repr(t) for t in tables)}" if tables else "the database"
        report.sections.append(
            (
                "dataflow",
                f"DF-702: {CATALOG['DF-702'].title}: {item.nodeid} wrote to {what} through a connection outside "
                "its dataflow_isolated isolation. On SQLite the isolation holds the write lock for the whole "
                "test, so that write waited and failed ('database is locked') instead of escaping. Write "
                f"through the fixture's instance or the app's DataFlow instances. See {error_url('DF-702')}",
            )
        )
        return report
