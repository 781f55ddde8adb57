"""What every backend provides: a :class:`Backend` (URL shape, SQL spelling, column types and value
conversion, transaction and upsert statements, pool creation) and the connection/pool wrappers.

Everything that differs between databases lives behind this interface; code outside ``_dialects``
never compares backend names. Drivers are imported lazily by the concrete modules, so
``import dataflow`` stays light.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._schema import Column, Index, Schema, Table
from .._types import FieldType
from .._url import DatabaseURL
from ._capture import ChangeCapture
from ._commits import CommitProbe, IsolationWatch
from ._replication import Replication
from ._row_security import RowSecurity
from ._test_databases import TestDatabases
from ._transactions import TransactionSpelling

__all__ = [
    "Backend", "Connection", "FromDB", "Params", "Pool", "PoolSettings", "PoolSource", "SchemaEditor",
    "TableDDL", "TestDatabases", "ToDB",
]

ToDB = Callable[[Any], Any]
FromDB = Callable[[Any], Any]
Statement = tuple[str, list[Any]]


@dataclass(frozen=True)
class PoolSettings:
    """Sizing and timeouts for the pools of one DataFlow instance."""

    min_size: int
    max_size: int
    acquire_timeout: float
    connect_timeout: float
    sqlite_busy_timeout: float
    close_timeout: float = 10.0


class Params:
    """Collects bound parameters and hands out placeholders in the dialect's style."""

    __slots__ = ("numbered", "values")

    def __init__(self, numbered: bool) -> None:
        self.values: list[Any] = []
        self.numbered = numbered

    def add(self, value: Any) -> str:
        """Bind ``value``; return its placeholder (``?`` or ``$n``)."""
        self.values.append(value)
        return f"${len(self.values)}" if self.numbered else "?"


def quote_ident(name: str) -> str:
    """Quote an identifier (names are validated, so a plain double-quote wrap is safe)."""
    return '"' + name.replace('"', '""') + '"'


