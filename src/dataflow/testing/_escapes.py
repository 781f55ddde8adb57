"""The escaped-writes check of ``dataflow_isolated`` (DF-702).

Before the test's isolation begins and after it is rolled back, one connection *outside* the
isolation reads every table's row count and largest row marker (SQLite: ``rowid``; PostgreSQL:
``xmin``, the writing transaction). Whatever the isolation rolled back is invisible to both reads, so
any difference is a committed write that escaped it: a second connection of the test's own, an
instance on another URL of the database, or a raw ``COMMIT`` on the isolated connection. A read is
two statements (the table list, then one ``UNION ALL`` of counts), and it is made only when the
worker's commit probe (:class:`SessionProbe`, ``_dialects._commits``) says something committed since
the last one; otherwise the last read is still the committed state. The reads take their connection
from the instance's execution context, not ``db.connection()``: they write nothing, so the query
cache and the replicas need not hear of them, and a PostgreSQL connection they used needs no session
reset when it goes back to the pool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from .._catalog import CATALOG, error_url
from .._dataflow import DataFlow
from .._dialects import CommitProbe, Connection, IsolationWatch, SchemaEditor, backend_for, parse_url
from .._errors import DataFlowError, EscapedWritesError

__all__ = ["MARKER", "EscapeWatch", "SessionProbe", "escapes_allowed", "locked_write_section"]

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


class SessionProbe:
    """The escaped-writes state kept across the tests of a worker: the backend's commit probe and
    the committed markers last read (both fixtures share it; it is bound to no event loop).

    When the probe says nothing committed since its last look, the markers last read are still the
    committed state: a test's check then costs one probe before and one after it (on SQLite an
    in-process pragma, on PostgreSQL one statement), instead of reading every table twice. Without a
    probe (an in-memory SQLite database) every check is a full one.
    """

    def __init__(self, url: str, activity: Callable[[], int] | None = None) -> None:
        parsed = self.url = parse_url(url)
        self.editor: SchemaEditor = backend_for(parsed).editor
        self.probe = self.editor.commit_probe(parsed)
        #: The row markers of the last full read (the committed state while the probe says "unchanged").
        self.baseline: Marks | None = None
        #: How many other tests and fixtures have run (``None``: not counted; see ``_session``).
        self.activity = activity
        #: ``activity()`` when the last check after a test ended: the baseline was current then.
        self.quiet_at: int | None = None

    def quiet(self) -> bool:
        """True when nothing but isolated tests' own fixtures ran since the last check ended."""
        return self.activity is not None and self.quiet_at is not None and self.quiet_at == self.activity()

    async def unchanged(self, connection: Connection) -> bool:
        """True when nothing committed since the previous call (False on the first, or without a probe)."""
        if self.probe is None:
            return False
        try:
            return not await self.probe.changed(connection)
        except DataFlowError:  # e.g. a server without pg_xact_status (before PostgreSQL 13): full checks
            self.probe = None
            return False

    def close(self) -> None:
        """Close what the probe holds open."""
        if self.probe is not None:
            self.probe.close()


