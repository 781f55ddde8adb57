"""The query cache's Redis backend on both backends, against a real redis-server (tests/_redis.py):
entries shared by two instances, invalidation across them (writes, transactions, raw SQL), TTL as
Redis expiry, a Redis that goes down mid-test, settings and passwords, and a random interleaving of
reads and writes through two instances that must match an uncached instance.

``DATAFLOW_CACHE_STRESS_EXAMPLES=200`` runs the interleaving long (the suite runs a few examples).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import warnings
from typing import Any

import pytest
from _cachehelp import declare, listing, read_matches, run
from _redis import RedisServer, command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dataflow
from dataflow import DataFlow
from dataflow._query_cache_redis import PREFIX, RedisQueryCache

STRESS_EXAMPLES = int(os.environ.get("DATAFLOW_CACHE_STRESS_EXAMPLES", "10"))


def cached(database_url: str, redis_url: str, **options: Any) -> DataFlow:
    db = DataFlow(database_url, enable_query_cache=True, cache_backend=redis_url, **{"cache_ttl": 60, **options})
    declare(db)
    return db


def metrics(db: DataFlow) -> dict[str, Any]:
    assert isinstance(db.query_cache, RedisQueryCache)
    return db.query_cache.get_metrics()


@pytest.fixture
async def pair(database_url: str, redis_url: str) -> Any:
    """Two instances on the same database and Redis (two processes, as far as each knows)."""
    a, b = cached(database_url, redis_url), cached(database_url, redis_url)
    for db in (a, b):
        await db.create_tables()
        assert db.query_cache is not None
        await db.query_cache.flush()  # creating a table invalidates its model: done before the test
    yield a, b
    await a.close()
    await b.close()


async def test_two_instances_share_entries_and_see_each_others_writes(pair: tuple[DataFlow, DataFlow]) -> None:
    a, b = pair
    await run(a, "ItemCreateNode", {"name": "a", "qty": 1})
    assert await listing(a) == [("a", 1)]  # a miss: a stores the entry in Redis
    hits = metrics(b)["hits"]
    assert await listing(b) == [("a", 1)]
    assert metrics(b)["hits"] == hits + 1  # b is served a's entry
    assert (await run(b, "ItemCountNode", {"filter": {"qty": 1}}))["count"] == 1
    await run(b, "ItemUpdateNode", {"id": 1, "fields": {"qty": 2}})
    misses = metrics(a)["misses"]
    assert await listing(a) == [("a", 2)]  # b's write dropped a's entry for both
    assert metrics(a)["misses"] == misses + 1
    assert (await run(a, "ItemCountNode", {"filter": {"qty": 1}}))["count"] == 0
    assert metrics(b)["invalidations"] >= 1 and metrics(b)["backend"] == "redis"


async def test_a_write_in_a_transaction_reaches_the_other_instance_once_it_commits(
    pair: tuple[DataFlow, DataFlow],
) -> None:
    a, b = pair
    await run(a, "ItemCreateNode", {"name": "a"})
    assert await listing(b) == [("a", 0)]
    async with a.transaction():
        await run(a, "ItemUpdateNode", {"id": 1, "fields": {"qty": 3}})
        assert await listing(b) == [("a", 0)]  # uncommitted: b reads (and may cache) the committed row
        assert await listing(b) == [("a", 0)]
    assert await listing(b) == [("a", 3)]  # the commit moved the generation on
    with pytest.raises(RuntimeError):
        async with a.transaction():
            await run(a, "ItemUpdateNode", {"id": 1, "fields": {"qty": 4}})
            raise RuntimeError("roll back")
    assert await listing(b) == [("a", 3)]
    assert await listing(a) == [("a", 3)]


async def test_a_read_that_races_a_write_cannot_leave_a_stale_entry(pair: tuple[DataFlow, DataFlow]) -> None:
    """b reads (and stores) the old row after a's write began and before it is done: the bump after
    the write puts b's entry out of reach."""
    a, b = pair
    await run(a, "ItemCreateNode", {"name": "a"})

    async def write(connection: Any) -> None:
        assert await listing(b) == [("a", 0)]  # b caches the row as it is before the write
        await connection.execute("UPDATE items SET qty = 1")

    def no_ddl() -> Any:
        raise AssertionError("the table exists")

    await a.execution_context.run("Item", no_ddl, write)
    assert await listing(b) == [("a", 1)]
    assert await listing(a) == [("a", 1)]


async def test_a_write_recorded_while_a_bump_is_in_flight_gets_a_bump_of_its_own(
    database_url: str, redis_server: RedisServer
) -> None:
    db = cached(database_url, redis_server.url())
    cache = db.query_cache
    assert isinstance(cache, RedisQueryCache)
    key = f"{PREFIX}:{cache.namespace}:gen:Item"

    def generation() -> int:
        return int(command(redis_server.host, redis_server.port, "GET", key).split(b"\r\n")[1])

    try:
        cache.invalidate("Item")
        await cache.flush()
        start = generation()
        cache.invalidate("Item")
        in_flight = asyncio.create_task(cache.flush())
        await asyncio.sleep(0)  # the first flush has taken its snapshot and sent its bump
        cache.invalidate("Item")  # another write, after that bump was sent
        await in_flight
        await cache.flush()  # that write's own flush must still bump
        assert generation() == start + 2
        await cache.flush()  # nothing left to send
        assert generation() == start + 2
    finally:
        await db.close()


