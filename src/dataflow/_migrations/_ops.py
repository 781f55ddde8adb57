"""The operations of a migration revision: what ``upgrade`` and ``downgrade`` list.

A revision file builds them with the functions at the bottom (``add_column(...)``, ...), which is
also how the generator writes them, so a generated file reads like a hand-written one. Each
operation can say what it does (:meth:`Operation.describe`), write itself back as Python
(:meth:`Operation.source`), check what no backend can do before anything runs
(:meth:`Operation.check`) and run on a connection inside the revision's transaction.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._dialects import Connection, SchemaEditor
from .._errors import UnsupportedMigrationOperationError
from .._schema import NO_DEFAULT, Column, Index, Schema, Table, index_predicate

__all__ = [
    "UNCHANGED",
    "AddColumn",
    "AlterColumn",
    "CreateIndex",
    "CreateTable",
    "DropColumn",
    "DropIndex",
    "DropTable",
    "Execute",
    "Operation",
    "Step",
    "add_column",
    "alter_column",
    "column",
    "create_index",
    "create_table",
    "drop_column",
    "drop_index",
    "drop_table",
    "execute",
    "literal",
]


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: ``alter_column`` leaves this attribute as it is.
UNCHANGED: Any = _Unchanged()


class Step:
    """Where an operation runs: the revision's connection, the backend's editor, the live schema."""

    def __init__(self, connection: Connection, editor: SchemaEditor) -> None:
        self.connection = connection
        self.editor = editor
        self._tables: Schema = {}

    async def table(self, name: str) -> Table:
        """The live table ``name`` (read once per operation)."""
        table = self._tables.get(name)
        if table is None:
            table = (await self.editor.introspect(self.connection, name)).get(name)
            if table is None:
                raise LookupError(f"table {name!r} does not exist")
            self._tables[name] = table
        return table

    def changed(self) -> None:
        """The schema changed: read it again before the next operation uses it."""
        self._tables.clear()


def literal(value: Any) -> str:
    """``value`` as Python source, strings in double quotes (as formatters write them)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _args(*positional: Any, **keywords: Any) -> str:
    parts = [literal(p) for p in positional]
    parts += [f"{k}={literal(v)}" for k, v in keywords.items() if v is not UNCHANGED]
    return ", ".join(parts)


def _column_keywords(c: Column) -> dict[str, Any]:
    keywords: dict[str, Any] = {}
    if c.primary_key:
        keywords["primary_key"] = True
    if c.nullable:
        keywords["nullable"] = True
    if c.default is not NO_DEFAULT:
        keywords["default"] = c.default
    return keywords


class Operation(ABC):
    """One step of a revision."""

    #: The table the operation changes (``None`` for :class:`Execute`).
    table: str | None

    @abstractmethod
    def source(self) -> str:
        """The operation as Python, as a revision file lists it."""

    def describe(self) -> str:
        """One line saying what the operation does (used in messages and the CLI)."""
        return self.source()

    def check(self, editor: SchemaEditor) -> None:
        """Raise DF-904 for what the backend cannot do, before any operation of the run starts."""
        return None

    @abstractmethod
    async def run(self, step: Step) -> None:
        """Carry the operation out on ``step.connection``."""


def _no_primary_key(what: str, table: str, name: str) -> None:
    if name == "id":
        raise UnsupportedMigrationOperationError(
            f"{what} {table}.id: the primary key cannot be changed or dropped by a migration operation.",
            context={"table": table, "column": name},
        )


@dataclass(frozen=True)
class CreateTable(Operation):
    """Create a table with its columns and unique constraints (indexes are separate operations)."""

    table: str
    columns: tuple[Column, ...]
    unique: tuple[tuple[str, ...], ...] = ()

    def source(self) -> str:
        lines = [f"create_table(\n        {literal(self.table)},\n        columns=["]
        for c in self.columns:
            lines.append(f"            column({_args(c.name, c.type, **_column_keywords(c))}),")
        lines.append("        ],")
        if self.unique:
            lines.append(f"        unique={literal([tuple(u) for u in self.unique])},")
        lines.append("    )")
        return "\n".join(lines)

    def describe(self) -> str:
        return f"create_table({literal(self.table)}, columns=[{', '.join(literal(c.name) for c in self.columns)}])"

    def check(self, editor: SchemaEditor) -> None:
        for c in self.columns:
            editor.sql_type(c.type)

    def as_table(self) -> Table:
        """The table this operation creates."""
        indexes = tuple(Index(tuple(u), unique=True, constraint=True) for u in self.unique)
        return Table(self.table, self.columns, indexes)

    async def run(self, step: Step) -> None:
        await step.editor.create_table(step.connection, self.as_table())


