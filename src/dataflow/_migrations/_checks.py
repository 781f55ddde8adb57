"""The checks behind the plugin's migration tests (``dataflow.testing.migrations``).

Each check starts from an empty database, walks the history with the real ``upgrade`` and
``downgrade`` (one transaction per revision, as in production) and raises ``AssertionError`` with
what went wrong, in the words of the operations that would fix it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._dialects import quote_ident
from .._schema import FIELD_TYPES, Column, Index, Schema, Table
from .._types import FieldType
from ._diff import diff
from ._files import load_history
from ._runner import Migrations

__all__ = ["check_keeps_data", "check_matches_models", "check_single_head", "check_up_down_up", "check_upgrade"]

Snapshot = dict[str, tuple[dict[str, Column], frozenset[Index]]]


def _snapshot(schema: Schema) -> Snapshot:
    return {name: ({c.name: c for c in t.columns}, frozenset(t.indexes)) for name, t in schema.items()}


def _differences(migrations: Migrations, expected: Schema, actual: Schema) -> list[str]:
    if _snapshot(expected) == _snapshot(actual):
        return []
    plan = diff(expected, actual, migrations.editor)
    return plan.describe() or ["the schemas differ in column order or names only"]


def check_single_head(directory: Path) -> list[str]:
    """The history in ``directory`` loads and is one chain (DF-901/DF-906 otherwise); return its ids."""
    return [r.id for r in load_history(directory).chain()]


async def check_upgrade(migrations: Migrations) -> None:
    """Upgrade an empty database to the head."""
    chain = migrations.load().chain()
    await migrations.reset()
    await migrations.upgrade()
    current = await migrations.current()
    head = chain[-1].id if chain else None
    assert current == head, f"after upgrading to the head the database is at {current}, not {head}"


async def check_matches_models(migrations: Migrations) -> None:
    """After upgrading an empty database to the head, autogenerate finds nothing."""
    await migrations.reset()
    await migrations.upgrade()
    plan = await migrations.check()
    assert not plan, (
        "the models and the migrations disagree; generate a revision (db.generate_migration(...), or "
        "dataflow migrate generate -m ...) for:\n  " + "\n  ".join(plan.describe())
    )


async def check_up_down_up(migrations: Migrations) -> None:
    """For every revision: upgrade, downgrade and upgrade again give the schemas before and after."""
    chain = migrations.load().chain()
    await migrations.reset()
    before = await migrations.schema()
    for revision in chain:
        await migrations.upgrade(revision.id)
        after = await migrations.schema()
        await migrations.downgrade(-1)
        problems = _differences(migrations, before, await migrations.schema())
        assert not problems, (
            f"the downgrade of {revision.id} ({revision.path.name}) does not undo its upgrade; to get back "
            "the schema before it, the downgrade would still need:\n  " + "\n  ".join(problems)
        )
        await migrations.upgrade(revision.id)
        problems = _differences(migrations, after, await migrations.schema())
        assert not problems, (
            f"upgrading {revision.id} again after its downgrade gives another schema than the first time:\n  "
            + "\n  ".join(problems)
        )
        before = after


def _sample(column: Column, n: int) -> Any:
    kind = FIELD_TYPES.get(column.type)
    samples: dict[FieldType, Any] = {
        FieldType.STR: f"dataflow sample {n}",
        FieldType.INT: 1000 + n,
        FieldType.FLOAT: n + 0.5,
        FieldType.BOOL: n % 2 == 0,
        FieldType.DATETIME: datetime(2024, 1, 1 + n % 28, 12, 0, tzinfo=UTC),
        FieldType.DATE: date(2024, 1, 1 + n % 28),
        FieldType.DECIMAL: Decimal(f"{n}.25"),
        FieldType.JSON: {"sample": n},
    }
    if kind is None:
        if column.nullable:
            return None
        raise AssertionError(
            f"cannot write a sample row: column {column.name} has the database type {column.type!r}; "
            "write this revision's data test yourself"
        )
    return samples[kind]


async def _insert(migrations: Migrations, table: Table, n: int) -> dict[str, Any]:
    backend = migrations.context.backend
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key and column.type == FieldType.INT.value:
            continue  # assigned by the database
        value = _sample(column, n)
        kind = FIELD_TYPES.get(column.type)
        convert = backend.to_db.get(kind) if kind is not None else None
        row[column.name] = convert(value) if convert is not None and value is not None else value
    params = backend.params()
    names = ", ".join(quote_ident(name) for name in row)
    values = ", ".join(params.add(value) for value in row.values())
    sql = f"INSERT INTO {quote_ident(table.name)} ({names}) VALUES ({values})" if row else (
        f"INSERT INTO {quote_ident(table.name)} DEFAULT VALUES"
    )
    async with migrations.context.connection() as connection:
        await connection.execute(sql, params.values)
        stored = await connection.fetch(f"SELECT * FROM {quote_ident(table.name)}")
    return {"columns": [c.name for c in table.columns], "rows": [tuple(r) for r in stored], "table": table}


async def check_keeps_data(migrations: Migrations) -> None:
    """Rows written at each revision are still there, unchanged, after the next one.

    At every revision one sample row is written to each table; after the next upgrade every row
    must still exist with the same values in the columns that kept their name and type.
    """
    chain = migrations.load().chain()
    await migrations.reset()
    written: dict[str, dict[str, Any]] = {}
    for n, revision in enumerate(chain):
        await migrations.upgrade(revision.id)
        schema = await migrations.schema()
        for name, before in written.items():
            table = schema.get(name)
            if table is None:
                continue  # dropped by this revision: its rows go with it
            kept = [i for i, c in enumerate(before["table"].columns)
                    if (now := table.column(c.name)) is not None and migrations.editor.same_type(c.type, now.type)]
            async with migrations.context.connection() as connection:
                rows = await connection.fetch(f"SELECT * FROM {quote_ident(name)}")
            positions = {c.name: i for i, c in enumerate(table.columns)}
            now_rows = {tuple(r[positions[before["columns"][i]]] for i in kept) for r in rows}
            lost = [row for row in before["rows"] if tuple(row[i] for i in kept) not in now_rows]
            assert not lost, (
                f"{revision.id} ({revision.path.name}) lost or changed {len(lost)} of the {len(before['rows'])} "
                f"row(s) of {name} written before it; first one: "
                + ", ".join(f"{before['columns'][i]}={lost[0][i]!r}" for i in kept)
            )
        written = {name: await _insert(migrations, table, n) for name, table in schema.items()}