async def test_raw_sql_and_clear_drop_every_entry_for_both(pair: tuple[DataFlow, DataFlow]) -> None:
    a, b = pair
    await run(a, "ItemCreateNode", {"name": "a"})
    assert await listing(b) == [("a", 0)]
    async with a.connection() as connection:
        await connection.execute("UPDATE items SET qty = 5")
    assert await listing(b) == [("a", 5)]
    assert await listing(b) == [("a", 5)]
    hits = metrics(b)["hits"]
    assert a.query_cache is not None
    a.query_cache.clear()
    await a.query_cache.flush()
    assert await listing(b) == [("a", 5)]
    assert metrics(b)["hits"] == hits  # cleared: a miss


async def test_cache_ttl_is_the_entries_expiry_in_redis(database_url: str, redis_server: RedisServer) -> None:
    redis_url = redis_server.url()
    db = cached(database_url, redis_url, cache_ttl=1.0)
    other = DataFlow(database_url)  # no cache: a writer db cannot see
    declare(other)
    await db.create_tables()
    try:
        assert await listing(db) == []
        assert db.query_cache is not None and isinstance(db.query_cache, RedisQueryCache)
        keys = command(redis_server.host, redis_server.port, "KEYS", f"{PREFIX}:{db.query_cache.namespace}:e:*")
        key = keys.split(b"\r\n")[2].decode()
        ttl = int(command(redis_server.host, redis_server.port, "PTTL", key)[1:].split(b"\r\n")[0])
        assert 0 < ttl <= 1000
        await run(other, "ItemCreateNode", {"name": "elsewhere"})
        assert await listing(db) == []  # still the entry: db did not see the write
        await asyncio.sleep(1.05)
        assert await listing(db) == [("elsewhere", 0)]
    finally:
        await other.close()
        await db.close()


async def test_redis_down_mid_test_reads_go_to_the_database_never_stale(
    database_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    a, b = cached(database_url, redis_url), cached(database_url, redis_url)
    for db in (a, b):
        await db.create_tables()
        assert isinstance(db.query_cache, RedisQueryCache)
        db.query_cache.retry_interval = 0.05
    try:
        await run(a, "ItemCreateNode", {"name": "a"})
        assert await listing(a) == await listing(b) == [("a", 0)]
        redis_server.stop()
        with pytest.warns(dataflow.CacheUnavailableWarning) as record:
            assert await listing(b) == [("a", 0)]
            await run(a, "ItemUpdateNode", {"id": 1, "fields": {"qty": 7}})  # the write itself succeeds
            await asyncio.sleep(0.06)
            assert await listing(b) == [("a", 7)]
            assert await listing(a) == [("a", 7)]
        assert any(redis_url in str(w.message) for w in record)
        assert metrics(b)["fallbacks"] >= 2 and metrics(b)["available"] is False
        redis_server.start()
        await asyncio.sleep(0.06)
        await run(b, "ItemUpdateNode", {"id": 1, "fields": {"qty": 8}})
        assert await listing(a) == [("a", 8)]
        assert await listing(b) == [("a", 8)]
        assert await listing(b) == [("a", 8)]
        assert metrics(b)["available"] is True and metrics(b)["hits"] >= 1
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dataflow.DataFlowWarning)
            await a.close()
            await b.close()


async def test_a_paused_redis_that_keeps_its_entries_is_bumped_before_it_is_used_again(
    database_url: str, redis_url: str, redis_server: RedisServer
) -> None:
    """The writer could not bump while Redis hung; once it answers, the writer drops every entry first."""
    db = cached(database_url, redis_url)
    await db.create_tables()
    assert isinstance(db.query_cache, RedisQueryCache)
    db.query_cache.timeout, db.query_cache.retry_interval = 0.1, 0.05
    try:
        await run(db, "ItemCreateNode", {"name": "a"})
        assert await listing(db) == [("a", 0)]
        assert await listing(db) == [("a", 0)]  # the entry is in Redis
        await db.query_cache.close()  # new clients, with the short timeout
        assert command(redis_server.host, redis_server.port, "CLIENT", "PAUSE", "1500").startswith(b"+OK")
        with pytest.warns(dataflow.CacheUnavailableWarning):
            await run(db, "ItemUpdateNode", {"id": 1, "fields": {"qty": 9}})
        await asyncio.sleep(1.6)  # the pause is over; the old entry is still in Redis
        assert await listing(db) == [("a", 9)]
    finally:
        await db.close()


