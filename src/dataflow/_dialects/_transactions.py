"""How each backend spells transaction control: BEGIN with an isolation level, the timeout of a
transaction, and the statements of two-phase commit (PREPARE TRANSACTION / COMMIT PREPARED).

:class:`TransactionSpelling` is a base of :class:`~dataflow._dialects.Backend`; the SQLite and
PostgreSQL backends take their spelling from the classes below. Code outside ``_dialects`` asks
these methods and flags, never the backend's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from .._tx_options import IsolationLevel

__all__ = ["PostgresTransactionSpelling", "SQLiteTransactionSpelling", "TransactionSpelling"]


class Connection(Protocol):
    """What the spelling needs of a connection (``_base.Connection`` has it)."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class TransactionSpelling:
    """Standard SQL transaction control (what PostgreSQL speaks); backends override what differs."""

    #: The statement that opens a top-level transaction.
    begin_sql: ClassVar[str] = "BEGIN"
    #: The isolation level a plain BEGIN gives.
    default_isolation: ClassVar[IsolationLevel] = IsolationLevel.READ_COMMITTED
    #: True when the backend has PREPARE TRANSACTION / COMMIT PREPARED (two-phase commit).
    supports_two_phase: ClassVar[bool] = False

    def isolation_in_effect(self, requested: IsolationLevel | None) -> IsolationLevel:
        """The level a transaction that asks for ``requested`` (``None``: nothing) really runs at."""
        level = requested or self.default_isolation
        # READ UNCOMMITTED behaves as READ COMMITTED (the standard allows stronger behaviour).
        return IsolationLevel.READ_COMMITTED if level is IsolationLevel.READ_UNCOMMITTED else level

    def begin_statements(
        self, connection: Connection, isolation: IsolationLevel | None, timeout: float | None
    ) -> list[str]:
        """The statements that open a top-level transaction with these options."""
        begin = self.begin_sql if isolation is None else f"{self.begin_sql} ISOLATION LEVEL {isolation.value}"
        return [begin, *(self.timeout_statements(connection, timeout) if timeout is not None else ())]

    def timeout_statements(self, connection: Connection, timeout: float | None) -> list[str]:
        """Limit statements and lock waits of the open transaction to ``timeout`` seconds (``None``:
        back to the connection's own limits)."""
        if timeout is None:
            return ["SET LOCAL statement_timeout TO DEFAULT", "SET LOCAL lock_timeout TO DEFAULT"]
        return [f"SET LOCAL statement_timeout = {_ms(timeout)}", f"SET LOCAL lock_timeout = {_ms(timeout)}"]

    def end_statements(self, connection: Connection, timeout: float | None) -> list[str]:
        """Statements to run after COMMIT/ROLLBACK of a transaction that had ``timeout``."""
        return []

    def activity_query(self) -> str | None:
        """Open transactions of every session of the database, as rows of ``(session, state,
        transaction age s, state age s, query)``; ``None`` when the database cannot tell."""
        return None

    def lock_waits_query(self) -> str | None:
        """The lock wait graph of the database: rows of ``(waiting session, its query, blocking
        session, its query, seconds waited, lock type, mode wanted)``; ``None`` when the database
        has no lock table to read (SQLite: one writer, whose waits end as "database is locked")."""
        return None

    def session_queries_sql(self) -> str | None:
        """Rows of ``(session, its current or last query)`` for the sessions of the array ``$1``;
        ``None`` when the database has no sessions to ask about."""
        return None

    # --- two-phase commit ---------------------------------------------------------------------

    async def two_phase_problem(self, connection: Connection) -> str | None:
        """Why this database cannot take part in a two-phase commit, or ``None`` when it can."""
        return "it has no PREPARE TRANSACTION (two-phase commit)"

    def prepare_sql(self, gid: str) -> str:
        """End the open transaction by preparing it under the global id ``gid``."""
        return f"PREPARE TRANSACTION '{gid}'"

    def commit_prepared_sql(self, gid: str) -> str:
        """Commit the prepared transaction ``gid`` (outside any transaction)."""
        return f"COMMIT PREPARED '{gid}'"

    def rollback_prepared_sql(self, gid: str) -> str:
        """Roll back the prepared transaction ``gid`` (outside any transaction)."""
        return f"ROLLBACK PREPARED '{gid}'"

    def prepared_query(self, prefix: str) -> tuple[str, list[Any]]:
        """The global ids of this database's prepared transactions that start with ``prefix``."""
        raise NotImplementedError("this backend has no prepared transactions")