class Backend(TransactionSpelling, ABC):
    """One database product: how its URLs look, how it spells SQL, stores values and opens pools."""

    name: ClassVar[str]
    #: URL schemes that select this backend (``_dialects.SCHEMES`` is built from these).
    schemes: ClassVar[tuple[str, ...]]
    numbered_params: ClassVar[bool]
    column_types: ClassVar[dict[FieldType, str]]
    to_db: ClassVar[dict[FieldType, ToDB]]
    from_db: ClassVar[dict[FieldType, FromDB]]
    #: Appended to text comparisons and ORDER BY so both backends compare code points.
    text_collation: ClassVar[str] = ""

    @abstractmethod
    def parse_url(self, url: str, rest: str) -> DatabaseURL:
        """Parse a URL of this backend (``rest`` is what follows ``scheme://``)."""

    def params(self) -> Params:
        """A new parameter collector."""
        return Params(self.numbered_params)

    def comparable(self, column: str, kind: FieldType) -> str:
        """A column expression that compares and sorts by value for ``kind``."""
        if kind is FieldType.STR and self.text_collation:
            return f"{column} COLLATE {self.text_collation}"
        return column

    def placeholder_value(self, kind: FieldType, placeholder: str) -> str:
        """A bound value expression that compares with :meth:`comparable` columns."""
        return placeholder

    @abstractmethod
    def like(self, column: str, placeholder: str, *, case_sensitive: bool) -> str:
        """``column LIKE pattern`` with ``\\`` as escape character."""

    @abstractmethod
    def like_param(self, pattern: str, *, case_sensitive: bool) -> str:
        """Transform a LIKE pattern into the bound value :meth:`like` expects."""

    @abstractmethod
    def literal_match(self, column: str, placeholder: str) -> str:
        """Match a pattern built by :meth:`literal_pattern` (contains/startswith/endswith)."""

    @abstractmethod
    def literal_pattern(self, text: str, *, prefix: bool, suffix: bool) -> str:
        """A pattern matching ``text`` literally, with any prefix/suffix allowed."""

    def literal_condition(self, column: str, text: str, *, prefix: bool, suffix: bool, params: Params) -> str:
        """``column`` contains (``prefix`` and ``suffix``), starts with or ends with ``text`` (non-empty)."""
        return self.literal_match(
            column, params.add(self.literal_pattern(text, prefix=prefix, suffix=suffix))
        )

    @abstractmethod
    def list_contains(self, column: str, elements: list[Any], params: Params) -> str:
        """``column`` (a JSON list) holds every one of ``elements`` (str, int, float, bool, None)."""

    @abstractmethod
    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        """The LIMIT/OFFSET clause."""

    @abstractmethod
    def auto_id_column(self) -> str:
        """Column definition of an auto-assigned integer primary key."""

    # --- writes whose strategy differs -------------------------------------------------------

    #: Appended to an upsert's RETURNING list when the backend can tell inserted from updated rows.
    upsert_inserted_column: ClassVar[str | None] = None

    #: Replication positions for read replicas (``_replication.Replication``); ``None``: the
    #: backend has no replicas (``DataFlow(read_replicas=...)`` is DF-810).
    replication: ClassVar[Replication | None] = None
    #: Row-level security for tenant-scoped tables; ``None``: ``tenant_rls=True`` is DF-814.
    row_security: ClassVar[RowSecurity | None] = None

    def sync_identity(self, table: str) -> str | None:
        """A statement that moves ``table``'s id sequence past explicitly inserted ids, if needed."""
        return None

    async def upsert(
        self, connection: Connection, upsert: Statement, probe: Statement | None, sync: str | None
    ) -> tuple[bool, Sequence[Any]]:
        """Run a single-row upsert; return ``(created, row)``.

        Backends without :attr:`upsert_inserted_column` get ``probe`` (a SELECT of the conflict key)
        and run it first, on the same connection, to report whether the row was new. The row is
        empty when the statement's ``DO UPDATE ... WHERE`` refused the existing row.
        """
        assert probe is not None
        probe_rows, rows = await connection.fetch_many([probe, upsert])
        return not probe_rows, rows[0] if rows else ()

    async def create_table(self, connection: Connection, ddl: TableDDL) -> None:
        """Run a table's idempotent DDL; safe when other connections create the same table at once."""
        for sql in ddl.statements:
            await connection.execute(sql)

    @abstractmethod
    async def describe_columns(self, connection: Connection, table: str) -> dict[str, str]:
        """The live table's columns and their types, in :attr:`column_types` spelling."""

    # --- pools and test databases -------------------------------------------------------------

    @abstractmethod
    def pool_source(self, url: DatabaseURL, settings: PoolSettings, *, test_mode: bool) -> PoolSource:
        """What creates this instance's pools, one per event loop."""

    def with_database_suffix(self, url: DatabaseURL, suffix: str) -> DatabaseURL:
        """``url`` with ``_<suffix>`` added to its database name (one database per xdist worker)."""
        return url.with_database(f"{url.database}_{suffix}")

    def ensure_database(self, url: DatabaseURL, admin: DatabaseURL) -> None:
        """Create ``url``'s database through ``admin`` unless it exists (blocking; test support)."""
        return None

    def drop_database(self, url: DatabaseURL, admin: DatabaseURL) -> None:
        """Remove a database :meth:`ensure_database` created (blocking; test support)."""
        return None

    @property
    @abstractmethod
    def test_databases(self) -> TestDatabases:
        """Clones, labels and lists the per-worker test databases (the pytest plugin's worker databases)."""

    # --- schema changes (migrations) ----------------------------------------------------------

    @property
    @abstractmethod
    def editor(self) -> SchemaEditor:
        """Reads a live schema and changes it (the DDL of migrations)."""

    #: The backend's change capture class (``_cdc_sqlite``, ``_cdc_postgres``), built with the backend.
    capture_class: ClassVar[type[ChangeCapture]]

    @functools.cached_property
    def change_capture(self) -> ChangeCapture:
        """Records a table's row changes for change feeds and reads them back in commit order."""
        return self.capture_class(self)


