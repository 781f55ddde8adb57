"""Soft delete (``@db.model(soft_delete=True)``) and versioned rows (``versioned=True``) in every
node that reads or writes, on both backends: what deleted rows are invisible to, the partial unique
indexes, the version increments, and a real lost-update race refused with DF-310."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import dataflow
from dataflow import AsyncLocalRuntime, DataFlow, Field


def declare(db: DataFlow) -> None:
    @db.model(soft_delete=True, versioned=True)
    class Doc:
        id: int
        title: str
        slug: str = Field(unique=True)


async def run(db: DataFlow, node: str, params: dict[str, Any]) -> Any:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(
        db.workflow().add_node(node, "n", params).build()
    )
    return results["n"]


@pytest.fixture
async def docs(db: DataFlow) -> DataFlow:
    declare(db)
    await run(db, "DocBulkCreateNode", {"records": [{"title": t, "slug": t} for t in ("a", "b", "c")]})
    return db


async def test_deleted_rows_are_invisible_to_reads_counts_and_updates(docs: DataFlow) -> None:
    deleted = await run(docs, "DocDeleteNode", {"id": 1})
    assert deleted["deleted_at"] is not None and deleted["version"] == 2  # a delete is a change
    assert await run(docs, "DocCountNode", {}) == {"count": 2}
    assert await run(docs, "DocCountNode", {"include_deleted": True}) == {"count": 3}
    assert [r["slug"] for r in (await run(docs, "DocListNode", {}))["records"]] == ["b", "c"]
    listed = await run(docs, "DocListNode", {"include_deleted": True, "order_by": "slug"})
    assert [r["slug"] for r in listed["records"]] == ["a", "b", "c"]
    with pytest.raises(dataflow.RecordNotFoundError):
        await run(docs, "DocReadNode", {"id": 1})
    assert (await run(docs, "DocReadNode", {"id": 1, "include_deleted": True}))["slug"] == "a"
    with pytest.raises(dataflow.RecordNotFoundError):
        await run(docs, "DocUpdateNode", {"id": 1, "fields": {"title": "x"}})
    with pytest.raises(dataflow.RecordNotFoundError):
        await run(docs, "DocUpdateNode", {"filter": {"slug": "a"}, "fields": {"title": "x"}})
    with pytest.raises(dataflow.RecordNotFoundError):  # deleting twice: nothing live to delete
        await run(docs, "DocDeleteNode", {"id": 1})
    assert await run(docs, "DocBulkUpdateNode", {"filter": {}, "fields": {"title": "all"}}) == {"updated": 2}
    assert (await run(docs, "DocReadNode", {"id": 1, "include_deleted": True}))["title"] == "a"
    assert await run(docs, "DocBulkDeleteNode", {"filter": {"slug": {"$in": ["a", "b"]}}}) == {"deleted": 1}
    assert await run(docs, "DocCountNode", {"filter": {"title": "all"}}) == {"count": 1}


async def test_restore_and_hard_delete(docs: DataFlow) -> None:
    await run(docs, "DocBulkDeleteNode", {"filter": {}})
    restored = await run(docs, "DocUpdateNode", {"id": 2, "restore": True})
    assert restored["deleted_at"] is None and restored["version"] == 3
    assert (await run(docs, "DocUpdateNode", {"id": 2, "restore": True, "fields": {"title": "B"}}))[
        "title"
    ] == "B"
    assert await run(docs, "DocBulkUpdateNode", {"filter": {"slug": {"$ne": "c"}}, "restore": True}) == {
        "updated": 2
    }
    assert await run(docs, "DocCountNode", {}) == {"count": 2}
    # hard=True removes a record for good, deleted or not
    assert (await run(docs, "DocDeleteNode", {"id": 3, "hard": True}))["slug"] == "c"
    assert await run(docs, "DocCountNode", {"include_deleted": True}) == {"count": 2}
    await run(docs, "DocDeleteNode", {"id": 1})
    assert await run(docs, "DocBulkDeleteNode", {"filter": {}, "hard": True}) == {"deleted": 2}
    assert await run(docs, "DocCountNode", {"include_deleted": True}) == {"count": 0}
    with pytest.raises(dataflow.InvalidParameterError):
        await run(docs, "DocUpdateNode", {"id": 1})  # neither fields nor restore


async def test_unique_fields_ignore_deleted_rows_and_upserts_skip_them(docs: DataFlow) -> None:
    index = (await docs.migrations.schema())["docs"].find_index(("slug",), True)
    assert index is not None and index.where == "deleted_at IS NULL" and not index.constraint
    await run(docs, "DocDeleteNode", {"id": 1})
    again = await run(docs, "DocCreateNode", {"title": "a again", "slug": "a"})
    assert again["id"] == 4
    with pytest.raises(dataflow.UniqueViolationError):
        await run(docs, "DocCreateNode", {"title": "twice", "slug": "a"})
    with pytest.raises(dataflow.UniqueViolationError):  # the restored row would be a second live "a"
        await run(docs, "DocUpdateNode", {"id": 1, "restore": True})
    upserted = await run(
        docs, "DocUpsertNode", {"where": {"slug": "a"}, "create": {"title": "new"}, "update": {"title": "up"}}
    )
    assert upserted["action"] == "updated" and upserted["record"]["id"] == 4
    await run(docs, "DocDeleteNode", {"id": 4})
    created = await run(docs, "DocUpsertNode", {"where": {"slug": "a"}, "create": {"title": "third"}})
    assert created["created"] and created["record"]["id"] not in (1, 4)  # PostgreSQL may skip ids
    with pytest.raises(dataflow.DeletedRecordConflictError) as info:
        await run(docs, "DocUpsertNode", {"where": {"id": 1}, "create": {"title": "x", "slug": "x"}})
    assert info.value.context["id"] == 1
    for mode in ("update", "ignore"):
        with pytest.raises(dataflow.DeletedRecordConflictError):
            await run(
                docs,
                "DocBulkUpsertNode",
                {"records": [{"id": 1, "title": "x", "slug": "x"}], "on_conflict": mode},
            )
    bulk = await run(
        docs,
        "DocBulkUpsertNode",
        {"records": [{"id": 9, "title": "n", "slug": "a"}], "conflict_on": ["slug"]},
    )
    assert bulk == {"upserted": 1}
    assert (await run(docs, "DocReadNode", {"id": created["record"]["id"]}))["title"] == "n"
    assert await run(docs, "DocCountNode", {"include_deleted": True}) == {"count": 5}


async def test_every_update_increments_the_version(docs: DataFlow) -> None:
    assert (await run(docs, "DocReadNode", {"id": 1}))["version"] == 1
    assert (await run(docs, "DocUpdateNode", {"id": 1, "fields": {"title": "u"}}))["version"] == 2
    await run(docs, "DocBulkUpdateNode", {"filter": {"id": 1}, "fields": {"title": "bu"}})
    upsert = {"where": {"slug": "a"}, "create": {"title": "-"}, "update": {"title": "up"}}
    assert (await run(docs, "DocUpsertNode", upsert))["record"]["version"] == 4
    no_change = {"where": {"slug": "a"}, "create": {"title": "-"}}
    assert (await run(docs, "DocUpsertNode", no_change))["record"]["version"] == 4  # nothing updated
    await run(docs, "DocBulkUpsertNode", {"records": [{"id": 1, "title": "bulk", "slug": "a"}]})
    assert (await run(docs, "DocReadNode", {"id": 1}))["version"] == 5
    assert (await run(docs, "DocReadNode", {"id": 2}))["version"] == 1


async def test_a_write_with_a_stale_version_is_refused(docs: DataFlow) -> None:
    updated = await run(docs, "DocUpdateNode", {"id": 1, "fields": {"title": "v2"}, "expected_version": 1})
    assert updated["version"] == 2
    with pytest.raises(dataflow.StaleRecordError) as info:
        await run(docs, "DocUpdateNode", {"id": 1, "fields": {"title": "lost"}, "expected_version": 1})
    context = info.value.context
    assert (context["model"], context["id"], context["expected_version"], context["current_version"]) == (
        "Doc",
        1,
        1,
        2,
    )
    assert info.value.code == "DF-310" and isinstance(info.value, dataflow.RecordError)
    with pytest.raises(dataflow.StaleRecordError):  # by filter too
        await run(
            docs, "DocUpdateNode", {"filter": {"slug": "a"}, "fields": {"title": "x"}, "expected_version": 1}
        )
    with pytest.raises(dataflow.StaleRecordError):
        await run(docs, "DocDeleteNode", {"id": 1, "expected_version": 1})
    with pytest.raises(dataflow.StaleRecordError):
        await run(docs, "DocDeleteNode", {"id": 1, "hard": True, "expected_version": 1})
    assert (await run(docs, "DocReadNode", {"id": 1}))["title"] == "v2"
    assert (await run(docs, "DocDeleteNode", {"id": 1, "expected_version": 2}))["version"] == 3
    with pytest.raises(dataflow.RecordNotFoundError):  # gone: not found, not stale
        await run(docs, "DocUpdateNode", {"id": 1, "fields": {"title": "x"}, "expected_version": 3})
    with pytest.raises(dataflow.InvalidParameterError):
        await run(docs, "DocUpdateNode", {"id": 2, "fields": {"title": "x"}, "expected_version": 0})


async def test_lost_update_race_one_writer_wins_the_other_gets_df310(docs: DataFlow) -> None:
    """Two tasks read the same version, then both write with it; the second write waits for the
    first one's transaction (row lock on PostgreSQL, the write lock on SQLite) and is refused."""
    both_read = asyncio.Event()
    first_wrote = asyncio.Event()
    reads: list[int] = []

    async def read_then_write(title: str, first: bool) -> dict[str, Any]:
        version = (await run(docs, "DocReadNode", {"id": 1}))["version"]
        reads.append(version)
        if len(reads) == 2:
            both_read.set()
        await both_read.wait()
        params = {"id": 1, "fields": {"title": title}, "expected_version": version}
        if first:
            async with docs.transaction():
                record = await run(docs, "DocUpdateNode", params)
                first_wrote.set()
                await asyncio.sleep(0.2)  # hold the row while the other writer tries
            return record
        await first_wrote.wait()
        return await run(docs, "DocUpdateNode", params)

    async def second() -> Any:
        try:
            return await read_then_write("second", first=False)
        except dataflow.StaleRecordError as error:
            return error

    winner, loser = await asyncio.wait_for(asyncio.gather(read_then_write("first", True), second()), 30)
    assert reads == [1, 1]
    assert winner["version"] == 2
    assert isinstance(loser, dataflow.StaleRecordError), loser
    assert loser.context["expected_version"] == 1 and loser.context["current_version"] == 2
    assert (await run(docs, "DocReadNode", {"id": 1}))["title"] == "first"


