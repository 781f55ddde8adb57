"""PostgreSQL's schema editor: introspection through ``pg_catalog``, and ``ALTER TABLE``.

Only the current schema (``current_schema()``, normally ``public``) is read and changed. DDL is
transactional on PostgreSQL, so every change here rolls back with the revision that made it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .._schema import NO_DEFAULT, Column, Index, Schema, Table, index_predicate
from .._types import FieldType
from .._url import DatabaseURL
from ._base import Connection, ddl_lock_key, quote_ident
from ._commits import CommitProbe, PostgresCommitProbe
from ._ddl import SQLEditor
from ._row_security import POSTGRES_ROW_SECURITY

__all__ = ["PostgresEditor"]

_IN_SCHEMA = (
    "c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
    "AND ($1::text IS NULL OR c.relname = $1::text)"
)
_TABLES = f"SELECT c.relname FROM pg_class AS c WHERE {_IN_SCHEMA} ORDER BY c.relname"
_COLUMNS = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' FROM pg_attribute AS a "
    "JOIN pg_class AS c ON c.oid = a.attrelid "
    "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    f"WHERE {_IN_SCHEMA} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
)
_INDEXES = (
    "SELECT c.relname, i.relname, x.indisunique, x.indisprimary, con.conname IS NOT NULL, "
    "x.indexprs IS NOT NULL, pg_get_expr(x.indpred, x.indrelid), "
    "ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
    "JOIN pg_attribute AS a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n) "
    "FROM pg_index AS x JOIN pg_class AS c ON c.oid = x.indrelid JOIN pg_class AS i ON i.oid = x.indexrelid "
    "LEFT JOIN pg_constraint AS con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid "
    f"AND con.contype IN ('u', 'p') WHERE {_IN_SCHEMA} ORDER BY c.relname, i.relname"
)
_RESET = (
    "SELECT c.relkind::text, c.relname FROM pg_class AS c WHERE c.relnamespace = current_schema()::regnamespace "
    "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY c.relkind = 'S', c.relname"
)
_DROP = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}


class PostgresEditor(SQLEditor):
    row_security = POSTGRES_ROW_SECURITY
    """Schema changes on PostgreSQL."""

    tables_sql = (
        "SELECT c.relname FROM pg_class AS c WHERE c.relnamespace = current_schema()::regnamespace "
        "AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    #: The id of the transaction that wrote the row version: inserts and updates raise it.
    row_marker = "xmin::text::bigint"

    def commit_probe(self, url: DatabaseURL) -> CommitProbe:
        return PostgresCommitProbe()

    true_literal: ClassVar[str] = "true"
    false_literal: ClassVar[str] = "false"
    type_aliases: ClassVar[dict[str, FieldType]] = {
        "timestamp with time zone": FieldType.DATETIME,
        "int8": FieldType.INT,
        "float8": FieldType.FLOAT,
        "bool": FieldType.BOOL,
    }

    async def introspect(self, connection: Connection, table: str | None = None) -> Schema:
        only = [table]
        tables, columns, indexes = await connection.fetch_many([(_TABLES, only), (_COLUMNS, only), (_INDEXES, only)])
        primary: dict[str, set[str]] = {}
        found: dict[str, list[Index]] = {}
        special: set[str] = set()
        for table, index, unique, is_primary, is_constraint, is_special, predicate, names in indexes:
            if is_primary:
                primary[table] = set(names)
            elif is_special:
                special.add(table)
            else:
                found.setdefault(table, []).append(
                    Index(tuple(names), unique=bool(unique), name=index, constraint=bool(is_constraint),
                          where=None if predicate is None else index_predicate(predicate))
                )
        cols: dict[str, list[Column]] = {}
        for table, name, database_type, notnull, default, identity in columns:
            kind = self.field_type(database_type)
            is_pk = name in primary.get(table, ())
            value: Any = NO_DEFAULT if identity else self.default_value(kind, default)
            cols.setdefault(table, []).append(
                Column(name, kind, nullable=not notnull, default=value, primary_key=is_pk,
                       default_sql=None if identity else default)
            )
        return {
            name: Table(name, tuple(cols.get(name, ())), tuple(found.get(name, ())),
                        extra={"composite_pk": len(primary.get(name, ())) > 1, "special_indexes": name in special})
            for (name,) in tables
        }

    async def add_column(self, connection: Connection, table: Table, column: Column, *, fill: object) -> None:
        alter = f"ALTER TABLE {quote_ident(table.name)}"
        if fill is NO_DEFAULT:
            await connection.execute(f"{alter} ADD COLUMN {self.column_definition(column)}")
            return
        # Existing rows get the fill value through a temporary default, then the real default is set.
        temporary = Column(column.name, column.type, nullable=column.nullable, default=fill)
        await connection.execute(f"{alter} ADD COLUMN {self.column_definition(temporary)}")
        await self._set_default(connection, table.name, column)

    async def drop_column(self, connection: Connection, table: Table, name: str) -> None:
        await connection.execute(f"ALTER TABLE {quote_ident(table.name)} DROP COLUMN {quote_ident(name)}")

    async def alter_column(
        self, connection: Connection, table: Table, column: Column, *, using: str | None, fill: object
    ) -> None:
        old = table.column(column.name)
        assert old is not None
        alter = f"ALTER TABLE {quote_ident(table.name)} ALTER COLUMN {quote_ident(column.name)}"
        new_type = self.sql_type(column.type)
        retype = using is not None or not self.same_type(old.type, column.type)
        if retype:
            if old.default_sql is not None:  # the old default may not convert to the new type
                await connection.execute(f"{alter} DROP DEFAULT")
            expression = using or f"{quote_ident(column.name)}::{new_type}"
            await connection.execute(f"{alter} TYPE {new_type} USING ({expression})")
        if retype or not self.same_default(column, old):
            await self._set_default(connection, table.name, column)
        if fill is not NO_DEFAULT:
            await connection.execute(
                f"UPDATE {quote_ident(table.name)} SET {quote_ident(column.name)} = "
                f"{self.literal(column.type, fill)} WHERE {quote_ident(column.name)} IS NULL"
            )
        if column.nullable != old.nullable:
            await connection.execute(f"{alter} {'DROP' if column.nullable else 'SET'} NOT NULL")

    async def _set_default(self, connection: Connection, table: str, column: Column) -> None:
        alter = f"ALTER TABLE {quote_ident(table)} ALTER COLUMN {quote_ident(column.name)}"
        if column.default is NO_DEFAULT:
            await connection.execute(f"{alter} DROP DEFAULT")
        else:
            await connection.execute(f"{alter} SET DEFAULT {self.literal(column.type, column.default)}")

    async def drop_index(self, connection: Connection, table: Table, index: Index) -> None:
        if index.constraint:
            await connection.execute(
                f"ALTER TABLE {quote_ident(table.name)} DROP CONSTRAINT {quote_ident(index.name or '')}"
            )
        else:
            await connection.execute(f"DROP INDEX {quote_ident(index.name or '')}")

    async def lock(self, connection: Connection) -> None:
        await connection.execute(f"SELECT pg_advisory_xact_lock({ddl_lock_key('dataflow_migrations')})")

    async def reset(self, connection: Connection) -> None:
        by_kind: dict[str, list[str]] = {}
        for kind, name in await connection.fetch(_RESET):
            by_kind.setdefault(_DROP[kind], []).append(quote_ident(name))
        for kind in ("VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE", "TABLE", "SEQUENCE"):
            if by_kind.get(kind):
                await connection.execute(f"DROP {kind} IF EXISTS {', '.join(by_kind[kind])} CASCADE")
