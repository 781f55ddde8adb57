"""Shared pieces of the migration tests: three versions of a model, snapshots, row reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow, Field, WorkflowBuilder
from dataflow._schema import Column, Index, Schema


class UserV1:
    __tablename__ = "users"
    id: int
    name: str
    email: str = Field(unique=True)
    nickname: str


class UserV2:
    """v1 + ``age`` (with a default) + an index on ``name`` + ``nickname`` made nullable."""

    __tablename__ = "users"
    id: int
    name: str = Field(index=True)
    email: str = Field(unique=True)
    nickname: str | None = None
    age: int = 0


class UserV3:
    """v2 without ``age``."""

    __tablename__ = "users"
    id: int
    name: str = Field(index=True)
    email: str = Field(unique=True)
    nickname: str | None = None


def instance(url: str, directory: Path, *models: type) -> DataFlow:
    db = DataFlow(url, migrations_dir=directory)
    for model in models:
        db.model(model)
    return db


def snapshot(schema: Schema) -> dict[str, tuple[dict[str, Column], frozenset[Index]]]:
    """A schema as comparable data: columns by name (type, nullability, default), index sets."""
    return {name: ({c.name: c for c in t.columns}, frozenset(t.indexes)) for name, t in schema.items()}


async def create(db: DataFlow, model: str, *rows: dict[str, Any]) -> list[dict[str, Any]]:
    workflow = WorkflowBuilder(db)
    for i, row in enumerate(rows):
        workflow.add_node(f"{model}CreateNode", f"c{i}", row)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return [results[f"c{i}"] for i in range(len(rows))]


async def rows(db: DataFlow, table: str) -> list[tuple[Any, ...]]:
    async with db.connection() as connection:
        return [tuple(r) for r in await connection.fetch(f'SELECT * FROM "{table}" ORDER BY "id"')]


async def ledger(db: DataFlow) -> list[tuple[Any, ...]]:
    async with db.connection() as connection:
        found = await connection.fetch('SELECT "revision", "checksum" FROM "dataflow_migrations" ORDER BY "position"')
    return [tuple(r) for r in found]


async def state(db: DataFlow) -> tuple[Any, ...]:
    """Everything a failed migration must leave as it was: schema, ledger, rows of every table."""
    schema = await db.migrations.schema()
    data = {name: await rows(db, name) for name in schema if schema[name].column("id") is not None}
    return snapshot(schema), await ledger(db), data


def write(directory: Path, name: str, revision: str, parent: str | None, upgrade: str, downgrade: str) -> Path:
    """A hand-written revision file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(
        "from dataflow.migrations import *  # noqa: F403\n\n"
        f"revision = {revision!r}\nparent = {parent!r}\nmessage = {name!r}\n\n"
        f"upgrade = [{upgrade}]\n\ndowngrade = [{downgrade}]\n"
    )
    return path
