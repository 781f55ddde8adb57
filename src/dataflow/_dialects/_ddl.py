"""What both schema editors share: type names, default literals, CREATE statements.

A default is compared by value, not by text: PostgreSQL stores ``DEFAULT -5`` as ``'-5'::integer``
and a timestamp in its own format, SQLite keeps the text as written. :func:`default_token` reads
either form back to the literal, and the column's field type turns it into a Python value.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from .._errors import UnsupportedMigrationOperationError
from .._schema import FIELD_TYPES, NO_DEFAULT, SQL, Column, Index, Table, index_name
from .._types import FieldType
from ._base import Backend, Connection, SchemaEditor, quote_ident

__all__ = ["SQLEditor", "default_token"]

#: A database type name a migration may spell out (``VARCHAR(20)``, ``numeric(10, 2)``, ``text[]``).
_RAW_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])?$")
_CASTS = re.compile(r"^(::[A-Za-z_][A-Za-z0-9_ ]*(\([0-9, ]*\))?(\[\])?)*$")
_BARE = re.compile(r"^([+-]?[0-9][0-9.eE+-]*|[+-]?\.[0-9][0-9eE+-]*|true|false|null)((::.*)?)$", re.IGNORECASE)


def default_token(text: str) -> tuple[str, bool] | None:
    """The literal of a stored default: ``(text, quoted)``; ``None`` for an expression (``now()``)."""
    s = text.strip()
    while s.startswith("(") and s.endswith(")"):
        s = s[1:-1].strip()
    if s.startswith("'"):
        out: list[str] = []
        i = 1
        while i < len(s):
            if s[i] == "'":
                if s[i + 1 : i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                return ("".join(out), True) if _CASTS.match(s[i + 1 :]) else None
            out.append(s[i])
            i += 1
        return None
    m = _BARE.match(s)
    if m is None or not _CASTS.match(m.group(2)):
        return None
    return m.group(1), False


def _convert(kind: FieldType | None, raw: str, quoted: bool) -> Any:
    if kind is FieldType.STR or (kind is None and quoted):
        return raw
    if kind is FieldType.INT or (kind is None and re.fullmatch(r"[+-]?\d+", raw)):
        return int(raw)
    if kind is FieldType.FLOAT or kind is None:
        return float(raw)
    if kind is FieldType.BOOL:
        lowered = raw.lower()
        if lowered in ("1", "true", "t"):
            return True
        if lowered in ("0", "false", "f"):
            return False
        raise ValueError(raw)
    if kind is FieldType.DATETIME:
        value = datetime.fromisoformat(raw)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if kind is FieldType.DATE:
        return date.fromisoformat(raw)
    if kind is FieldType.DECIMAL:
        return Decimal(raw)
    return json.loads(raw)


def quote_literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class SQLEditor(SchemaEditor):
    """The shared part of the concrete editors (types, defaults, CREATE TABLE / INDEX)."""

    #: ``DEFAULT`` literals of booleans.
    true_literal: ClassVar[str] = "1"
    false_literal: ClassVar[str] = "0"
    #: Other spellings the database reports for DataFlow's column types.
    type_aliases: ClassVar[dict[str, FieldType]] = {}

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: Database type name (upper case) -> field type name; the first field type of a shared
        #: column type wins (SQLite's TEXT reads back as "str", INTEGER as "int").
        self._names: dict[str, str] = {}
        for kind, sql in backend.column_types.items():
            self._names.setdefault(sql.upper(), kind.value)
        for alias, kind in self.type_aliases.items():
            self._names.setdefault(alias.upper(), kind.value)

    # --- types ----------------------------------------------------------------------------------

    def sql_type(self, type_name: str) -> str:
        kind = FIELD_TYPES.get(type_name)
        if kind is not None:
            return self.backend.column_types[kind]
        if not isinstance(type_name, str) or not _RAW_TYPE.match(type_name):
            raise UnsupportedMigrationOperationError(
                f"{type_name!r} is neither a DataFlow field type ({', '.join(FIELD_TYPES)}) nor a database type name.",
                context={"type": type_name},
            )
        return type_name

    def same_type(self, a: str, b: str) -> bool:
        return self.sql_type(a).upper() == self.sql_type(b).upper()

    def field_type(self, database_type: str) -> str:
        """The field type name of a column type the backend reports (the type itself if none)."""
        return self._names.get(database_type.upper(), database_type)

    # --- defaults -------------------------------------------------------------------------------

    def literal(self, type_name: str, value: Any) -> str:
        """``value`` as an SQL literal for a column of ``type_name``."""
        if isinstance(value, SQL):
            return value.text
        kind = FIELD_TYPES.get(type_name)
        if kind is not None and kind in self.backend.to_db:
            value = self.backend.to_db[kind](value)
        if isinstance(value, bool):
            return self.true_literal if value else self.false_literal
        if isinstance(value, (int, float, Decimal)):
            return str(value)
        if isinstance(value, (datetime, date)):
            return quote_literal(value.isoformat())
        if isinstance(value, (dict, list)):
            return quote_literal(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        return quote_literal(str(value))

    def default_value(self, type_name: str, text: str | None) -> Any:
        """A stored default read back as a Python value (:class:`SQL` for an expression)."""
        if text is None:
            return NO_DEFAULT
        token = default_token(text)
        if token is None:
            return SQL(text)
        raw, quoted = token
        if not quoted and raw.lower() == "null":
            return NO_DEFAULT
        try:
            return _convert(FIELD_TYPES.get(type_name), raw, quoted)
        except (ValueError, ArithmeticError):
            return SQL(text)

    def same_default(self, expected: Column, actual: Column) -> bool:
        if actual.default_sql is None:
            return expected.default is NO_DEFAULT
        value = self.default_value(expected.type, actual.default_sql)
        if isinstance(expected.default, SQL) or isinstance(value, SQL):
            return isinstance(value, SQL) and isinstance(expected.default, SQL) and (
                value.text.strip().lower() == expected.default.text.strip().lower()
            )
        return bool(type(value) is type(expected.default) and value == expected.default)

    # --- CREATE statements ----------------------------------------------------------------------

    def column_definition(self, column: Column, *, inline_unique: bool = False) -> str:
        """A column of ``CREATE TABLE`` / ``ADD COLUMN``."""
        if column.primary_key:
            if column.type == FieldType.INT.value:
                return self.backend.auto_id_column()
            return f"{quote_ident(column.name)} {self.sql_type(column.type)} PRIMARY KEY"
        parts = [quote_ident(column.name), self.sql_type(column.type)]
        default = column.default_sql if column.default_sql is not None else (
            None if column.default is NO_DEFAULT else self.literal(column.type, column.default)
        )
        if default is not None:
            parts.append(f"DEFAULT {default}")
        if not column.nullable:
            parts.append("NOT NULL")
        if inline_unique:
            parts.append("UNIQUE")
        return " ".join(parts)

    def table_body(self, table: Table) -> list[str]:
        """Column definitions and table constraints (unique constraints, then ``extra`` ones)."""
        inline = {i.columns[0] for i in table.indexes if i.unique and i.constraint and len(i.columns) == 1}
        parts = [self.column_definition(c, inline_unique=c.name in inline) for c in table.columns]
        for index in table.indexes:
            if index.unique and index.constraint and len(index.columns) > 1:
                parts.append(f"UNIQUE ({', '.join(quote_ident(n) for n in index.columns)})")
        parts += list(table.extra.get("constraints", ()))
        return parts

    def create_index_sql(self, table: str, index: Index, *, if_not_exists: bool = False) -> str:
        """``CREATE [UNIQUE] INDEX``, named ``index.name`` or by DataFlow's convention."""
        name = index.name or index_name(table, index.columns, index.unique)
        return (
            f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {'IF NOT EXISTS ' if if_not_exists else ''}"
            f"{quote_ident(name)} ON {quote_ident(table)} ({', '.join(quote_ident(n) for n in index.columns)})"
            + (f" WHERE {index.where}" if index.where else "")
        )

    def create_table_sql(self, table: Table, *, if_not_exists: bool = False) -> list[str]:
        head = f"CREATE TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{quote_ident(table.name)}"
        statements = [f"{head} ({', '.join(self.table_body(table))})"]
        for index in table.indexes:
            if not index.constraint:
                statements.append(self.create_index_sql(table.name, index, if_not_exists=if_not_exists))
        return statements

    # --- DDL both backends spell the same way ---------------------------------------------------

    async def create_table(self, connection: Connection, table: Table) -> None:
        for sql in self.create_table_sql(table):
            await connection.execute(sql)

    async def drop_table(self, connection: Connection, name: str) -> None:
        await connection.execute(f"DROP TABLE {quote_ident(name)}")

    async def create_index(self, connection: Connection, table: Table, index: Index) -> None:
        await connection.execute(self.create_index_sql(table.name, index))
