"""What a database schema looks like, without any backend: tables, columns, indexes.

Both sides of a migration diff are described with these classes: the schema the models ask for
(:func:`model_table`) and the schema a backend reads from a live database (``Backend.editor``'s
``introspect``). Column types are DataFlow field type names (``"str"``, ``"int"``, ...) where the
backend can tell, else the database's own type name (``"character varying(20)"``). Defaults are
Python values, or :class:`SQL` for an expression the database evaluates (``now()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ._model import DELETED_AT, MISSING, ModelSpec
from ._types import FieldType, check_value

__all__ = [
    "FIELD_TYPES",
    "MIGRATIONS_TABLE",
    "NO_DEFAULT",
    "SQL",
    "Column",
    "Index",
    "Schema",
    "Table",
    "index_name",
    "index_predicate",
    "model_table",
]

#: The table that records applied revisions; never part of a diff.
MIGRATIONS_TABLE = "dataflow_migrations"

#: Field type names a migration may use, by name (``FieldType`` values).
FIELD_TYPES: dict[str, FieldType] = {kind.value: kind for kind in FieldType}


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False


#: A column without a default.
NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class SQL:
    """A default written as SQL, evaluated by the database (``SQL("now()")``); not portable."""

    text: str

    def __repr__(self) -> str:
        return f"SQL({self.text!r})"


@dataclass(frozen=True)
class Column:
    """One column.

    Attributes:
        name: The column name.
        type: A field type name (``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"datetime"``,
            ``"date"``, ``"Decimal"``, ``"json"``) or a database type name.
        nullable: Whether NULL is allowed.
        default: The column default: a Python value, :class:`SQL`, or :data:`NO_DEFAULT`.
        primary_key: The ``id`` column (auto-assigned when its type is ``"int"``).
        default_sql: The default exactly as the database reports it (introspected columns only).
    """

    name: str
    type: str
    nullable: bool = False
    default: Any = NO_DEFAULT
    primary_key: bool = False
    default_sql: str | None = field(default=None, compare=False)

    def without_default_sql(self) -> Column:
        """The same column, its default to be rendered from :attr:`default`."""
        return replace(self, default_sql=None)


@dataclass(frozen=True)
class Index:
    """An index or unique constraint over ``columns`` (never the primary key).

    Attributes:
        columns: The indexed columns, in order.
        unique: A unique index or constraint.
        name: Its name in the database (introspected), or the name to create it with.
        constraint: It backs a ``UNIQUE`` constraint of the table definition, not a
            ``CREATE INDEX`` (introspected indexes only).
        where: A partial index's predicate (``deleted_at IS NULL``), in the form
            :func:`index_predicate` gives; ``None`` for an index over every row.
    """

    columns: tuple[str, ...]
    unique: bool = False
    name: str | None = field(default=None, compare=False)
    constraint: bool = field(default=False, compare=False)
    where: str | None = None


@dataclass(frozen=True)
class Table:
    """A table: its columns in order and its indexes and unique constraints.

    Attributes:
        name: The table name.
        columns: The columns, in table order.
        indexes: Indexes and unique constraints (not the primary key).
        extra: Backend-specific details a rebuild must keep (foreign keys, the original SQL).
    """

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or ``None``."""
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def find_index(
        self, columns: tuple[str, ...], unique: bool, name: str | None = None, *, where: Any = ...
    ) -> Index | None:
        """The index over exactly ``columns`` with that uniqueness (and ``name`` and predicate
        ``where``, when given)."""
        for index in self.indexes:
            if (
                index.columns == columns
                and index.unique == unique
                and (name is None or index.name == name)
                and (where is ... or index.where == where)
            ):
                return index
        return None


#: A whole schema: tables by name.
Schema = dict[str, Table]


def index_name(table: str, columns: tuple[str, ...], unique: bool) -> str:
    """The name DataFlow gives an index: ``ix_<table>_<columns>`` (``uq_`` when unique)."""
    return f"{'uq' if unique else 'ix'}_{table}_{'_'.join(columns)}"


def index_predicate(text: str) -> str:
    """A partial index's predicate as both backends' introspection compares it: outer parentheses
    and identifier quotes removed, spaces collapsed (``("deleted_at" IS NULL)`` -> ``deleted_at IS NULL``)."""
    predicate = " ".join(text.replace('"', "").split())
    while predicate.startswith("(") and predicate.endswith(")") and _balanced(predicate[1:-1]):
        predicate = predicate[1:-1].strip()
    return predicate


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


#: The predicate of a soft delete model's unique indexes: deleted rows never conflict.
LIVE_ROWS = index_predicate(f"{DELETED_AT} IS NULL")


def model_table(spec: ModelSpec) -> Table:
    """The table a model asks for: its fields as columns, unique fields and groups, indexes.

    A field's literal default becomes the column default, so rows written by other programs get it
    too; a ``default_factory`` has no column default (it is computed in Python for each row).
    """
    columns = []
    for f in spec.fields.values():
        default = NO_DEFAULT
        if f.default is not MISSING and f.default is not None and f.default_factory is None:
            default = check_value(f.kind, f.default, field=f.name, model=spec.name)
        columns.append(
            Column(f.name, f.kind.value, nullable=f.nullable and not f.primary_key, default=default,
                   primary_key=f.primary_key)
        )
    unique = [(f.name,) for f in spec.fields.values() if f.unique] + list(spec.unique_together)
    plain = [(f.name,) for f in spec.fields.values() if f.index] + list(spec.indexes)
    if spec.soft_delete:  # unique among live rows only: a partial unique index (both backends have them)
        indexes = [
            Index(cols, unique=True, name=index_name(spec.table, cols, True), where=LIVE_ROWS) for cols in unique
        ]
    else:
        indexes = [Index(cols, unique=True, constraint=True) for cols in unique]
    indexes += [Index(cols, unique=False, name=index_name(spec.table, cols, False)) for cols in plain]
    extra = {"row_security": spec.tenant_field} if spec.row_security else {}
    return Table(spec.table, tuple(columns), tuple(indexes), extra)
