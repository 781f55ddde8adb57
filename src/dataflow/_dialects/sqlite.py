"""SQLite through aiosqlite.

aiosqlite runs each connection's calls on its own worker thread and wakes the awaiting loop, so a
connection is not bound to a loop. DataFlow still gives each event loop its own connection for file
databases (pools are keyed by loop), and one connection per instance for ``:memory:``, where the
connection *is* the database.

Each operation is shipped to the worker thread as one function (``_execute``), so a statement and
its result rows cost one thread hop, not one per cursor call. On an in-memory database a statement
runs on the calling thread instead, when no other thread is using the connection: the database is
in this process, and a statement on a test-sized table takes less time than the hop
(``SQLiteConnection.run_step``). Bulk writes and scripts still take the hop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .._errors import (
    DatabaseError,
    DatabaseLockedError,
    PoolClosedError,
    PoolTimeoutError,
)
from .._types import FieldType, json_dump
from .._url import MEMORY, DatabaseURL, parse_path_url
from ._base import (
    Backend,
    Connection,
    FromDB,
    Pool,
    PoolSettings,
    PoolSource,
    SchemaEditor,
    ToDB,
    quote_ident,
)
from ._cdc_sqlite import SQLiteCapture
from ._sqlite_errors import sqlite_error, translate
from ._sqlite_files import SQLiteTestDatabases, drop_files, with_suffix
from ._sqlite_schema import SQLiteEditor
from ._transactions import SQLiteTransactionSpelling

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SQLiteBackend", "SQLiteConnection", "SQLitePool", "connect"]

_MAX_GLOB_BYTES = 50_000  # SQLITE_MAX_LIKE_PATTERN_LENGTH
_GLOB_SPECIAL = {"*": "[*]", "?": "[?]", "[": "[[]"}


def _glob_literal(text: str) -> str:
    return "".join(_GLOB_SPECIAL.get(ch, ch) for ch in text)


# Datetimes are stored as "YYYY-MM-DDTHH:MM:SS.ffffff+00:00": fixed width, so text order is time order.


def _dt_to_sqlite(value: datetime) -> str:
    # isoformat, not strftime: strftime("%Y") does not zero-pad years before 1000 on Linux (width, reading back).
    return value.astimezone(UTC).isoformat(timespec="microseconds")


_TO_DB: dict[FieldType, ToDB] = {
    FieldType.DATETIME: _dt_to_sqlite,
    FieldType.DATE: date.isoformat,
    FieldType.DECIMAL: str,
    FieldType.JSON: json_dump,
}
_FROM_DB: dict[FieldType, FromDB] = {
    # RETURNING yields a whole float such as 19.0 as the int 19 before column affinity applies.
    FieldType.FLOAT: float,
    FieldType.BOOL: bool,
    FieldType.DATETIME: datetime.fromisoformat,
    FieldType.DATE: date.fromisoformat,
    FieldType.DECIMAL: Decimal,
    FieldType.JSON: json.loads,
}
_COLUMN_TYPES = {
    FieldType.STR: "TEXT",
    FieldType.INT: "INTEGER",
    FieldType.FLOAT: "REAL",
    FieldType.BOOL: "INTEGER",
    FieldType.DATETIME: "TEXT",
    FieldType.DATE: "TEXT",
    FieldType.DECIMAL: "TEXT",
    FieldType.JSON: "TEXT",
}


class SQLiteBackend(SQLiteTransactionSpelling, Backend):
    """SQLite through aiosqlite (3.35+ for RETURNING); BEGIN IMMEDIATE (SQLiteTransactionSpelling) takes
    the write lock at BEGIN: a deferred transaction that reads first and writes later can fail with
    "database is locked" at once, without waiting for the busy timeout."""

    name = "sqlite"
    schemes = ("sqlite", "sqlite+aiosqlite")
    numbered_params = False
    column_types = _COLUMN_TYPES
    to_db = _TO_DB
    from_db = _FROM_DB
    capture_class = SQLiteCapture

    def parse_url(self, url: str, rest: str) -> DatabaseURL:
        return parse_path_url(self.name, url, rest)

    def comparable(self, column: str, kind: FieldType) -> str:
        if kind is FieldType.DECIMAL:
            return f"CAST({column} AS REAL)"
        return column

    def placeholder_value(self, kind: FieldType, placeholder: str) -> str:
        if kind is FieldType.DECIMAL:
            return f"CAST({placeholder} AS REAL)"
        return placeholder

    def like(self, column: str, placeholder: str, *, case_sensitive: bool) -> str:
        # SQLite's LIKE ignores ASCII case; GLOB is case-sensitive, so $like is compiled to GLOB.
        if case_sensitive:
            return f"{column} GLOB {placeholder}"
        return f"{column} LIKE {placeholder} ESCAPE '\\'"

    def like_param(self, pattern: str, *, case_sensitive: bool) -> str:
        if not case_sensitive:
            return pattern
        out = []
        chars = iter(pattern)
        for ch in chars:
            if ch == "\\":
                out.append(_glob_literal(next(chars, "\\")))
            elif ch == "%":
                out.append("*")
            elif ch == "_":
                out.append("?")
            else:
                out.append(_GLOB_SPECIAL.get(ch, ch))
        return "".join(out)

    def literal_match(self, column: str, placeholder: str) -> str:
        return f"{column} GLOB {placeholder}"

    def literal_pattern(self, text: str, *, prefix: bool, suffix: bool) -> str:
        return ("*" if prefix else "") + _glob_literal(text) + ("*" if suffix else "")

    def literal_condition(self, column: str, text: str, *, prefix: bool, suffix: bool, params: Any) -> str:
        pattern = self.literal_pattern(text, prefix=prefix, suffix=suffix)
        if len(pattern.encode("utf-8")) <= _MAX_GLOB_BYTES:
            return self.literal_match(column, params.add(pattern))
        # GLOB over 50,000 bytes is "pattern too complex"; literal binary matches: INSTR/SUBSTR agree.
        if prefix and suffix:
            return f"INSTR({column}, {params.add(text)}) > 0"
        if suffix:  # starts with: the first occurrence is at the start
            return f"INSTR({column}, {params.add(text)}) = 1"
        return f"SUBSTR({column}, -LENGTH({params.add(text)})) = {params.add(text)}"

    def list_contains(self, column: str, elements: list[Any], params: Any) -> str:
        # One EXISTS per element over json_each, matching JSON types the way jsonb's @> does:
        # numbers equal across integer/real, true/false/null only themselves, text only text.
        conditions = []
        for element in elements:
            if element is None:
                match = "type = 'null'"
            elif isinstance(element, bool):
                match = f"type = '{'true' if element else 'false'}'"
            elif isinstance(element, str):
                match = f"type = 'text' AND value = {params.add(element)}"
            else:
                match = f"type IN ('integer', 'real') AND value = {params.add(element)}"
            conditions.append(f"EXISTS (SELECT 1 FROM json_each({column}) WHERE {match})")
        return " AND ".join(conditions)

    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        if limit is None and offset is None:
            return ""
        return f" LIMIT {limit if limit is not None else -1}" + (f" OFFSET {offset}" if offset else "")

    def auto_id_column(self) -> str:
        return '"id" INTEGER PRIMARY KEY'

    async def describe_columns(self, connection: Connection, table: str) -> dict[str, str]:
        rows = await connection.fetch(f"PRAGMA table_info({quote_ident(table)})")
        return {str(row[1]): str(row[2]).upper() for row in rows}

    def pool_source(self, url: DatabaseURL, settings: PoolSettings, *, test_mode: bool) -> PoolSource:
        return _SQLitePools(url, settings)

    @functools.cached_property
    def editor(self) -> SchemaEditor:
        return SQLiteEditor(self)

    def drop_database(self, url: DatabaseURL, admin: DatabaseURL) -> None:
        drop_files(url)

    @functools.cached_property
    def test_databases(self) -> SQLiteTestDatabases:
        return SQLiteTestDatabases()

    def with_database_suffix(self, url: DatabaseURL, suffix: str) -> DatabaseURL:
        return with_suffix(url, suffix)


BACKEND = SQLiteBackend()


class SQLiteConnection(Connection):
    """An aiosqlite connection (autocommit mode: DataFlow issues BEGIN/SAVEPOINT itself)."""

    backend = BACKEND

    def __init__(self, raw: aiosqlite.Connection, path: str, busy_timeout: float) -> None:
        self.raw = raw
        self.path = path
        self.busy_timeout = busy_timeout
        self.tx_depth = 0
        #: In memory, statements run on the calling thread when the connection is free (see ``run_step``).
        self.in_memory = path == MEMORY
        #: Held by whichever thread is using the sqlite3 connection (the worker, or the caller).
        self.guard = threading.Lock()

    async def run_step(self, fn: Callable[[Any], Any], *, inline: bool = True) -> Any:
        """``fn(the sqlite3 connection)`` in one step, errors translated: one hop to the worker thread,
        or, for an in-memory database, on the calling thread at once. There a statement costs less than
        the hop; the guard keeps the worker out meanwhile (it may still be running a call whose caller
        was cancelled: then this call takes the hop and runs after it). ``inline=False``: always the
        worker (bulk writes and scripts, which may take long enough to hold up the event loop)."""
        raw = self.raw
        try:
            if inline and self.in_memory and self.is_usable() and self.guard.acquire(blocking=False):
                try:
                    return fn(raw._conn)
                finally:
                    self.guard.release()
            return await raw._execute(lambda: self._guarded(fn))  # type: ignore[no-untyped-call]
        except (sqlite_error(), ValueError, RuntimeError) as exc:
            raise translate(exc, path=self.path, busy_timeout=self.busy_timeout) from exc

    def _guarded(self, fn: Callable[[Any], Any]) -> Any:
        with self.guard:  # on the worker thread
            return fn(self.raw._conn)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(await self.run_step(lambda c: c.execute(sql, params).rowcount))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        result: list[Sequence[Any]] = await self.run_step(lambda c: c.execute(sql, params).fetchall())
        return result

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.run_step(lambda c: c.executemany(sql, rows), inline=False)

    async def fetch_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Sequence[Any]]]:
        """Several queries in one step (they run in order, as separate fetches would)."""
        result: list[list[Sequence[Any]]] = await self.run_step(
            lambda c: [c.execute(sql, params).fetchall() for sql, params in statements]
        )
        return result

    async def script(self, sql: str) -> None:
        """Run several statements (DDL)."""
        await self.run_step(lambda c: c.executescript(sql), inline=False)

    def is_usable(self) -> bool:
        return self.raw._running and self.raw._connection is not None

    async def close(self) -> None:
        """Close the connection and stop its worker thread."""
        try:
            await self.raw.close()
        except Exception:
            self.force_close()

    def force_close(self) -> None:
        """Close from any thread, with no event loop: queue the close on the worker thread."""
        raw = self.raw
        raw._running = False

        def close_and_stop() -> object:
            with self.guard:  # not under a statement running on another thread
                if raw._connection is not None:
                    raw._connection.close()
                    raw._connection = None
            from aiosqlite.core import _STOP_RUNNING_SENTINEL

            return _STOP_RUNNING_SENTINEL

        # No future: the worker must not call back into a loop that may be closed.
        raw._tx.put_nowait((None, close_and_stop))


async def connect(path: str, *, busy_timeout: float) -> SQLiteConnection:
    """Open a connection with DataFlow's settings (WAL for files, busy timeout, autocommit)."""
    import sqlite3

    import aiosqlite

    try:
        pending = aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout, check_same_thread=False)
        # A daemon worker thread cannot keep the interpreter alive if a connection is never closed
        # (aiosqlite >= 0.22 makes it non-daemon, which hangs pytest after "N passed").
        pending._thread.daemon = True
        raw = await pending
    except sqlite3.Error as exc:
        raise DatabaseError(f"Could not open SQLite database '{path}': {exc}.") from exc
    conn = SQLiteConnection(raw, path, busy_timeout)
    if path != MEMORY:
        await _switch_to_wal(conn, busy_timeout)
        await conn.execute("PRAGMA synchronous=NORMAL")
    return conn


