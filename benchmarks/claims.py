"""The seeds' performance claims, measured in the same run instead of quoted.

- "Schema cache: ~1 ms after the first operation (99% faster)": the same single creates through
  ``AsyncLocalRuntime`` on an instance with ``schema_cache_enabled=False`` (every operation runs
  its table's idempotent ``CREATE TABLE IF NOT EXISTS`` first) and on one with the cache on (the
  default), next to the raw driver, alternating. The row is the cache-off instance against raw;
  the cache-on median of the same repeats is in ``extra`` and :func:`schema_cache_claim` turns
  the pair into the percentage the seed states.
- "Error enhancement < 5 ms in FULL mode, < 1 ms in MINIMAL": the ``error_<mode>`` rows of
  :meth:`benchmarks.workloads.Suite.error_modes` (their limits are the seed's numbers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._harness import Result, Stats, alternate3

if TYPE_CHECKING:
    from .workloads import Suite

SEED_SCHEMA_CACHE = "schema cache: ~1 ms per operation after the first, 99% faster"
SEED_ERRORS = {"full": "< 5 ms per error", "minimal": "< 1 ms per error", "disabled": "(no claim)"}


def schema_cache(suite: Suite) -> None:
    """Single creates with the schema cache off and on, against the raw driver."""
    from dataflow import DataFlow

    from ._backends import COLUMNS
    from .workloads import declare_model

    n = suite.sizes.creates
    off = DataFlow(suite.t.df_url, test_mode=False, schema_cache_enabled=False)
    declare_model(off)
    rt, raw, on = suite.rt, suite.raw, suite.db
    assert raw is not None

    def creates(db: Any) -> Any:
        async def body() -> None:
            for _ in range(n):
                wf = db.workflow()
                wf.add_node("BenchUserCreateNode", "c", {"name": "S", "email": suite.email(), "age": 3,
                                                         "active": True})
                results, _ = await rt.execute_workflow_async(wf.build())
                results["c"]["id"]

        return body

    async def raw_side() -> None:
        sql = suite.sql["insert"]
        for _ in range(n):
            rows = await raw.fetch(sql, ("S", suite.email(), 3, True))
            dict(zip(COLUMNS, rows[0], strict=True))["id"]

    try:
        off_ms, raw_ms, on_ms = alternate3(suite.timed_async(creates(off)), suite.timed_async(raw_side),
                                           suite.timed_async(creates(on)), repeats=suite.sizes.repeats)
    finally:
        suite.run(off.close())
    cache_on = Stats.of(on_ms)
    suite.add(Result("schema_cache_off", f"single create x{n}, schema_cache_enabled=False (table check each time)",
                     suite.t.backend, "ms", n, Stats.of(off_ms), Stats.of(raw_ms), "INSERT ... RETURNING, autocommit",
                     "", None, extra={"cache_on": {"median": round(cache_on.median, 4), "min": round(cache_on.min, 4),
                                                   "max": round(cache_on.max, 4)},
                                      "seed_claim": SEED_SCHEMA_CACHE}))


def schema_cache_claim(row: dict[str, Any]) -> str:
    """What the ``schema_cache_off`` row measured, in the seed's terms (time saved per operation)."""
    off, on = row["df"]["median"], row["extra"]["cache_on"]["median"]
    ops = row["ops"]
    saved = (1 - on / off) * 100 if off > 0 else 0.0
    return (f"{on / ops * 1000:,.0f} µs per create with the cache, {off / ops * 1000:,.0f} µs without: "
            f"{abs(saved):.0f}% {'less' if saved >= 0 else 'more'} time per operation with the cache")
