"""Autogenerate: the operations that turn a live schema into the one the models ask for.

Like Alembic's autogenerate, the diff compares two schemas and never guesses intent. A column
that disappears while another of the same type appears is *reported* as a possible rename (a
comment in the generated file); the operations still drop one and add the other, so the file does
what the diff says until a person edits it.

Each upgrade operation is paired with what undoes it; the downgrade is those undo operations in
reverse order. Where the live database cannot tell a column's field type (SQLite stores ``str``,
``datetime``, ``Decimal`` and ``json`` all as ``TEXT``), the types the revision files declared
(:func:`declared_schema`) are used for the downgrade, so it recreates what the history created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .._dialects import SchemaEditor, quote_ident
from .._model import ModelSpec
from .._schema import MIGRATIONS_TABLE, NO_DEFAULT, Column, Index, Schema, Table, model_table
from ._ops import UNCHANGED as UNSET
from ._ops import (
    AddColumn,
    AlterColumn,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropIndex,
    DropTable,
    Operation,
)
from ._row_security import EnableRowSecurity

__all__ = ["MigrationPlan", "declared_schema", "diff", "models_schema"]


@dataclass
class MigrationPlan:
    """What autogenerate found.

    Attributes:
        upgrade: Operations that bring the database to the models.
        downgrade: Operations that undo them, in order.
        notes: Comments for the revision file: possible renames, steps that need a person.
    """

    upgrade: list[Operation] = field(default_factory=list)
    downgrade: list[Operation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upgrade or self.notes)

    def describe(self) -> list[str]:
        """One line per upgrade operation and per note."""
        return [op.describe() for op in self.upgrade] + [f"note: {n}" for n in self.notes]


def models_schema(models: Iterable[ModelSpec]) -> Schema:
    """The schema the models ask for."""
    return {spec.table: model_table(spec) for spec in models}


def declared_schema(upgrades: Iterable[Iterable[Operation]]) -> Schema:
    """The schema the revision files describe, from their upgrade operations in history order.

    ``execute()`` statements are not understood and change nothing here.
    """
    schema: Schema = {}
    for operations in upgrades:
        for op in operations:
            table = schema.get(op.table) if op.table else None
            if isinstance(op, CreateTable):
                schema[op.table] = op.as_table()
            elif isinstance(op, DropTable):
                schema.pop(op.table, None)
            elif table is None:
                continue
            elif isinstance(op, AddColumn):
                schema[table.name] = replace(table, columns=(*table.columns, op.column))
            elif isinstance(op, DropColumn):
                schema[table.name] = replace(
                    table,
                    columns=tuple(c for c in table.columns if c.name != op.name),
                    indexes=tuple(i for i in table.indexes if op.name not in i.columns),
                )
            elif isinstance(op, AlterColumn):
                schema[table.name] = replace(
                    table, columns=tuple(op.applied_to(c) if c.name == op.name else c for c in table.columns)
                )
            elif isinstance(op, CreateIndex):
                index = Index(op.columns, op.unique, op.name, where=op.where)
                schema[table.name] = replace(table, indexes=(*table.indexes, index))
            elif isinstance(op, DropIndex):
                kept = tuple(i for i in table.indexes if (i.columns, i.unique) != (op.columns, op.unique))
                schema[table.name] = replace(table, indexes=kept)
    return schema


class _Differ:
    def __init__(self, editor: SchemaEditor, declared: Schema) -> None:
        self.editor = editor
        self.declared = declared
        self.pairs: list[tuple[Operation | None, list[Operation]]] = []
        self.notes: list[str] = []

    def pair(self, up: Operation | None, *down: Operation) -> None:
        self.pairs.append((up, list(down)))

    def known(self, table: str, actual: Column) -> Column:
        """``actual`` with the field type and default the history declared, when they agree."""
        declared_table = self.declared.get(table)
        declared = declared_table.column(actual.name) if declared_table else None
        if declared is None or not self.editor.same_type(declared.type, actual.type):
            return actual.without_default_sql()
        default = declared.default if self.editor.same_default(declared, actual) else actual.default
        return replace(actual, type=declared.type, default=default, default_sql=None)

    def new_table(self, table: Table) -> None:
        uniques = tuple(i.columns for i in table.indexes if i.unique and i.constraint)
        self.pair(CreateTable(table.name, table.columns, uniques), DropTable(table.name))
        if table.extra.get("row_security"):  # tenant_rls=True: the policy with the table
            self.pair(EnableRowSecurity(table.name, table.extra["row_security"]))
        for index in table.indexes:
            if not index.constraint:
                self.pair(CreateIndex(table.name, index.columns, index.unique, index.name, index.where))

    def removed_table(self, table: Table) -> list[Operation]:
        columns = tuple(self.known(table.name, c) for c in table.columns)
        uniques = tuple(i.columns for i in table.indexes if i.unique and i.constraint)
        restore: list[Operation] = [CreateTable(table.name, columns, uniques)]
        restore += [
            CreateIndex(table.name, i.columns, i.unique, i.name, i.where) for i in table.indexes if not i.constraint
        ]
        return restore

    def table(self, expected: Table, actual: Table) -> None:
        name = expected.name
        removed_indexes = [
            i for i in actual.indexes if expected.find_index(i.columns, i.unique, where=i.where) is None
        ]
        added_indexes = [
            i for i in expected.indexes if actual.find_index(i.columns, i.unique, where=i.where) is None
        ]
        for index in removed_indexes:
            self.pair(DropIndex(name, index.columns, index.unique),
                      CreateIndex(name, index.columns, index.unique, None if index.constraint else index.name,
                                  index.where))
        added = [c for c in expected.columns if actual.column(c.name) is None]
        dropped = [c for c in actual.columns if expected.column(c.name) is None]
        for c in added:
            self.pair(AddColumn(name, c), DropColumn(name, c.name))
            if not c.nullable and c.default is NO_DEFAULT:
                self.notes.append(
                    f"{name}.{c.name} is NOT NULL without a default: adding it fails on a table with rows. "
                    "Give the field a default, or add fill=<value> to its add_column()."
                )
        for c in expected.columns:
            old = actual.column(c.name)
            if old is not None:
                self.column(name, c, old)
        for c in dropped:
            old = self.known(name, c)
            self.pair(DropColumn(name, c.name), AddColumn(name, old))
            if not old.nullable and old.default is NO_DEFAULT:
                self.notes.append(
                    f"The downgrade adds {name}.{c.name} back as NOT NULL without a default, which fails when "
                    "the table has rows: add fill=<value> to that add_column()."
                )
        for index in added_indexes:
            self.pair(CreateIndex(name, index.columns, index.unique, index.name, index.where),
                      DropIndex(name, index.columns, index.unique))
        self.renames(name, added, dropped)

    def column(self, table: str, expected: Column, actual: Column) -> None:
        editor = self.editor
        if expected.primary_key or actual.primary_key:
            if expected.primary_key != actual.primary_key or not editor.same_type(expected.type, actual.type):
                self.notes.append(
                    f"{table}.{expected.name}: the primary key differs from the model; a migration operation cannot "
                    "change it. Write the change with execute(...) (create a new table, copy, rename)."
                )
            return
        old = self.known(table, actual)
        retype = not editor.same_type(expected.type, actual.type)
        renull = expected.nullable != actual.nullable
        redefault = not editor.same_default(expected, actual)
        if not (retype or renull or redefault):
            return
        up = AlterColumn(
            table, expected.name,
            type=expected.type if retype else UNSET,
            nullable=expected.nullable if renull else UNSET,
            default=expected.default if redefault or retype else UNSET,
            fill=expected.default if renull and not expected.nullable else NO_DEFAULT,
        )
        down = AlterColumn(
            table, expected.name,
            type=old.type if retype else UNSET,
            nullable=old.nullable if renull else UNSET,
            default=old.default if redefault or retype else UNSET,
            fill=old.default if renull and not old.nullable else NO_DEFAULT,
        )
        self.pair(up, down)
        for column, which in ((expected, "upgrade"), (old, "downgrade")):
            if renull and not column.nullable and column.default is NO_DEFAULT:
                self.notes.append(
                    f"The {which} makes {table}.{expected.name} NOT NULL: rows holding NULL make it fail. "
                    "Add fill=<value> to that alter_column() to replace them first."
                )

    def renames(self, table: str, added: list[Column], dropped: list[Column]) -> None:
        candidates = list(added)
        for old in dropped:
            for new in candidates:
                if self.editor.same_type(old.type, new.type):
                    candidates.remove(new)
                    sql = (
                        f"ALTER TABLE {quote_ident(table)} RENAME COLUMN {quote_ident(old.name)} "
                        f"TO {quote_ident(new.name)}"
                    )
                    self.notes.append(
                        f"Possible rename: {table}.{old.name} -> {table}.{new.name} (same type). This file drops "
                        f"{old.name} and adds {new.name}, so its values are lost. To keep them, replace the "
                        f"drop_column() and add_column() with execute({sql!r}) (and the reverse in downgrade)."
                    )
                    break

    def plan(self) -> MigrationPlan:
        upgrade = [up for up, _ in self.pairs if up is not None]
        downgrade = [op for _, down in reversed(self.pairs) for op in down]
        return MigrationPlan(upgrade, downgrade, self.notes)


def diff(expected: Mapping[str, Table], actual: Mapping[str, Table], editor: SchemaEditor,
         *, declared: Schema | None = None) -> MigrationPlan:
    """The plan that turns ``actual`` (introspected) into ``expected`` (the models)."""
    differ = _Differ(editor, declared or {})
    live = {name: t for name, t in actual.items() if name != MIGRATIONS_TABLE}
    created = sorted(set(expected) - set(live))
    removed = sorted(set(live) - set(expected))
    for name in created:
        differ.new_table(expected[name])
    for name in sorted(set(expected) & set(live)):
        differ.table(expected[name], live[name])
    for name in removed:
        differ.pair(DropTable(name), *differ.removed_table(live[name]))
    for old_name in removed:
        shape = {(c.name, editor.sql_type(c.type).upper()) for c in live[old_name].columns}
        for new_name in created:
            if shape == {(c.name, editor.sql_type(c.type).upper()) for c in expected[new_name].columns}:
                sql = f"ALTER TABLE {quote_ident(old_name)} RENAME TO {quote_ident(new_name)}"
                differ.notes.append(
                    f"Possible rename: table {old_name} -> {new_name} (same columns). This file drops {old_name} "
                    f"and creates {new_name}, so its rows are lost. To keep them, replace the drop_table() and "
                    f"create_table() with execute({sql!r}) (and the reverse in downgrade)."
                )
    return differ.plan()