async def _switch_to_wal(conn: SQLiteConnection, busy_timeout: float) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process switches the same new file: SQLite
    can answer "database is locked" at once there, without waiting for the busy timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_timeout
    delay = 0.005
    while True:
        try:
            await conn.fetch("PRAGMA journal_mode=WAL")
            return
        except DatabaseLockedError:
            if loop.time() + delay > deadline:
                await conn.close()
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)


class SQLitePool(Pool):
    """One connection, used by one task at a time (SQLite has a single writer anyway).

    For ``:memory:`` the connection belongs to the DataFlow instance and outlives this pool.
    """

    def __init__(
        self,
        connection: SQLiteConnection,
        loop: asyncio.AbstractEventLoop,
        *,
        owns_connection: bool,
        acquire_timeout: float,
    ) -> None:
        self.connection = connection
        self.loop = loop
        self.owns_connection = owns_connection
        self.acquire_timeout = acquire_timeout
        self._lock = asyncio.Lock()
        self._in_use = 0
        self.closed = False

    @property
    def in_use(self) -> int:
        return self._in_use

    async def acquire(self) -> Connection:
        if self.closed:
            raise PoolClosedError(f"The SQLite pool for '{self.connection.path}' is closed.")
        lock = self._lock
        try:
            if lock.locked() or getattr(lock, "_waiters", None):
                await asyncio.wait_for(lock.acquire(), self.acquire_timeout)
            else:  # free: acquire() returns at once; wait_for would cost a task and loop iterations
                await lock.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"No SQLite connection to '{self.connection.path}' became free within "
                f"pool_acquire_timeout={self.acquire_timeout:g}s (one connection per event loop; "
                "a transaction or task is holding it).",
                context={"database": self.connection.path},
            ) from None
        self._in_use += 1
        return self.connection

    async def release(self, connection: Connection) -> None:
        self._in_use -= 1
        self._lock.release()

    async def close(self, timeout: float) -> None:
        self.closed = True
        if not self.owns_connection:
            return
        if self._in_use:
            try:
                await asyncio.wait_for(self._lock.acquire(), timeout)
            except TimeoutError:
                pass  # close anyway: the caller asked for it and waited long enough
        await self.connection.close()

    def force_close(self) -> None:
        self.closed = True
        if self.owns_connection:
            self.connection.force_close()


