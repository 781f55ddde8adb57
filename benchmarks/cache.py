"""The query cache's cost: a repeated count through a DataFlow instance with the cache on, against
the same count on the raw driver (the uncached DataFlow count is the ``count_filter`` row)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .workloads import Suite

#: A cached read skips the database, so it must beat a database round trip.
CACHED = 1.0


def cached_count(suite: Suite) -> None:
    """``count_filter`` again, on an instance with ``enable_query_cache=True`` (a hit after the first)."""
    from dataflow import DataFlow

    from .workloads import declare_model

    n = suite.sizes.counts
    cached = DataFlow(suite.t.df_url, test_mode=False, enable_query_cache=True)
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
        suite.pair("count_filter_cached", f"count with a filter x{n}, query cache on (hits)", n,
                   suite.timed_async(df_count), suite.timed_async(raw_count),
                   "SELECT COUNT(*) ... WHERE active = ?", f"<= {CACHED}x raw", CACHED)
    finally:
        suite.run(cached.close())
