"""Commit probes: whether anything committed to the database since the probe last looked.

The escaped-writes check of the session-loop isolation (``dataflow_isolated_session``) asks one
before it reads every table's row markers: when nothing committed, the markers it read before are
still the committed state, and the per-table comparison is skipped. A probe answers "maybe" (True)
whenever it cannot be sure, so the full check runs then.

* SQLite: ``PRAGMA data_version`` changes, on a connection, whenever *another* connection committed.
  The probe keeps a plain ``sqlite3`` connection of its own (every DataFlow connection is another
  one), not bound to any event loop, and runs the pragma on the calling thread (it reads the WAL
  index: microseconds, no hop to a worker thread).
* PostgreSQL: the transaction ids handed out since the last look (``pg_current_snapshot()``): none of
  them committed (``pg_xact_status``) means no write reached the database; a rolled-back isolation's
  ids are aborted. An id still in progress is looked at again next time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite3


class Connection(Protocol):
    """What a probe needs of a connection (``_base.Connection`` has it)."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...


__all__ = ["CommitProbe", "IsolationWatch", "PostgresCommitProbe", "SQLiteCommitProbe"]

#: Above this many transaction ids since the last look, the probe answers "maybe" without looking.
MAX_RANGE = 50_000


class CommitProbe(ABC):
    """One per database and session; not bound to an event loop."""

    #: Whether :meth:`changed` runs a statement on the connection it is given (a round trip). When
    #: it does, the session-loop isolation asks on a second connection while its rollback runs.
    uses_connection: bool = True

    @abstractmethod
    async def changed(self, connection: Connection) -> bool:
        """True when something may have committed since the previous call (always on the first).

        ``connection`` is one of the database outside any isolation (a probe may use its own instead).
        """

    def close(self) -> None:
        """Close what the probe holds open."""
        return None


class IsolationWatch(Protocol):
    """The escaped-writes check of a database without a probe, run by the isolation itself: it is the
    isolation's ``Boundaries`` (its BEGIN and ROLLBACK), and reads the row markers in those round trips
    (``SchemaEditor.isolation_watch``; SQLite's in-memory databases, ``_sqlite_isolation``)."""

    #: The markers read with BEGIN (``None``: not asked for).
    before: dict[str, tuple[int, int]] | None
    #: The markers read after the rollback, when the isolation's transaction had been ended under it.
    after: dict[str, tuple[int, int]] | None
    #: After the end: True when the transaction was never ended (nothing committed); ``None`` before.
    intact: bool | None

    async def begin(self, connection: Any, statements: list[str]) -> None: ...

    async def end(self, connection: Any, statement: str) -> None: ...


class SQLiteCommitProbe(CommitProbe):
    uses_connection = False  # its own connection, on the calling thread

    def __init__(self, path: str) -> None:
        self.path = path
        self.version: int | None = None
        self.connection: sqlite3.Connection | None = None

    async def changed(self, connection: Connection) -> bool:
        if self.connection is None:
            import sqlite3  # not at import time: ``import dataflow`` loads no driver

            self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        value = int(self.connection.execute("PRAGMA data_version").fetchone()[0])
        version, self.version = self.version, value
        return version is None or version != self.version

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


_PG_PROBE = (
    "WITH s AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS top), "
    "ids AS (SELECT x, pg_xact_status(x::text::xid8) AS status FROM s, "
    "generate_series($1::bigint, s.top - 1) AS x WHERE s.top - $1::bigint <= $2::bigint) "
    "SELECT s.top, (SELECT count(*) FROM ids WHERE status = 'committed'), "
    "(SELECT min(x) FROM ids WHERE status = 'in progress') FROM s"
)


class PostgresCommitProbe(CommitProbe):
    def __init__(self) -> None:
        #: The first transaction id not known to be finished at the previous call.
        self.horizon: int | None = None

    async def changed(self, connection: Connection) -> bool:
        horizon = self.horizon
        rows = await connection.fetch(_PG_PROBE, [horizon if horizon is not None else 0, MAX_RANGE])
        top, committed, pending = int(rows[0][0]), int(rows[0][1]), rows[0][2]
        self.horizon = int(pending) if pending is not None else top
        return horizon is None or committed > 0 or top - horizon > MAX_RANGE
