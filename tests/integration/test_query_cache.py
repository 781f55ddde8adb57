"""The query cache on both backends: hits, invalidation by every kind of write, transactions,
TTL, and a random interleaving of reads and writes that must match an uncached instance."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from _cachehelp import declare, listing, read_matches, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflow import ConfigurationError, DataFlow


@pytest.fixture
async def db(database_url: str) -> Any:
    db = DataFlow(database_url, enable_query_cache=True, cache_ttl=300)
    declare(db)
    await db.create_tables()
    yield db
    await db.close()


def test_the_seeds_configuration_runs_as_written() -> None:
    db = DataFlow(enable_query_cache=True, cache_ttl=300)
    assert db.query_cache is not None and db.query_cache.get_metrics()["ttl"] == 300
    assert DataFlow().query_cache is None


async def test_repeated_reads_are_served_from_the_cache(db: DataFlow) -> None:
    await run(db, "ItemCreateNode", {"name": "a", "qty": 1})
    assert db.query_cache is not None
    before = db.query_cache.get_metrics()
    for _ in range(3):
        assert await listing(db) == [("a", 1)]
        assert (await run(db, "ItemCountNode", {}))["count"] == 1
        assert (await run(db, "ItemReadNode", {"id": 1}))["name"] == "a"
    after = db.query_cache.get_metrics()
    assert (after["misses"] - before["misses"], after["hits"] - before["hits"]) == (3, 6)
    assert await listing(db, filter={"qty": 1}) == [("a", 1)]  # another filter is another entry
    assert db.query_cache.get_metrics()["misses"] == after["misses"] + 1


async def test_a_raw_write_behind_the_cache_is_what_ttl_is_for(database_url: str) -> None:
    db = DataFlow(database_url, enable_query_cache=True, cache_ttl=0.5)
    declare(db)
    await db.create_tables()
    other = DataFlow(database_url)  # another process, as far as db knows
    declare(other)
    try:
        assert await listing(other) == []  # connected first: the stale window below is one INSERT
        assert await listing(db) == []
        await run(other, "ItemCreateNode", {"name": "elsewhere"})
        assert await listing(db) == []  # cached: db did not see the write
        await asyncio.sleep(0.6)
        assert await listing(db) == [("elsewhere", 0)]
        assert db.query_cache is not None and db.query_cache.get_metrics()["expirations"] >= 1
    finally:
        await other.close()
        await db.close()


@pytest.mark.parametrize(
    ("node", "params"),
    [
        ("ItemCreateNode", {"name": "new"}),
        ("ItemUpdateNode", {"id": 1, "fields": {"qty": 9}}),
        ("ItemUpdateNode", {"filter": {"name": "a"}, "fields": {"qty": 9}}),
        ("ItemDeleteNode", {"id": 1}),
        ("ItemDeleteNode", {"filter": {"name": "a"}}),
        ("ItemUpsertNode", {"where": {"id": 1}, "update": {"qty": 9}, "create": {"name": "a"}}),
        ("ItemBulkCreateNode", {"records": [{"name": "b"}, {"name": "c"}]}),
        ("ItemBulkUpdateNode", {"filter": {"qty": 1}, "fields": {"qty": 9}}),
        ("ItemBulkDeleteNode", {"filter": {"qty": 1}}),
        ("ItemBulkUpsertNode", {"records": [{"id": 1, "name": "a", "qty": 9}]}),
        ("ItemBulkUpsertNode", {"records": [{"id": 7, "name": "z"}], "on_conflict": "ignore"}),
    ],
)
async def test_every_write_node_invalidates_before_it_returns(
    db: DataFlow, database_url: str, node: str, params: dict[str, Any]
) -> None:
    await run(db, "ItemCreateNode", {"name": "a", "qty": 1})
    cached = await listing(db)
    assert await listing(db) == cached  # now served from the cache
    await run(db, node, params)
    plain = DataFlow(database_url)  # no cache: what the table holds now
    declare(plain)
    try:
        rows = await listing(plain)
    finally:
        await plain.close()
    assert rows != cached  # every one of these writes changes the table
    assert db.query_cache is not None
    hits = db.query_cache.get_metrics()["hits"]
    assert await listing(db) == rows
    assert db.query_cache.get_metrics()["hits"] == hits  # a miss, not a stale hit


async def test_raw_sql_and_drop_tables_invalidate_everything(db: DataFlow) -> None:
    await run(db, "ItemCreateNode", {"name": "a"})
    assert await listing(db) == [("a", 0)]
    async with db.connection() as connection:
        await connection.execute("UPDATE items SET qty = 5")
    assert await listing(db) == [("a", 5)]
    await db.drop_tables()
    await db.create_tables()
    assert await listing(db) == []


async def test_transactions_never_fill_the_cache_with_uncommitted_rows(db: DataFlow) -> None:
    await run(db, "ItemCreateNode", {"name": "a"})
    assert await listing(db) == [("a", 0)]
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await run(db, "ItemUpdateNode", {"id": 1, "fields": {"qty": 3}})
            assert await listing(db) == [("a", 3)]  # the transaction sees its own write
            raise RuntimeError("roll back")
    assert await listing(db) == [("a", 0)]  # nothing stale after the rollback
    async with db.transaction():
        await run(db, "ItemUpdateNode", {"id": 1, "fields": {"qty": 4}})
    assert await listing(db) == [("a", 4)]


async def test_a_read_that_races_a_write_cannot_store_what_it_saw(db: DataFlow) -> None:
    """Another task's write while the read is in flight moves the model's generation on."""
    await run(db, "ItemCreateNode", {"name": "a"})
    assert db.query_cache is not None
    cache = db.query_cache
    found, _, generation = cache.lookup("Item", ("sql", "()"))
    assert not found
    await run(db, "ItemUpdateNode", {"id": 1, "fields": {"qty": 2}})
    cache.store("Item", ("sql", "()"), ["stale"], generation)
    assert cache.lookup("Item", ("sql", "()"))[0] is False


def test_bad_settings_are_df_802() -> None:
    with pytest.raises(ConfigurationError, match="DF-802") as info:
        DataFlow(enable_query_cache=True, cache_ttl=-1, cache_max_size=0)
    assert "cache_ttl" in str(info.value) and "cache_max_size" in str(info.value)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete", "bulk_update", "list", "count", "read", "tx_update"]),
        st.integers(min_value=1, max_value=4),
    ),
    min_size=5,
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_cached_reads_always_equal_uncached_reads(database_url: str, operations: list[tuple[str, int]]) -> None:
    asyncio.run(_interleaving(database_url, operations))


async def _interleaving(database_url: str, operations: list[tuple[str, int]]) -> None:
    cached = DataFlow(database_url, enable_query_cache=True)
    plain = DataFlow(database_url)
    for db in (cached, plain):
        declare(db)
    await cached.drop_tables()
    await cached.create_tables()
    rng = random.Random(len(operations))
    try:
        for kind, n in operations:
            if kind == "create":
                await run(cached, "ItemCreateNode", {"name": f"i{n}", "qty": n})
            elif kind == "update":
                ids = [r["id"] for r in (await run(plain, "ItemListNode", {}))["records"]]
                if ids:
                    await run(cached, "ItemUpdateNode", {"id": rng.choice(ids), "fields": {"qty": n}})
            elif kind == "delete":
                await run(cached, "ItemBulkDeleteNode", {"filter": {"qty": n}})
            elif kind == "bulk_update":
                await run(cached, "ItemBulkUpdateNode", {"filter": {"qty": {"$lt": n}}, "fields": {"qty": n}})
            elif kind == "tx_update":
                async with cached.transaction():
                    await run(cached, "ItemBulkUpdateNode", {"filter": {"qty": n}, "fields": {"qty": n + 1}})
            else:
                await read_matches(cached, plain, kind, n)
    finally:
        await cached.close()
        await plain.close()
