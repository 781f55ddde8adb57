"""SQLite's schema editor: introspection through the ``PRAGMA`` table functions, and the table
rebuild for the changes ``ALTER TABLE`` cannot make.

SQLite's ``ALTER TABLE`` adds, drops and renames columns; it cannot change a column's type,
nullability or default, nor add or drop a constraint. For those, the editor follows the procedure
of the SQLite documentation ("Making Other Kinds Of Table Schema Changes"): inside the revision's
transaction it creates the new table, copies every row, drops the old table, renames the new one,
recreates the indexes, triggers and views, and runs ``PRAGMA foreign_key_check``. Foreign key
enforcement is switched off around the transaction (``prepare`` / ``restore``), as the procedure
requires, so dropping the old table never cascades.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any

from .._errors import ConstraintViolationError, DataFlowError, UnsupportedMigrationOperationError
from .._schema import NO_DEFAULT, SQL, Column, Index, Schema, Table, index_predicate
from .._url import DatabaseURL
from ._base import Backend, Connection, quote_ident
from ._commits import CommitProbe, SQLiteCommitProbe
from ._ddl import SQLEditor
from ._sqlite_isolation import MemoryIsolationWatch

if TYPE_CHECKING:
    import sqlite3

__all__ = ["SQLiteEditor"]

_ONE = "(?1 IS NULL OR m.name = ?1)"
_TABLES = (
    "SELECT m.name, m.sql FROM sqlite_master AS m WHERE m.type = 'table' "
    f"AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND {_ONE}"
)
_COLUMNS = (
    "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk FROM sqlite_master AS m "
    f"JOIN pragma_table_info(m.name) AS p WHERE m.type = 'table' AND {_ONE} ORDER BY m.name, p.cid"
)
_INDEXES = (
    "SELECT m.name, il.name, il.\"unique\", il.origin, il.partial, ii.name, "
    "(SELECT s.sql FROM sqlite_master AS s WHERE s.type = 'index' AND s.name = il.name) FROM sqlite_master AS m "
    "JOIN pragma_index_list(m.name) AS il JOIN pragma_index_info(il.name) AS ii "
    f"WHERE m.type = 'table' AND {_ONE} ORDER BY m.name, il.name, ii.seqno"
)
_FOREIGN_KEYS = (
    "SELECT m.name, fk.id, fk.\"table\", fk.\"from\", fk.\"to\", fk.on_update, fk.on_delete "
    f"FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name) AS fk WHERE m.type = 'table' AND {_ONE} "
    "ORDER BY m.name, fk.id, fk.seq"
)
#: Parts of a table definition that a rebuild from introspection would lose.
_NOT_REBUILDABLE = re.compile(
    r"\b(CHECK|GENERATED|COLLATE|AUTOINCREMENT)\b|\bWITHOUT\s+ROWID\b|\bAS\s*\(", re.IGNORECASE
)


def _predicate(index_sql: str | None) -> str:
    """The predicate of a partial index from its ``CREATE INDEX`` text ("" when it cannot be read)."""
    parts = re.split(r"\sWHERE\s", index_sql or "", flags=re.IGNORECASE)
    return index_predicate(parts[-1]) if len(parts) > 1 else ""


def _by_table(tables: list[str], marks: list[Any]) -> dict[str, tuple[int, int]]:
    """The rows of ``marks_sql(tables)`` as ``{table: (row count, largest marker)}``."""
    return {tables[int(i)]: (int(count), int(mark)) for i, count, mark in marks}


def _strip_quoted(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]", "''", sql)


class SQLiteEditor(SQLEditor):
    """Schema changes on SQLite (3.35+)."""

    tables_sql = (
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND sql NOT LIKE '%WITHOUT ROWID%' ORDER BY name"
    )
    #: An insert takes a rowid above every one in the table (an update keeps it: counts show deletes).
    row_marker = "rowid"

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        #: Per connection: the schema_version its table list was read at, the tables, their marks query.
        self._marks_queries: weakref.WeakKeyDictionary[Connection, tuple[int, list[str], str]] = (
            weakref.WeakKeyDictionary()
        )

    def commit_probe(self, url: DatabaseURL) -> CommitProbe | None:
        return None if url.is_memory else SQLiteCommitProbe(url.database)

    def isolation_watch(self, url: DatabaseURL, *, read_before: bool) -> MemoryIsolationWatch | None:
        """An in-memory database's check, on the isolation's own hops (files have a commit probe)."""
        return MemoryIsolationWatch(self, read_before=read_before) if url.is_memory else None

    def marks_now(self, raw: sqlite3.Connection) -> dict[str, tuple[int, int]]:
        """:meth:`row_marks` on the worker thread, on its ``sqlite3`` connection."""
        _, tables, _, marks = self._read_marks(raw)
        return _by_table(tables, marks) if tables else {}

    async def row_marks(self, connection: Connection) -> dict[str, tuple[int, int]]:
        """As the base class, in one hop to the worker thread instead of two.

        The escaped-writes check reads the marks before and after every test. The first read lists
        the tables and reads their marks in one function on the worker thread. The table list is kept
        per connection with the ``schema_version`` it was read at; each call runs the marks query and
        then reads ``schema_version`` again (after the marks: a table created in between shows up as a
        new version). Any schema change, or a marks query that fails, reads the list again.
        """
        known = self._marks_queries.get(connection)
        if known is not None:
            version, tables, sql = known
            try:
                marks, (current,) = await connection.fetch_many([(sql, ()), ("PRAGMA schema_version", ())])
            except DataFlowError:  # a table of the list was dropped
                pass
            else:
                if int(current[0]) == version:
                    return _by_table(tables, marks)
        run_step = getattr(connection, "run_step", None)  # an aiosqlite connection's
        if run_step is None:  # another kind of connection: the generic read, nothing kept
            return await super().row_marks(connection)
        version, tables, sql, marks = await run_step(self._read_marks)  # list, then marks: one hop
        if not tables:
            self._marks_queries.pop(connection, None)
            return {}
        self._marks_queries[connection] = (version, tables, sql)
        return _by_table(tables, marks)

    def _read_marks(self, raw: sqlite3.Connection) -> tuple[int, list[str], str, list[Any]]:
        """On the worker thread: ``schema_version``, the table list, its marks query and the marks."""
        version = int(raw.execute("PRAGMA schema_version").fetchone()[0])
        tables = [str(row[0]) for row in raw.execute(self.tables_sql)]
        if not tables:
            return version, tables, "", []
        sql = self.marks_sql(tables)
        return version, tables, sql, raw.execute(sql).fetchall()

    # --- introspection --------------------------------------------------------------------------

    async def introspect(self, connection: Connection, table: str | None = None) -> Schema:
        only = [table]
        tables, columns, indexes, fks = await connection.fetch_many(
            [(_TABLES, only), (_COLUMNS, only), (_INDEXES, only), (_FOREIGN_KEYS, only)]
        )
        cols: dict[str, list[Column]] = {}
        pk_count: dict[str, int] = {}
        for table, name, declared, notnull, default, pk in columns:
            kind = self.field_type(declared or "")
            cols.setdefault(table, []).append(
                Column(name, kind, nullable=not notnull and not pk, primary_key=bool(pk),
                       default=self.default_value(kind, default), default_sql=default)
            )
            pk_count[table] = pk_count.get(table, 0) + (1 if pk else 0)
        found: dict[str, dict[str, list[Any]]] = {}
        for table, index, unique, origin, partial, column, index_sql in indexes:
            where = _predicate(index_sql) if partial else None
            entry = found.setdefault(table, {}).setdefault(index, [bool(unique), origin, where, []])
            entry[3].append(column)
        constraints: dict[str, dict[int, list[Any]]] = {}
        for table, fk_id, parent, source, target, on_update, on_delete in fks:
            entry = constraints.setdefault(table, {}).setdefault(fk_id, [parent, [], [], on_update, on_delete])
            entry[1].append(source)
            entry[2].append(target)
        schema: Schema = {}
        for name, sql in tables:
            table_indexes = []
            special = False
            for index, (unique, origin, where, names) in sorted(found.get(name, {}).items()):
                if origin == "pk":
                    continue
                if where == "" or any(n is None for n in names):
                    special = True  # expression indexes and unreadable predicates: kept out of diffs
                    continue
                table_indexes.append(
                    Index(tuple(names), unique=unique, name=index, constraint=origin == "u", where=where)
                )
            schema[name] = Table(
                name,
                tuple(cols.get(name, ())),
                tuple(table_indexes),
                extra={
                    "sql": sql or "",
                    "constraints": [self._foreign_key(*fk) for fk in constraints.get(name, {}).values()],
                    "composite_pk": pk_count.get(name, 0) > 1,
                    "special_indexes": special,
                },
            )
        return schema

    @staticmethod
    def _foreign_key(parent: str, sources: list[str], targets: list[str | None], on_update: str, on_delete: str) -> str:
        refs = "" if any(t is None for t in targets) else f" ({', '.join(quote_ident(str(t)) for t in targets)})"
        sql = f"FOREIGN KEY ({', '.join(quote_ident(s) for s in sources)}) REFERENCES {quote_ident(parent)}{refs}"
        if on_update and on_update.upper() != "NO ACTION":
            sql += f" ON UPDATE {on_update}"
        if on_delete and on_delete.upper() != "NO ACTION":
            sql += f" ON DELETE {on_delete}"
        return sql

    # --- changes ALTER TABLE can make -------------------------------------------------------------

    async def add_column(self, connection: Connection, table: Table, column: Column, *, fill: object) -> None:
        native = fill is NO_DEFAULT and not isinstance(column.default, SQL) and (
            column.nullable or column.default is not NO_DEFAULT
        )
        if native:
            await connection.execute(
                f"ALTER TABLE {quote_ident(table.name)} ADD COLUMN {self.column_definition(column)}"
            )
            return
        value = fill if fill is not NO_DEFAULT else column.default
        expression = "NULL" if value is NO_DEFAULT else self.literal(column.type, value)
        select = {c.name: quote_ident(c.name) for c in table.columns}
        select[column.name] = expression
        new = Table(table.name, (*table.columns, column), table.indexes, table.extra)
        await self.rebuild(connection, table, new, select, f"add column {column.name}")

    async def drop_column(self, connection: Connection, table: Table, name: str) -> None:
        indexed = any(name in index.columns for index in table.indexes)
        referenced = any(f"({quote_ident(name)}" in fk for fk in table.extra.get("constraints", ()))
        if not indexed and not referenced:
            await connection.execute(f"ALTER TABLE {quote_ident(table.name)} DROP COLUMN {quote_ident(name)}")
            return
        # Like PostgreSQL, indexes over the dropped column go with it.
        new = Table(
            table.name,
            tuple(c for c in table.columns if c.name != name),
            tuple(i for i in table.indexes if name not in i.columns),
            table.extra,
        )
        await self.rebuild(connection, table, new, {c.name: quote_ident(c.name) for c in new.columns},
                           f"drop column {name}")

    # --- changes that need the rebuild ----------------------------------------------------------

    async def alter_column(
        self, connection: Connection, table: Table, column: Column, *, using: str | None, fill: object
    ) -> None:
        select = {c.name: quote_ident(c.name) for c in table.columns}
        expression = using or quote_ident(column.name)
        if fill is not NO_DEFAULT:
            expression = f"COALESCE({expression}, {self.literal(column.type, fill)})"
        select[column.name] = expression
        new = Table(
            table.name,
            tuple(column if c.name == column.name else c for c in table.columns),
            table.indexes,
            table.extra,
        )
        await self.rebuild(connection, table, new, select, f"alter column {column.name}")

    async def drop_index(self, connection: Connection, table: Table, index: Index) -> None:
        if not index.constraint:
            await connection.execute(f"DROP INDEX {quote_ident(index.name or '')}")
            return
        new = Table(table.name, table.columns, tuple(i for i in table.indexes if i is not index), table.extra)
        await self.rebuild(connection, table, new, {c.name: quote_ident(c.name) for c in table.columns},
                           f"drop the unique constraint on {', '.join(index.columns)}")

    async def rebuild(
        self, connection: Connection, table: Table, new: Table, select: dict[str, str], what: str
    ) -> None:
        """Replace ``table`` by ``new``, copying every row through ``select`` (new column -> SQL).

        Raises:
            UnsupportedMigrationOperationError: DF-904, when the table's definition has parts the
                rebuild cannot carry over.
            ConstraintViolationError: DF-303, when the copied rows break a foreign key.
        """
        blocker = _NOT_REBUILDABLE.search(_strip_quoted(table.extra.get("sql", "")))
        if blocker or table.extra.get("composite_pk") or table.extra.get("special_indexes"):
            reason = (
                f"its definition uses {blocker.group(0).strip()!r}" if blocker
                else "it has a composite primary key" if table.extra.get("composite_pk")
                else "it has partial or expression indexes"
            )
            raise UnsupportedMigrationOperationError(
                f"SQLite cannot {what} of table {table.name!r} in place, and DataFlow cannot rebuild the "
                f"table because {reason}, which a rebuild from the introspected schema would lose.",
                context={"table": table.name},
            )
        name = quote_ident(table.name)
        temporary = quote_ident(f"_dataflow_new_{table.name}")
        triggers = await connection.fetch(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", [table.name]
        )
        mentions = re.compile(rf"\b{re.escape(table.name)}\b", re.IGNORECASE)
        all_views = await connection.fetch("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
        views = [(view, sql) for view, sql in all_views if mentions.search(sql or "")]
        body = self.table_body(new)
        await connection.execute(f"CREATE TABLE {temporary} ({', '.join(body)})")
        columns = ", ".join(quote_ident(c.name) for c in new.columns)
        values = ", ".join(select[c.name] for c in new.columns)
        await connection.execute(f"INSERT INTO {temporary} ({columns}) SELECT {values} FROM {name}")
        for view, _sql in views:
            await connection.execute(f"DROP VIEW {quote_ident(view)}")
        await connection.execute(f"DROP TABLE {name}")
        await connection.execute(f"ALTER TABLE {temporary} RENAME TO {name}")
        for index in new.indexes:
            if not index.constraint:
                await connection.execute(self.create_index_sql(new.name, index))
        for (sql,) in triggers:
            await connection.execute(sql)
        for _view, sql in views:
            await connection.execute(sql)
        broken = await connection.fetch("PRAGMA foreign_key_check")
        if broken:
            first = broken[0]
            raise ConstraintViolationError(
                f"After rebuilding {table.name!r} ({what}), {len(broken)} row(s) break a foreign key: "
                f"table {first[0]!r} row {first[1]} references missing {first[2]!r}.",
                context={"table": table.name},
            )

    # --- runs, locks, resets --------------------------------------------------------------------

    async def lock(self, connection: Connection) -> None:
        return None  # BEGIN IMMEDIATE already gives the transaction the database's write lock

    async def prepare(self, connection: Connection) -> object:
        rows = await connection.fetch("PRAGMA foreign_keys")
        enabled = bool(rows and rows[0][0])
        if enabled:
            await connection.execute("PRAGMA foreign_keys = OFF")
        return enabled

    async def restore(self, connection: Connection, saved: object) -> None:
        if saved:
            await connection.execute("PRAGMA foreign_keys = ON")

    async def reset(self, connection: Connection) -> None:
        saved = await self.prepare(connection)
        try:
            for kind in ("view", "trigger", "table"):
                names = await connection.fetch(
                    "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", [kind]
                )
                for (name,) in names:
                    await connection.execute(f"DROP {kind.upper()} IF EXISTS {quote_ident(name)}")
        finally:
            await self.restore(connection, saved)
