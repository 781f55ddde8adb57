"""What every backend provides: SQL spelling (``SQLDialect``) and a connection/pool wrapper.

Drivers are imported lazily by the concrete modules, so ``import dataflow`` stays light.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from .._types import FieldType, FromDB, ToDB

__all__ = ["Connection", "Params", "Pool", "SQLDialect"]


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


class SQLDialect(ABC):
    """How a backend spells the SQL that differs between SQLite and PostgreSQL."""

    name: ClassVar[str]
    numbered_params: ClassVar[bool]
    column_types: ClassVar[dict[FieldType, str]]
    to_db: ClassVar[dict[FieldType, ToDB]]
    from_db: ClassVar[dict[FieldType, FromDB]]
    #: Appended to text comparisons and ORDER BY so both backends compare code points.
    text_collation: ClassVar[str] = ""

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
    def limit_offset(self, limit: str | None, offset: str | None) -> str:
        """The LIMIT/OFFSET clause."""

    @abstractmethod
    def auto_id_column(self) -> str:
        """Column definition of an auto-assigned integer primary key."""

    upsert_inserted_column: ClassVar[str | None] = None


class Connection(ABC):
    """One database connection, with driver errors translated to DataFlow errors."""

    dialect: SQLDialect
    #: Depth of open transactions: 0 none, 1 BEGIN, >1 savepoints.
    tx_depth: int = 0
    #: The loop this connection belongs to (``None`` if it can be used from any loop).
    loop: asyncio.AbstractEventLoop | None = None

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

    @abstractmethod
    def is_usable(self) -> bool:
        """False once the connection is known to be closed or broken."""


class Pool(ABC):
    """Connections for one (event loop, URL) pair of one DataFlow instance."""

    loop: asyncio.AbstractEventLoop
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
