"""The escaped-writes check of an in-memory SQLite database, done in the isolation's own round trips.

An in-memory database lives in one connection, so nothing can commit to it except through that
connection: a write escapes a test's isolation only if something ended the isolation's transaction
(a raw ``COMMIT`` or ``ROLLBACK``, or an error SQLite answers by rolling back). There is no commit
probe for such a database (``PRAGMA data_version`` does not count the connection's own commits), so
without this the check read every table's row markers in a hop of its own before and after each test.

:class:`MemoryIsolationWatch` is the isolation's :class:`~dataflow._transaction.Boundaries`:

* the ``BEGIN`` hop reads the markers first (when the caller does not know them already) and then
  opens the transaction and a savepoint of its own;
* the ``ROLLBACK`` hop rolls back to that savepoint first. When it is still there, the transaction
  was never ended, so nothing committed and the markers are not read. When it is gone, the hop reads
  the markers after its ``ROLLBACK`` (also when that fails), for the full comparison.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite3

__all__ = ["MemoryIsolationWatch"]

#: The isolation's own savepoint, just inside its BEGIN (nested blocks use ``df_sp_<depth>``).
SAVEPOINT = '"dataflow_isolation"'

Marks = dict[str, tuple[int, int]]


class MarksReader(Protocol):
    """What the watch needs of the SQLite editor."""

    def marks_now(self, raw: sqlite3.Connection) -> Marks: ...


class WorkerConnection(Protocol):
    """What the watch needs of the isolated connection (``SQLiteConnection`` has it)."""

    run_step: Callable[[Callable[[Any], Any]], Awaitable[Any]]


class MemoryIsolationWatch:
    """The committed row markers before an isolated test and, only when its transaction was ended
    under it, after it.

    Args:
        editor: The SQLite editor (it reads the markers on the worker thread).
        read_before: Read the markers in the ``BEGIN`` hop (``False``: the caller knows them).
    """

    def __init__(self, editor: MarksReader, *, read_before: bool) -> None:
        self.editor = editor
        self.read_before = read_before
        #: The markers read with ``BEGIN`` (``None`` when not asked for or not read yet).
        self.before: Marks | None = None
        #: The markers read after the rollback, when the savepoint was gone (else ``None``).
        self.after: Marks | None = None
        #: After the end: True when the savepoint was still there (nothing committed); ``None`` before.
        self.intact: bool | None = None

    async def begin(self, connection: WorkerConnection, statements: list[str]) -> None:
        """Read the markers (if asked), run ``statements``, then open the savepoint: one hop."""

        def work(raw: sqlite3.Connection) -> Marks | None:
            marks = self.editor.marks_now(raw) if self.read_before else None
            for sql in statements:
                raw.execute(sql)
            raw.execute(f"SAVEPOINT {SAVEPOINT}")
            return marks

        self.before = await connection.run_step(work)

    async def end(self, connection: WorkerConnection, statement: str) -> None:
        """Roll back to the savepoint (it tells whether the transaction survived), run ``statement``,
        and read the markers if it did not: one hop. An error of ``statement`` is raised after that."""
        import sqlite3

        def work(raw: sqlite3.Connection) -> None:
            try:
                raw.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
                self.intact = True
            except sqlite3.OperationalError:  # "no such savepoint": the transaction ended under the test
                self.intact = False
            try:
                raw.execute(statement)
            finally:
                if not self.intact:
                    self.after = self.editor.marks_now(raw)

        await connection.run_step(work)