class _SQLitePools(PoolSource):
    """One connection per event loop for a file; one connection per instance for ``:memory:``.

    An in-memory database lives in its connection, so every loop's pool shares that one connection
    and the database is gone when it closes.
    """

    def __init__(self, url: DatabaseURL, settings: PoolSettings) -> None:
        self.url = url
        self.settings = settings
        self._memory: SQLiteConnection | None = None

    async def create(self, loop: asyncio.AbstractEventLoop) -> Pool:
        timeout = self.settings.sqlite_busy_timeout
        acquire_timeout = self.settings.acquire_timeout
        if self.url.is_memory:
            if self._memory is None or not self._memory.is_usable():
                self._memory = await connect(MEMORY, busy_timeout=timeout)
            return SQLitePool(self._memory, loop, owns_connection=False, acquire_timeout=acquire_timeout)
        connection = await connect(self.url.database, busy_timeout=timeout)
        return SQLitePool(connection, loop, owns_connection=True, acquire_timeout=acquire_timeout)

    async def close_shared(self) -> bool:
        memory, self._memory = self._memory, None
        if memory is None:
            return False
        await memory.close()
        return True

    def force_close_shared(self) -> None:
        memory, self._memory = self._memory, None
        if memory is not None:
            memory.force_close()

    @property
    def shared_open(self) -> bool:
        return self._memory is not None
