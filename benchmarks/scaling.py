"""How cost grows with work: the points of the scaling curves that the main rows do not measure.

Every point is a row ``scale_<series>_<n>`` (information, no target) with ``extra["series"]`` and
``extra["n"]``; the main rows of the same series carry the same keys, so a curve is every row of a
series (``benchmarks/plots.py`` draws them, DataFlow and raw on one chart):

- ``bulk_create`` (and ``bulk_create_copy`` on PostgreSQL): ``BulkCreateNode`` of 1k / 10k / 100k
  rows against ``executemany`` (``COPY``);
- ``list_all`` / ``count_all``: a ``ListNode`` of the whole table and a ``CountNode`` with a filter,
  on tables of 1k / 10k / 100k rows, against the same ``SELECT`` on the raw driver;
- ``memory_list`` / ``memory_stream``: peak traced memory of listing and of streaming those tables;
- ``cleanup_pools``: ``cleanup_all_pools()`` of 10 / 100 / 1,000 instances;
- ``per_test``: the isolation projects of ``benchmarks/isolation.py`` with 100 / 1,000 / 5,000 tests
  (``dataflow_isolated`` against the raw function-scoped and session fixtures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import isolation
from ._backends import COLUMNS, Target
from ._harness import Result
from .workloads import Sizes, Suite


def measure(target: Target, sizes: Sizes, *, log: Callable[[str], None] = print, per_test: bool = True
            ) -> list[Result]:
    """The scaling rows of ``target`` (``per_test=False`` leaves out the pytest subprocess runs)."""
    suite = Suite(target, sizes, log=log)
    suite.setup()
    try:
        for n in sizes.scale_rows:
            if n != sizes.memory_rows:
                suite.memory(n)  # leaves the n rows in the tables
            else:
                suite.run(suite.clear())
                suite.run(suite.load(n))
            _reads(suite, n)
        suite.run(suite.clear())
        for n in sizes.scale_rows:
            if n not in sizes.bulk:
                suite._bulk_of(n, prefix="scale_")
        suite.run(suite.clear())
        for n in sizes.scale_pools:
            if n != sizes.pools:
                suite.cleanup_pools(n)
    finally:
        suite.teardown()
    rows = suite.results
    if per_test:
        for n in sizes.scale_tests:
            rows += _per_test(target, n, sizes, log)
    return rows


def _reads(suite: Suite, n: int) -> None:
    """List every row and count with a filter, on a table of ``n`` rows."""
    from dataflow import WorkflowBuilder

    rt, raw = suite.rt, suite.raw
    assert raw is not None
    ops = max(1, min(suite.sizes.counts, 200_000 // n))  # about the same time per repeat at every size

    async def df_list() -> None:
        for _ in range(ops):
            wf = WorkflowBuilder()
            wf.add_node("BenchUserListNode", "l", {})
            res, _ = await rt.execute_workflow_async(wf.build())
            assert res["l"]["count"] == n

    async def raw_list() -> None:
        assert raw is not None
        for _ in range(ops):
            records = [dict(zip(COLUMNS, r, strict=True)) for r in await raw.fetch(suite.sql["list_all"])]
            assert len(records) == n

    suite.pair(f"scale_list_all_{n}", f"list of every row x{ops} ({n:,}-row table)", ops,
               suite.timed_async(df_list), suite.timed_async(raw_list), 'SELECT ... ORDER BY "id" (dicts)', "",
               None, repeats=suite.sizes.scale_repeats, extra={"series": "list_all", "n": n})

    async def df_count() -> None:
        for _ in range(ops):
            wf = WorkflowBuilder()
            wf.add_node("BenchUserCountNode", "c", {"filter": {"active": True}})
            res, _ = await rt.execute_workflow_async(wf.build())
            res["c"]["count"]

    async def raw_count() -> None:
        assert raw is not None
        for _ in range(ops):
            int((await raw.fetch(suite.sql["count"], (True,)))[0][0])

    suite.pair(f"scale_count_{n}", f"count with a filter x{ops} ({n:,}-row table)", ops,
               suite.timed_async(df_count), suite.timed_async(raw_count), "SELECT COUNT(*) ... WHERE active = ?",
               "", None, repeats=suite.sizes.scale_repeats, extra={"series": "count", "n": n})


def _per_test(target: Target, tests: int, sizes: Sizes, log: Callable[[str], None]) -> list[Result]:
    """Per-test cost of ``tests`` isolated tests (no warm-up run; ``scale_repeats`` runs of each
    project up to 1,000 tests, where start-up noise weighs most, one run above)."""
    repeats = sizes.scale_repeats if tests <= 1000 else 1
    rows = isolation.measure(target, tests=tests, repeats=repeats, warmup=False, log=lambda _: None)
    for row in rows:
        variant = row.workload.removeprefix("isolation_")
        row.workload = f"scale_per_test_{tests}_{variant}"
        row.target, row.limit = "", None
        row.extra.update({"series": "per_test", "n": tests, "raw_variant": variant})
        row.finish()
        raw = row.raw.median if row.raw else float("nan")
        log(f"  {target.backend:<13} {row.workload:<22} df {row.df.median:9.2f} ms/test raw {raw:9.2f}  "
            f"{row.ratio or 0:6.2f}x  {row.status}")
    return rows


def series(data: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The rows of each (backend, series), ordered by ``n``: what a chart of the curve needs."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in data["results"]:
        extra = row.get("extra") or {}
        if "series" in extra:
            key = extra["series"] + (f":{extra['raw_variant']}" if "raw_variant" in extra else "")
            out.setdefault((row["backend"], key), []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r["extra"]["n"])
    return out