@dataclass(frozen=True)
class DropTable(Operation):
    """Drop a table with its indexes and rows."""

    table: str

    def source(self) -> str:
        return f"drop_table({literal(self.table)})"

    async def run(self, step: Step) -> None:
        await step.editor.drop_table(step.connection, self.table)


@dataclass(frozen=True)
class AddColumn(Operation):
    """Add a column; rows that exist get ``fill`` if given, else the default (else NULL)."""

    table: str
    column: Column
    fill: Any = NO_DEFAULT

    def source(self) -> str:
        c = self.column
        keywords = _column_keywords(c)
        if self.fill is not NO_DEFAULT:
            keywords["fill"] = self.fill
        return f"add_column({_args(self.table, c.name, c.type, **keywords)})"

    def check(self, editor: SchemaEditor) -> None:
        _no_primary_key("add_column", self.table, self.column.name)
        editor.sql_type(self.column.type)

    async def run(self, step: Step) -> None:
        await step.editor.add_column(step.connection, await step.table(self.table), self.column, fill=self.fill)


@dataclass(frozen=True)
class DropColumn(Operation):
    """Drop a column (indexes over it go with it); the other columns keep their data."""

    table: str
    name: str

    def source(self) -> str:
        return f"drop_column({_args(self.table, self.name)})"

    def check(self, editor: SchemaEditor) -> None:
        _no_primary_key("drop_column", self.table, self.name)

    async def run(self, step: Step) -> None:
        table = await step.table(self.table)
        if table.column(self.name) is None:
            raise LookupError(f"table {self.table!r} has no column {self.name!r}")
        await step.editor.drop_column(step.connection, table, self.name)


@dataclass(frozen=True)
class AlterColumn(Operation):
    """Change a column's type, nullability or default; :data:`UNCHANGED` keeps an attribute."""

    table: str
    name: str
    type: Any = UNCHANGED
    nullable: Any = UNCHANGED
    default: Any = UNCHANGED
    using: str | None = None
    fill: Any = NO_DEFAULT

    def source(self) -> str:
        extra: dict[str, Any] = {}
        if self.using is not None:
            extra["using"] = self.using
        if self.fill is not NO_DEFAULT:
            extra["fill"] = self.fill
        args = _args(self.table, self.name, type=self.type, nullable=self.nullable, default=self.default, **extra)
        return f"alter_column({args})"

    def check(self, editor: SchemaEditor) -> None:
        _no_primary_key("alter_column", self.table, self.name)
        if self.type is not UNCHANGED:
            editor.sql_type(self.type)

    def applied_to(self, old: Column) -> Column:
        """``old`` with this operation's changes."""
        return replace(
            old,
            type=old.type if self.type is UNCHANGED else self.type,
            nullable=old.nullable if self.nullable is UNCHANGED else bool(self.nullable),
            default=old.default if self.default is UNCHANGED else self.default,
            default_sql=old.default_sql if self.default is UNCHANGED and self.type is UNCHANGED else None,
        )

    async def run(self, step: Step) -> None:
        table = await step.table(self.table)
        old = table.column(self.name)
        if old is None:
            raise LookupError(f"table {self.table!r} has no column {self.name!r}")
        await step.editor.alter_column(
            step.connection, table, self.applied_to(old), using=self.using, fill=self.fill
        )


def _index_source(
    call: str, table: str, columns: tuple[str, ...], unique: bool, name: str | None, where: str | None = None
) -> str:
    """``create_index(...)`` / ``drop_index(...)`` as a revision file writes it (defaults left out)."""
    keywords: dict[str, Any] = {}
    if unique:
        keywords["unique"] = True
    if name is not None:
        keywords["name"] = name
    if where is not None:
        keywords["where"] = where
    return f"{call}({_args(table, list(columns), **keywords)})"