def test_the_client_of_a_loop_closes_with_the_loop(database_url: str, redis_server: RedisServer) -> None:
    db = cached(database_url, redis_server.url())

    def connected() -> int:
        return command(redis_server.host, redis_server.port, "CLIENT", "LIST").count(b"\nid=") + 1

    async def use() -> None:
        await db.create_tables()
        assert await listing(db) == []
        assert connected() >= before + 1  # this loop's client is connected
        await db.cleanup_all_pools()  # the database's pools; the Redis client is left to the loop's end

    before = connected()
    asyncio.run(use())
    assert connected() <= before  # closed at the loop's shutdown, not left to the garbage collector
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dataflow.DataFlowWarning)  # closed from another loop (DF-703)
        asyncio.run(db.close())


def test_settings_are_checked_and_the_password_is_never_shown(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    db = DataFlow(url, enable_query_cache=True, cache_backend="redis://:hunter2@cache.internal:6379/2")
    assert isinstance(db.query_cache, RedisQueryCache)
    shown = repr(db.query_cache) + str(db.query_cache.get_metrics())
    assert "hunter2" not in shown and "redis://:***@cache.internal:6379/2" in shown
    for backend, needle in [
        ("memcached://cache:11211", "neither 'memory' nor a Redis URL"),
        ("redis://cache:6379/zero", "Redis databases are numbers"),
        ("redis://:hunter2@cache:99999/0", "port"),
        (42, "must be 'memory' or a Redis URL string"),
    ]:
        with pytest.raises(dataflow.CacheBackendConfigurationError, match=needle) as info:
            DataFlow(url, enable_query_cache=True, cache_backend=backend)  # type: ignore[arg-type]
        assert "hunter2" not in str(info.value)
    with pytest.raises(dataflow.CacheBackendConfigurationError, match="enable_query_cache is False"):
        DataFlow(url, cache_backend="redis://cache:6379/0")
    with pytest.raises(dataflow.CacheBackendConfigurationError, match="in-memory SQLite"):
        DataFlow("sqlite:///:memory:", enable_query_cache=True, cache_backend="redis://cache:6379/0")
    with pytest.raises(dataflow.ConfigurationError, match="DF-802"):
        DataFlow(url, enable_query_cache=True, cache_ttl=-1, cache_backend="redis://cache:6379/0")
    memory = DataFlow(url, enable_query_cache=True, cache_backend="memory").query_cache
    assert memory is not None and memory.get_metrics()["backend"] == "memory"


def test_redis_is_not_imported_unless_a_redis_backend_is_asked_for() -> None:
    code = (
        "import sys; from dataflow import DataFlow; DataFlow(enable_query_cache=True); "
        "assert 'redis' not in sys.modules, 'redis imported'; print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete", "bulk_update", "tx_update", "raw", "list", "count", "read"]),
        st.integers(min_value=1, max_value=4),
        st.booleans(),  # through instance a, else b
    ),
    min_size=5,
    max_size=25,
)


@settings(max_examples=STRESS_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_reads_through_two_instances_always_equal_uncached_reads(
    database_url: str, redis_url: str, operations: list[tuple[str, int, bool]]
) -> None:
    asyncio.run(_interleaving(database_url, redis_url, operations))


async def _interleaving(database_url: str, redis_url: str, operations: list[tuple[str, int, bool]]) -> None:
    a, b = cached(database_url, redis_url, cache_ttl=None), cached(database_url, redis_url, cache_ttl=None)
    plain = DataFlow(database_url)
    declare(plain)
    await a.drop_tables()  # through a cached instance: the previous example's entries are dropped in Redis
    await a.create_tables()
    rng = random.Random(len(operations))
    try:
        for kind, n, first in operations:
            db = a if first else b
            if kind == "create":
                await run(db, "ItemCreateNode", {"name": f"i{n}", "qty": n})
            elif kind == "update":
                ids = [r["id"] for r in (await run(plain, "ItemListNode", {}))["records"]]
                if ids:
                    await run(db, "ItemUpdateNode", {"id": rng.choice(ids), "fields": {"qty": n}})
            elif kind == "delete":
                await run(db, "ItemBulkDeleteNode", {"filter": {"qty": n}})
            elif kind == "bulk_update":
                await run(db, "ItemBulkUpdateNode", {"filter": {"qty": {"$lt": n}}, "fields": {"qty": n}})
            elif kind == "tx_update":
                async with db.transaction():
                    await run(db, "ItemBulkUpdateNode", {"filter": {"qty": n}, "fields": {"qty": n + 1}})
                    other = b if first else a
                    await run(other, "ItemCountNode", {})  # the other instance reads mid-transaction
            elif kind == "raw":
                async with db.connection() as connection:
                    await connection.execute(f"UPDATE items SET qty = {n} WHERE id = {n}")
            else:
                await read_matches(db, plain, kind, n)
    finally:
        await a.close()
        await b.close()
        await plain.close()