class EscapeWatch:
    """The committed state of the database before a test, compared with the state after it.

    Args:
        db: The fixture's instance (its pool gives the connection outside the isolation).
        url: The database URL with its password (for the backend's editor).
        session: The session-loop mode's :class:`SessionProbe` (its connection reads the markers, and
            they are read only when its probe says something committed).
    """

    def __init__(self, db: DataFlow, url: str, session: SessionProbe | None = None) -> None:
        self.db = db
        self.url = session.url if session is not None else parse_url(url)
        self.editor: SchemaEditor = session.editor if session is not None else backend_for(self.url).editor
        self.session = session
        self.before: Marks = {}
        #: The isolation's BEGIN and ROLLBACK when they do the check (an in-memory SQLite database).
        self.boundaries: IsolationWatch | None = None

    async def read(self) -> Marks:
        """The row counts and markers of every table, read on a connection outside any isolation."""
        async with self.db.execution_context.connection() as connection:
            return await self._read(connection)

    async def _read(self, connection: Connection) -> Marks:
        marks = await self.editor.row_marks(connection)
        if self.session is not None:
            self.session.baseline = marks
        return marks

    async def start(self, *, trust_quiet: bool = False) -> None:
        """Remember the committed state (call before the isolation begins).

        ``trust_quiet``: when nothing ran since the previous test's check (``SessionProbe.quiet``),
        its result is the committed state, with no statement at all.
        """
        session = self.session
        quiet = trust_quiet and session is not None and session.baseline is not None and session.quiet()
        if quiet:
            assert session is not None and session.baseline is not None
            self.before = session.baseline
        # Without a commit probe (in-memory SQLite) the isolation's own BEGIN reads the markers.
        self.boundaries = self.editor.isolation_watch(self.url, read_before=not quiet)
        if quiet or self.boundaries is not None:
            return
        async with self.db.execution_context.connection() as connection:
            if session is not None and await session.unchanged(connection) and session.baseline is not None:
                self.before = session.baseline
                return
            self.before = await self._read(connection)

    async def probe_isolated(self) -> bool | None:
        """Inside the isolation, just before its rollback, on the isolated connection: True when
        nothing committed since the last look (``None``: no probe, or it could not answer)."""
        return await self._ask(self.db.execution_context.connection())

    @property
    def probes_aside(self) -> bool:
        """Whether :meth:`probe_aside` can stand in for :meth:`probe_isolated` (the probe is a
        statement: PostgreSQL)."""
        probe = self._probe
        return probe is not None and probe.uses_connection

    async def probe_aside(self) -> bool | None:
        """:meth:`probe_isolated` on a pool connection outside the isolation, so that it can run while
        the isolation rolls back: the answer costs no round trip of its own. For an instance whose
        pool is kept across tests (``dataflow_isolated_session``): that second connection is opened
        once. The isolation's own transaction, in progress or rolled back, is not a commit."""
        return await self._ask(self._outside())

    @property
    def _probe(self) -> CommitProbe | None:
        return self.session.probe if self.session is not None else None

    async def _ask(self, lease: AbstractAsyncContextManager[Connection]) -> bool | None:
        probe = self._probe
        if probe is None:
            return None
        try:
            async with lease as connection:
                return not await probe.changed(connection)
        except DataFlowError:  # e.g. the test left the transaction aborted: the full check decides
            return None

    @asynccontextmanager
    async def _outside(self) -> AsyncIterator[Connection]:
        """A connection of the instance's pool, even while an isolation pins another one."""
        pool = await self.db.execution_context.pools.get()
        connection = await pool.acquire()
        try:
            yield connection
        finally:
            await pool.release(connection)

    async def escaped(self, *, quiet: bool | None = None) -> list[str]:
        """What changed since :meth:`start`, one line per table (call after the isolation ended;
        ``quiet``: the answer of :meth:`probe_isolated`, when it gave one)."""
        if quiet:
            return []
        watch, after = self.boundaries, None
        if watch is not None:  # the isolation's BEGIN and ROLLBACK read the markers (in-memory SQLite)
            if watch.before is not None:
                self.before = watch.before
            # A transaction never ended under the test: nothing committed, the state is as before.
            after = self.before if watch.intact else watch.after
            if after is not None and self.session is not None:
                self.session.baseline = after
        if after is None:
            async with self.db.execution_context.connection() as connection:
                if quiet is None and self.session is not None and await self.session.unchanged(connection):
                    return []
                after = await self._read(connection)
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
            async with self.db.execution_context.connection() as connection:
                written = await self.editor.rows_written_since(connection, table, old[1])
            removed = max(old[0] + written - new[0], 0)
            parts = [f"{written} row(s) inserted or updated"] if written else []
            parts += [f"{removed} row(s) deleted"] if removed else []
            lines.append(
                f"table '{table}': " + (", ".join(parts) or "rows changed") + f" ({old[0]} -> {new[0]} rows)"
            )
        return lines

    async def check(self, test: str, *, quiet: bool | None = None) -> None:
        """Raise DF-702 naming ``test``, each table and its row counts when writes escaped."""
        lines = await self.escaped(quiet=quiet)
        if self.session is not None and self.session.activity is not None:
            self.session.quiet_at = self.session.activity()
        if lines:
            raise EscapedWritesError(
                f"Test {test} wrote to the database outside its isolation; these changes were committed and "
                "are still there after its rollback:\n  - " + "\n  - ".join(lines),
                context={"test": test, "tables": [line.split("'")[1] for line in lines]},
            )


def locked_write_section(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> tuple[str, str] | None:
    """On SQLite the isolation holds the write lock for the whole test, so a write through another
    connection cannot escape: it waits and fails with "database is locked". The failure report of
    such a test under ``dataflow_isolated`` gets this DF-702 section naming the table it wrote
    (``FailureHints`` adds it)."""
    excinfo = call.excinfo
    if (
        call.when != "call"
        or excinfo is None
        or "dataflow_isolated" not in getattr(item, "fixturenames", ())
        or "database is locked" not in str(excinfo.value)
        or escapes_allowed(item)
    ):
        return None
    tables = sorted(set(_WRITE.findall(str(report.longrepr))) | _tables_written_in_frames(excinfo))
    what = f"table(s) {', '.join(repr(t) for t in tables)}" if tables else "the database"
    return (
        "dataflow",
        f"DF-702: {CATALOG['DF-702'].title}: {item.nodeid} wrote to {what} through a connection outside "
        "its dataflow_isolated isolation. On SQLite the isolation holds the write lock for the whole "
        "test, so that write waited and failed ('database is locked') instead of escaping. Write "
        f"through the fixture's instance or the app's DataFlow instances. See {error_url('DF-702')}",
    )


def _tables_written_in_frames(excinfo: pytest.ExceptionInfo[BaseException]) -> set[str]:
    """The tables named by write statements held in the failing frames' variables.

    The source lines in the report do not show a statement built at run time (an f-string, a
    helper's argument); the driver's own frames (aiosqlite's ``execute(sql, ...)``) still hold it.
    """
    tables: set[str] = set()
    for entry in excinfo.traceback:
        for value in entry.frame.f_locals.values():
            texts = value if isinstance(value, (tuple, list)) else (value,)
            for text in texts:
                if isinstance(text, str):
                    tables.update(_WRITE.findall(text))
    return tables