async def test_managed_fields_and_options_are_checked(db: DataFlow) -> None:
    declare(db)

    @db.model
    class Note:
        id: int
        text: str

    for node, params in [
        ("DocCreateNode", {"title": "t", "slug": "s", "version": 7}),
        ("DocUpdateNode", {"id": 1, "fields": {"deleted_at": None}}),
        ("DocBulkCreateNode", {"records": [{"title": "t", "slug": "s", "version": 2}]}),
        (
            "DocBulkUpsertNode",
            {"records": [{"id": 1, "title": "t", "slug": "s"}], "update_fields": ["version"]},
        ),
    ]:
        with pytest.raises(dataflow.ManagedFieldError):
            await run(db, node, params)
    for node, params in [
        ("NoteListNode", {"include_deleted": True}),
        ("NoteDeleteNode", {"id": 1, "hard": True}),
        ("NoteUpdateNode", {"id": 1, "fields": {"text": "x"}, "expected_version": 1}),
    ]:
        with pytest.raises(dataflow.RowOptionNotEnabledError):
            await run(db, node, params)
    with pytest.raises(dataflow.InvalidParameterError):  # a Create node takes no include_deleted at all
        await run(db, "DocListNode", {"hard": True})
    assert "include_deleted" not in {p.name for p in db.nodes["NoteListNode"].spec.params}
    assert "version" not in {p.name for p in db.nodes["DocCreateNode"].spec.params}