@dataclass(frozen=True)
class CreateIndex(Operation):
    """Create an index, or a unique index (which upserts accept as a ``conflict_on``)."""

    table: str
    columns: tuple[str, ...]
    unique: bool = False
    name: str | None = None
    #: A partial index's predicate (a soft delete model's unique fields: ``deleted_at IS NULL``).
    where: str | None = None

    def source(self) -> str:
        return _index_source("create_index", self.table, self.columns, self.unique, self.name, self.where)

    async def run(self, step: Step) -> None:
        table = Table(self.table, ())
        index = Index(self.columns, self.unique, self.name, where=self.where)
        await step.editor.create_index(step.connection, table, index)


@dataclass(frozen=True)
class DropIndex(Operation):
    """Drop the index or unique constraint over ``columns`` (``name`` picks one of several)."""

    table: str
    columns: tuple[str, ...]
    unique: bool = False
    name: str | None = None

    def source(self) -> str:
        return _index_source("drop_index", self.table, self.columns, self.unique, self.name)

    async def run(self, step: Step) -> None:
        table = await step.table(self.table)
        index = table.find_index(self.columns, self.unique, self.name)
        if index is None:
            kind = "unique index" if self.unique else "index"
            raise LookupError(f"table {self.table!r} has no {kind} on {list(self.columns)}")
        await step.editor.drop_index(step.connection, table, index)


@dataclass(frozen=True)
class Execute(Operation):
    """Run one SQL statement of your own (data changes, renames, anything the others do not cover)."""

    sql: str
    table: str | None = field(default=None, compare=False)

    def source(self) -> str:
        return f"execute({literal(self.sql)})"

    async def run(self, step: Step) -> None:
        await step.connection.execute(self.sql)


# --- the functions revision files call ---------------------------------------------------------


def column(
    name: str, type: str, *, nullable: bool = False, default: Any = NO_DEFAULT, primary_key: bool = False
) -> Column:
    """A column of :func:`create_table`. ``type`` is a field type name or a database type."""
    return Column(name, type, nullable=nullable, default=default, primary_key=primary_key)


def create_table(name: str, columns: Iterable[Column], *, unique: Iterable[Sequence[str]] = ()) -> CreateTable:
    """Create table ``name`` with ``columns`` and unique constraints over the ``unique`` column groups."""
    return CreateTable(name, tuple(columns), tuple(tuple(u) for u in unique))


def drop_table(name: str) -> DropTable:
    """Drop table ``name`` (its rows are lost)."""
    return DropTable(name)


def add_column(
    table: str, name: str, type: str, *, nullable: bool = False, default: Any = NO_DEFAULT, fill: Any = NO_DEFAULT
) -> AddColumn:
    """Add a column. Rows that exist get ``fill`` when given, else ``default``.

    A NOT NULL column needs a ``default`` or a ``fill`` when the table has rows.
    """
    return AddColumn(table, Column(name, type, nullable=nullable, default=default), fill)


def drop_column(table: str, name: str) -> DropColumn:
    """Drop a column and its data."""
    return DropColumn(table, name)


def alter_column(
    table: str,
    name: str,
    *,
    type: Any = UNCHANGED,
    nullable: Any = UNCHANGED,
    default: Any = UNCHANGED,
    using: str | None = None,
    fill: Any = NO_DEFAULT,
) -> AlterColumn:
    """Change a column. ``default=NO_DEFAULT`` removes its default; ``using`` is an SQL expression
    computing the new value (type changes); ``fill`` replaces NULLs first (``nullable=False``)."""
    return AlterColumn(table, name, type, nullable, default, using, fill)


def create_index(
    table: str, columns: Sequence[str], *, unique: bool = False, name: str | None = None, where: str | None = None
) -> CreateIndex:
    """Create an index over ``columns`` (named ``ix_<table>_<columns>``, ``uq_`` when unique);
    ``where``: a partial index over the rows that match it (``"deleted_at IS NULL"``).

    Autogenerate compares ``where`` with the predicate the database reports, quotes and outer
    parentheses aside: ``IS NULL`` / ``IS NOT NULL`` tests read back as written on both backends,
    while PostgreSQL adds casts to literals (``status = 'open'::text``).
    """
    return CreateIndex(table, tuple(columns), unique, name, None if where is None else index_predicate(where))


def drop_index(table: str, columns: Sequence[str], *, unique: bool = False, name: str | None = None) -> DropIndex:
    """Drop the index (or unique constraint, with ``unique=True``) over ``columns``."""
    return DropIndex(table, tuple(columns), unique, name)


def execute(sql: str) -> Execute:
    """Run one SQL statement as it is (it is not translated between backends)."""
    return Execute(sql)