@dataclass(frozen=True)
class TableDDL:
    """A model's idempotent CREATE statements and the relations they create.

    Attributes:
        table: The table name (unquoted).
        statements: ``CREATE TABLE IF NOT EXISTS`` and ``CREATE INDEX IF NOT EXISTS`` statements.
        relations: The table's and the indexes' names (unquoted), to check that all exist.
    """

    table: str
    statements: tuple[str, ...]
    relations: tuple[str, ...]
    #: Each column's type as :meth:`Backend.describe_columns` reports it.
    columns: dict[str, str] = field(default_factory=dict)


def ddl_lock_key(table: str) -> int:
    """A stable signed 64-bit key for a table's DDL lock (the same in every process)."""
    return zlib.crc32(f"dataflow-ddl:{table}".encode()) - 2**31


class Connection(ABC):
    """One database connection, with driver errors translated to DataFlow errors."""

    backend: Backend
    #: Depth of open transactions: 0 none, 1 BEGIN, >1 savepoints.
    tx_depth: int = 0
    #: The loop this connection belongs to (``None`` if it can be used from any loop).
    loop: asyncio.AbstractEventLoop | None = None
    #: Handed to code that runs its own SQL (``db.connection()``): its session may have changed.
    exposed: bool = False

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Run a query; return its rows as sequences."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per parameter row."""

    async def fetch_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Sequence[Any]]]:
        """Run queries one after the other on this connection; return each one's rows."""
        return [await self.fetch(sql, params) for sql, params in statements]

    async def copy_records(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bool:
        """Bulk-load rows with the backend's fastest path; ``False`` if it has none."""
        return False

    @property
    def session(self) -> int | None:
        """The server's id of this session, when the database has sessions (PostgreSQL's pid)."""
        return None

    @abstractmethod
    def is_usable(self) -> bool:
        """False once the connection is known to be closed or broken."""


class PoolSource(ABC):
    """Creates the pools of one DataFlow instance (and owns what they share, if anything)."""

    @abstractmethod
    async def create(self, loop: asyncio.AbstractEventLoop) -> Pool:
        """A new pool for ``loop`` (the running loop)."""

    async def close_shared(self) -> bool:
        """Close what the pools share (an in-memory database); True when its data is gone."""
        return False

    def force_close_shared(self) -> None:
        """Like :meth:`close_shared` without an event loop (interpreter exit)."""
        return None

    @property
    def shared_open(self) -> bool:
        """True while a shared resource (an in-memory database) is open."""
        return False


class Pool(ABC):
    """Connections for one (event loop, URL) pair of one DataFlow instance."""

    loop: asyncio.AbstractEventLoop
    #: How log lines name the pool (``pool-3``).
    name: str = "pool"
    created_at: str = ""
    closed: bool = False

    @abstractmethod
    async def acquire(self) -> Connection:
        """Take a connection (DF-509 after the acquire timeout)."""

    @abstractmethod
    async def release(self, connection: Connection) -> None:
        """Give a connection back."""

    @abstractmethod
    async def close(self, timeout: float) -> None:
        """Close every connection, waiting up to ``timeout`` for in-flight work."""

    @abstractmethod
    def force_close(self) -> None:
        """Close without an event loop (the pool's loop is closed): free sockets and threads."""

    @property
    @abstractmethod
    def in_use(self) -> int:
        """Connections currently handed out."""


class SchemaEditor(ABC):
    """A backend's schema knowledge: column types and defaults, introspection, and the DDL that
    changes a live table. The concrete editors live in ``_dialects`` next to their backend.

    Every method that changes the schema runs on the connection it is given, inside the caller's
    transaction: a failure rolls back everything the migration revision did.
    """

    #: The tenant policies of ``enable_row_security()`` (``None``: the backend has none, DF-814).
    row_security: ClassVar[RowSecurity | None] = None

    @abstractmethod
    def sql_type(self, type_name: str) -> str:
        """The backend's column type for a field type name, or a database type name as given.

        Raises:
            UnsupportedMigrationOperationError: DF-904, for a type name that is neither.
        """

    @abstractmethod
    def same_type(self, a: str, b: str) -> bool:
        """Whether two type names give the same column type on this backend."""

    @abstractmethod
    def same_default(self, expected: Column, actual: Column) -> bool:
        """Whether an introspected column's default is the default ``expected`` asks for."""

    @abstractmethod
    def create_table_sql(self, table: Table, *, if_not_exists: bool = False) -> list[str]:
        """``CREATE TABLE`` for ``table`` and ``CREATE INDEX`` for its non-constraint indexes."""

    @abstractmethod
    async def introspect(self, connection: Connection, table: str | None = None) -> Schema:
        """Every table of the database (DataFlow's own migration table included), read live; only
        ``table`` when given."""

    @abstractmethod
    async def create_table(self, connection: Connection, table: Table) -> None:
        """Create a table with its unique constraints and indexes."""

    @abstractmethod
    async def drop_table(self, connection: Connection, name: str) -> None:
        """Drop a table and its indexes."""

    @abstractmethod
    async def add_column(self, connection: Connection, table: Table, column: Column, *, fill: object) -> None:
        """Add ``column`` to ``table``; existing rows get ``fill`` (when not ``NO_DEFAULT``) or the default."""

    @abstractmethod
    async def drop_column(self, connection: Connection, table: Table, name: str) -> None:
        """Drop a column, keeping every row and the other columns' data."""

    @abstractmethod
    async def alter_column(
        self, connection: Connection, table: Table, column: Column, *, using: str | None, fill: object
    ) -> None:
        """Give an existing column the type, nullability and default of ``column``.

        ``using`` is an SQL expression computing the new value from the old row (type changes);
        ``fill`` replaces NULLs before the column becomes NOT NULL.
        """

    @abstractmethod
    async def create_index(self, connection: Connection, table: Table, index: Index) -> None:
        """Create an index (a unique index when ``index.unique``)."""

    @abstractmethod
    async def drop_index(self, connection: Connection, table: Table, index: Index) -> None:
        """Drop an introspected index or unique constraint of ``table``."""

    @abstractmethod
    async def lock(self, connection: Connection) -> None:
        """Serialize migration runs of several processes (inside the revision's transaction)."""

    async def prepare(self, connection: Connection) -> object:
        """Connection settings a migration needs, set before its transaction; returns what to restore."""
        return None

    async def restore(self, connection: Connection, saved: object) -> None:
        """Undo :meth:`prepare` after the transaction."""
        return None

    @abstractmethod
    async def reset(self, connection: Connection) -> None:
        """Drop every table, view and index (a throwaway test database back to empty)."""

    #: Lists the current schema's tables, one name per row (the escaped-writes check).
    tables_sql: ClassVar[str]
    #: A per-row value that every committed insert or update makes larger than any before it.
    row_marker: ClassVar[str]

    def commit_probe(self, url: DatabaseURL) -> CommitProbe | None:
        """A new probe of whether anything committed on ``url`` (``None``: the backend has none)."""
        return None

    def isolation_watch(self, url: DatabaseURL, *, read_before: bool) -> IsolationWatch | None:
        """A check of escaped writes that runs on the isolation's own BEGIN and ROLLBACK (``None``: none)."""
        return None

    async def row_marks(self, connection: Connection) -> dict[str, tuple[int, int]]:
        """``{table: (row count, largest row marker)}`` for every table. Read on a connection outside a
        test's isolation, before and after it, this sees exactly the committed changes in between
        (the escaped-writes check, DF-702)."""
        tables = [str(row[0]) for row in await connection.fetch(self.tables_sql)]
        rows = await connection.fetch(self.marks_sql(tables)) if tables else []
        return {tables[int(i)]: (int(count), int(mark)) for i, count, mark in rows}

    def marks_sql(self, tables: Sequence[str]) -> str:
        """One statement: ``(position in tables, row count, largest marker)`` of each table."""
        return " UNION ALL ".join(
            f"SELECT {i}, count(*), coalesce(max({self.row_marker}), 0) FROM {quote_ident(name)}"
            for i, name in enumerate(tables)
        )

    async def rows_written_since(self, connection: Connection, table: str, mark: int) -> int:
        """Rows of ``table`` inserted or updated (and committed) since its marker was ``mark``."""
        rows = await connection.fetch(
            f"SELECT count(*) FROM {quote_ident(table)} WHERE {self.row_marker} > {int(mark)}"
        )
        return int(rows[0][0])