async def test_migrations_add_the_fields_and_partial_unique_indexes(
    database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"

    def instance(soft: bool) -> DataFlow:
        db = DataFlow(database_url, migrations_dir=str(directory))

        @db.model(soft_delete=soft, versioned=soft)
        class Doc:
            id: int
            title: str
            slug: str = Field(unique=True)

        return db

    db = instance(False)
    assert await db.generate_migration_async("docs") is not None
    await db.migrate_async()
    await run(db, "DocCreateNode", {"title": "a", "slug": "a"})
    await db.close()
    db = instance(True)
    path = await db.generate_migration_async("soft delete")
    assert path is not None
    text = path.read_text()
    assert 'add_column("docs", "deleted_at", "datetime", nullable=True)' in text
    assert 'add_column("docs", "version", "int", default=1)' in text
    assert 'drop_index("docs", ["slug"], unique=True)' in text
    assert (
        'create_index("docs", ["slug"], unique=True, name="uq_docs_slug", where="deleted_at IS NULL")' in text
    )
    await db.migrate_async()
    assert not await db.migrations.check()
    assert (await run(db, "DocReadNode", {"id": 1}))["version"] == 1
    await run(db, "DocDeleteNode", {"id": 1})
    assert (await run(db, "DocCreateNode", {"title": "a2", "slug": "a"}))["id"] == 2
    index = (await db.migrations.schema())["docs"].find_index(("slug",), True)
    assert index is not None and index.where == "deleted_at IS NULL"
    await db.close()


async def test_stream_and_query_cache_see_soft_deletes(database_url: str) -> None:
    db = DataFlow(database_url, enable_query_cache=True, cache_ttl=300)
    try:
        declare(db)
        await run(db, "DocBulkCreateNode", {"records": [{"title": t, "slug": t} for t in ("a", "b")]})
        assert await run(db, "DocCountNode", {}) == {"count": 2}
        assert await run(db, "DocCountNode", {}) == {"count": 2}  # served by the cache
        await run(db, "DocDeleteNode", {"id": 1})
        assert await run(db, "DocCountNode", {}) == {"count": 1}  # the soft delete invalidated it
        assert await run(db, "DocCountNode", {"include_deleted": True}) == {"count": 2}
        await run(db, "DocUpdateNode", {"id": 1, "restore": True})
        assert await run(db, "DocCountNode", {}) == {"count": 2}
        await run(db, "DocBulkDeleteNode", {"filter": {"slug": "b"}})
        streamed = [record["slug"] async for batch in db.stream("Doc", batch_size=1) for record in batch]
        assert streamed == ["a"]
    finally:
        await db.close()


def test_gateway_requests_do_not_take_the_managed_fields() -> None:
    from dataflow.gateway._schemas import schemas_for  # fastapi is a test dependency

    db = DataFlow("sqlite:///:memory:")
    declare(db)
    schemas = schemas_for(db.models["Doc"])
    assert {"deleted_at", "version"} <= set(schemas.record.model_fields)
    for request in (schemas.create, schemas.update, schemas.fields):
        assert not {"deleted_at", "version"} & set(request.model_fields)


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_operations_match_a_reference_model(db: DataFlow, seed: int) -> None:
    """Random sequences of the writing nodes on a soft delete, versioned model, checked after every
    step against a dict that applies the documented rules (bounded: 40 steps per seed)."""
    import random

    declare(db)
    rng = random.Random(seed)
    rows: dict[int, dict[str, Any]] = {}  # id -> title, slug, deleted, version
    outcomes: list[str] = []

    def live(slug: str) -> int | None:
        return next((i for i, r in rows.items() if r["slug"] == slug and not r["deleted"]), None)

    async def expect(error: type[Exception] | None, node: str, params: dict[str, Any]) -> Any:
        outcomes.append(error.__name__ if error else node)
        if error is None:
            return await run(db, node, params)
        with pytest.raises(error):
            await run(db, node, params)
        return None

    operations = ["create", "create", "update", "update", "delete", "hard", "restore", "bulk", "upsert"]
    for _ in range(40):
        op, slug, title = rng.choice(operations), rng.choice("abc"), rng.choice(["x", "y", "z"])
        some = rng.choice(list(rows) or [1])
        row = rows.get(some)
        if op == "create":
            out = await expect(
                dataflow.UniqueViolationError if live(slug) else None,
                "DocCreateNode",
                {"title": title, "slug": slug},
            )
            if out:
                rows[out["id"]] = {"title": title, "slug": slug, "deleted": False, "version": 1}
        elif op == "update":
            version = max(row["version"] + rng.choice([0, 0, 1, -1]), 1) if row else 1
            missing = row is None or row["deleted"]
            stale = row is not None and not missing and version != row["version"]
            error = dataflow.RecordNotFoundError if missing else dataflow.StaleRecordError if stale else None
            params = {"id": some, "fields": {"title": title}, "expected_version": version}
            if await expect(error, "DocUpdateNode", params):
                row.update(title=title, version=row["version"] + 1)  # type: ignore[union-attr]
        elif op == "delete":
            if await expect(
                dataflow.RecordNotFoundError if not row or row["deleted"] else None,
                "DocDeleteNode",
                {"id": some},
            ):
                row.update(deleted=True, version=row["version"] + 1)  # type: ignore[union-attr]
        elif op == "hard":
            if await expect(
                None if row else dataflow.RecordNotFoundError, "DocDeleteNode", {"id": some, "hard": True}
            ):
                del rows[some]
        elif op == "restore":
            taken = row is not None and row["deleted"] and live(row["slug"]) is not None
            error = (
                dataflow.RecordNotFoundError if not row else dataflow.UniqueViolationError if taken else None
            )
            if await expect(error, "DocUpdateNode", {"id": some, "restore": True}):
                row.update(deleted=False, version=row["version"] + 1)  # type: ignore[union-attr]
        elif op == "bulk":
            out = await run(db, "DocBulkDeleteNode", {"filter": {"slug": slug}})
            hit = [r for r in rows.values() if r["slug"] == slug and not r["deleted"]]
            assert out == {"deleted": len(hit)}
            for r in hit:
                r.update(deleted=True, version=r["version"] + 1)
        else:
            upsert = {"where": {"slug": slug}, "create": {"title": title}, "update": {"title": title}}
            out = await run(db, "DocUpsertNode", upsert)
            target = live(slug)
            assert out["created"] is (target is None)
            if target is None:
                rows[out["record"]["id"]] = {"title": title, "slug": slug, "deleted": False, "version": 1}
            else:
                rows[target].update(title=title, version=rows[target]["version"] + 1)
        stored = (await run(db, "DocListNode", {"include_deleted": True}))["records"]
        seen = {
            r["id"]: {
                "title": r["title"],
                "slug": r["slug"],
                "deleted": r["deleted_at"] is not None,
                "version": r["version"],
            }
            for r in stored
        }
        assert seen == rows, op
        assert await run(db, "DocCountNode", {}) == {"count": sum(not r["deleted"] for r in rows.values())}
    # The sequence reached the refusals it is about, not only the happy path (fixed seeds: deterministic).
    assert {"StaleRecordError", "RecordNotFoundError", "UniqueViolationError"} <= set(outcomes), outcomes
