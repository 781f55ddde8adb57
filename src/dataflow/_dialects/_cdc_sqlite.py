"""SQLite change capture: AFTER triggers write each row change into ``dataflow_changes``.

The triggers are shared by every feed of a table and list the table's columns (``json_object``), so
they are recreated when the columns change (``feed.refresh()``; a read finds stale or missing
triggers and raises DF-516). SQLite has one writer at a time, so the change table's AUTOINCREMENT id
is the commit order; a change's position is ``(id, 0)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .._types import FieldType
from ._base import FromDB, quote_ident
from ._capture import CapturedChange, ChangeCapture, SQLConnection

__all__ = ["SQLiteCapture"]

CHANGES = "dataflow_changes"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {quote_ident(CHANGES)} ("
    '"id" INTEGER PRIMARY KEY AUTOINCREMENT, "table_name" TEXT NOT NULL, "operation" TEXT NOT NULL, '
    '"new_row" TEXT, "old_row" TEXT)',
    f'CREATE INDEX IF NOT EXISTS "dataflow_changes_by_table" ON {quote_ident(CHANGES)} ("table_name", "id")',
)
_OPERATIONS = ("INSERT", "UPDATE", "DELETE")
#: json_object takes at most 127 arguments: longer rows are merged from chunks with json_patch.
_CHUNK = 60


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _trigger_name(table: str, operation: str) -> str:
    return f"dataflow_cdc_{table}_{operation.lower()}"


def _row_json(alias: str, columns: Sequence[str]) -> str:
    parts = [
        "json_object("
        + ", ".join(f"{_literal(c)}, {alias}.{quote_ident(c)}" for c in columns[i : i + _CHUNK])
        + ")"
        for i in range(0, len(columns), _CHUNK)
    ]
    expression = parts[0]
    for part in parts[1:]:
        expression = f"json_patch({expression}, {part})"
    return expression


def trigger_sql(table: str, operation: str, columns: Sequence[str]) -> str:
    """The CREATE TRIGGER statement that records ``operation`` on ``table`` with these columns."""
    new = _row_json("NEW", columns) if operation != "DELETE" else "NULL"
    old = _row_json("OLD", columns) if operation != "INSERT" else "NULL"
    return (
        f"CREATE TRIGGER {quote_ident(_trigger_name(table, operation))} AFTER {operation} ON {quote_ident(table)} "
        f'BEGIN INSERT INTO {quote_ident(CHANGES)} ("table_name", "operation", "new_row", "old_row") '
        f"VALUES ({_literal(table)}, '{operation}', {new}, {old}); END"
    )


async def _columns(connection: SQLConnection, table: str) -> list[str]:
    return [str(row[1]) for row in await connection.fetch(f"PRAGMA table_info({quote_ident(table)})")]


def _decoder(
    types: dict[str, FieldType], from_db: dict[FieldType, FromDB]
) -> Callable[[Any], dict[str, Any] | None]:
    """The function that turns a change row's JSON into the model's fields, typed (built once per read)."""
    names = tuple(types)
    converters = [(name, convert) for name, kind in types.items() if (convert := from_db.get(kind)) is not None]
    loads = json.loads

    def decode(text: Any) -> dict[str, Any] | None:
        if text is None:
            return None
        raw = loads(text)
        row = {name: raw.get(name) for name in names}
        for name, convert in converters:
            value = row[name]
            if value is not None:
                row[name] = convert(value)
        return row

    return decode


class SQLiteCapture(ChangeCapture):
    """Triggers into ``dataflow_changes``; positions ``(id, 0)``."""

    def __init__(self, backend: Any) -> None:
        super().__init__(backend)
        self.from_db: dict[FieldType, FromDB] = backend.from_db

    async def check(self, connection: SQLConnection) -> None:
        for statement in _DDL:
            await connection.execute(statement)

    async def install(self, connection: SQLConnection, table: str) -> None:
        if await self.outdated(connection, table) is None:
            return  # recreating would open a moment in which changes are not recorded
        columns = await _columns(connection, table)
        for operation in _OPERATIONS:
            await connection.execute(f"DROP TRIGGER IF EXISTS {quote_ident(_trigger_name(table, operation))}")
            await connection.execute(trigger_sql(table, operation, columns))

    async def uninstall(self, connection: SQLConnection, table: str) -> None:
        for operation in _OPERATIONS:
            await connection.execute(f"DROP TRIGGER IF EXISTS {quote_ident(_trigger_name(table, operation))}")
        await connection.execute(f'DELETE FROM {quote_ident(CHANGES)} WHERE "table_name" = ?', [table])

    async def outdated(self, connection: SQLConnection, table: str) -> str | None:
        columns = await _columns(connection, table)
        names = [_trigger_name(table, operation) for operation in _OPERATIONS]
        rows = await connection.fetch(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)", names
        )
        found = {str(name): str(sql) for name, sql in rows}
        for operation, name in zip(_OPERATIONS, names, strict=True):
            if name not in found:
                return f"the capture trigger {name!r} of table {table!r} is missing (a table rebuild drops triggers)"
            if found[name] != trigger_sql(table, operation, columns):
                return f"the capture trigger {name!r} lists other columns than table {table!r} has now"
        return None

    async def create_slot(self, connection: SQLConnection, feed: str) -> tuple[int, int] | None:
        rows = await connection.fetch(f'SELECT COALESCE(MAX("id"), 0) FROM {quote_ident(CHANGES)}')
        return (int(rows[0][0]), 0)

    async def drop_slot(self, connection: SQLConnection, feed: str) -> bool:
        return False  # a SQLite feed is its row in dataflow_change_feeds

    async def fetch(
        self,
        connection: SQLConnection,
        feed: str,
        table: str,
        after: tuple[int, int],
        operations: frozenset[str],
        types: dict[str, FieldType],
        limit: int,
    ) -> list[CapturedChange]:
        wanted = sorted(operations)
        rows = await connection.fetch(
            f'SELECT "id", "operation", "new_row", "old_row" FROM {quote_ident(CHANGES)} WHERE "table_name" = ? '
            f'AND "id" > ? AND "operation" IN ({", ".join("?" * len(wanted))}) ORDER BY "id" LIMIT ?',
            [table, after[0], *wanted, limit],
        )
        decode = _decoder(types, self.from_db)
        return [CapturedChange(int(row[0]), 0, str(row[1]), decode(row[2]), decode(row[3])) for row in rows]

    async def prune(self, connection: SQLConnection, table: str, upto: tuple[int, int]) -> None:
        await connection.execute(
            f'DELETE FROM {quote_ident(CHANGES)} WHERE "table_name" = ? AND "id" <= ?', [table, upto[0]]
        )

    async def retained_bytes(
        self, connection: SQLConnection, feed: str, table: str, after: tuple[int, int]
    ) -> int:
        rows = await connection.fetch(
            'SELECT COALESCE(SUM(COALESCE(length("new_row"), 0) + COALESCE(length("old_row"), 0) + 16), 0) '
            f'FROM {quote_ident(CHANGES)} WHERE "table_name" = ? AND "id" > ?',
            [table, after[0]],
        )
        return int(rows[0][0])

    async def orphans(self, connection: SQLConnection, feeds: Sequence[str]) -> dict[str, int]:
        return {}
