"""The query cache's cost: a repeated count through a DataFlow instance with the cache on, against
the same count on the raw driver (the uncached DataFlow count is the ``count_filter`` row of the
same run).

``count_filter_cached_redis`` is the same count served by the Redis backend (one Lua script round
trip per hit), when ``DATAFLOW_BENCH_REDIS_URL`` names a server (``nox -s bench`` starts one with
``tests/_redis.py run``); it is left out, with a log line saying why, without one and on the
in-memory SQLite backend (whose database no other process could share).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .workloads import Suite

#: A cached read skips the database, so it must beat a database round trip.
CACHED = 1.0
#: A Redis hit is one network round trip (a Lua script) plus decoding: no slower than 1.5 raw reads.
CACHED_REDIS = 1.5
REDIS_ENV = "DATAFLOW_BENCH_REDIS_URL"


def cached_count(suite: Suite) -> None:
    """``count_filter`` again, on an instance with ``enable_query_cache=True`` (a hit after the first)."""
    _cached_count(suite, "count_filter_cached", "query cache on", CACHED, {})
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        suite.log(f"  count_filter_cached_redis: left out ({REDIS_ENV} is not set; nox -s bench sets it)")
    elif suite.t.backend == "sqlite-memory":
        suite.log("  count_filter_cached_redis: left out on sqlite-memory (no other process shares that database)")
    else:
        _cached_count(suite, "count_filter_cached_redis", "query cache in Redis", CACHED_REDIS,
                      {"cache_backend": redis_url, "cache_ttl": 300})


def _cached_count(suite: Suite, workload: str, what: str, limit: float, options: dict[str, object]) -> None:
    from dataflow import DataFlow

    from .workloads import declare_model

    n = suite.sizes.counts
    cached = DataFlow(suite.t.df_url, test_mode=False, enable_query_cache=True, **options)  # type: ignore[arg-type]
    declare_model(cached)
    rt, raw = suite.rt, suite.raw
    assert raw is not None
    workflow = cached.workflow().add_node("BenchUserCountNode", "c", {"filter": {"active": True}})

    async def df_count() -> None:
        for _ in range(n):
            res, _ = await rt.execute_workflow_async(workflow.build())
            res["c"]["count"]

    async def raw_count() -> None:
        sql = suite.sql["count"]
        for _ in range(n):
            found = await raw.fetch(sql, (True,))
            int(found[0][0])

    try:
        suite.pair(workload, f"count with a filter x{n}, {what} (hits)", n,
                   suite.timed_async(df_count), suite.timed_async(raw_count),
                   "SELECT COUNT(*) ... WHERE active = ?", f"<= {limit}x raw", limit)
    finally:
        suite.run(cached.close())