class PostgresTransactionSpelling(TransactionSpelling):
    """PostgreSQL: isolation levels and SET LOCAL timeouts as standard; two-phase commit when the
    server allows prepared transactions (``max_prepared_transactions > 0``)."""

    supports_two_phase = True

    async def two_phase_problem(self, connection: Connection) -> str | None:
        rows = await connection.fetch("SELECT current_setting('max_prepared_transactions')::int")
        if int(rows[0][0]) <= 0:
            return "the server has max_prepared_transactions = 0, so it cannot prepare transactions"
        return None

    def activity_query(self) -> str | None:
        return (
            "SELECT pid, state, EXTRACT(EPOCH FROM now() - xact_start)::float8, "
            "EXTRACT(EPOCH FROM now() - state_change)::float8, left(query, 500) FROM pg_stat_activity "
            "WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid() "
            "ORDER BY xact_start"
        )

    def lock_waits_query(self) -> str | None:
        # pg_blocking_pids() gives who blocks each waiting session; pg_locks the lock it waits for.
        return (
            "SELECT w.pid, left(w.query, 500), b.pid, left(b.query, 500), "
            "EXTRACT(EPOCH FROM now() - w.query_start)::float8, l.locktype, l.mode "
            "FROM pg_stat_activity w CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid) "
            "JOIN pg_stat_activity b ON b.pid = blocker.pid "
            "LEFT JOIN LATERAL (SELECT locktype, mode FROM pg_locks WHERE pid = w.pid AND NOT granted LIMIT 1) l "
            "ON true WHERE w.datname = current_database() AND w.wait_event_type = 'Lock' ORDER BY w.pid, b.pid"
        )

    def session_queries_sql(self) -> str | None:
        return "SELECT pid, left(query, 500) FROM pg_stat_activity WHERE pid = ANY($1::int[]) ORDER BY pid"

    def prepared_query(self, prefix: str) -> tuple[str, list[Any]]:
        return (
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND left(gid, $1) = $2 "
            "ORDER BY gid",
            [len(prefix), prefix],
        )


class SQLiteTransactionSpelling(TransactionSpelling):
    """SQLite: every transaction is SERIALIZABLE (one writer at a time; BEGIN IMMEDIATE takes the
    write lock), so every isolation level is honoured; the timeout is the busy timeout, how long a
    statement waits for another connection's write lock."""

    begin_sql = "BEGIN IMMEDIATE"
    default_isolation = IsolationLevel.SERIALIZABLE

    def isolation_in_effect(self, requested: IsolationLevel | None) -> IsolationLevel:
        return IsolationLevel.SERIALIZABLE

    def begin_statements(
        self, connection: Connection, isolation: IsolationLevel | None, timeout: float | None
    ) -> list[str]:
        # The busy timeout first: BEGIN IMMEDIATE itself waits for the write lock.
        return [*(self.timeout_statements(connection, timeout) if timeout is not None else ()), self.begin_sql]

    def timeout_statements(self, connection: Connection, timeout: float | None) -> list[str]:
        seconds = timeout if timeout is not None else float(getattr(connection, "busy_timeout", 5.0))
        return [f"PRAGMA busy_timeout = {_ms(seconds)}"]

    def end_statements(self, connection: Connection, timeout: float | None) -> list[str]:
        return self.timeout_statements(connection, None) if timeout is not None else []
