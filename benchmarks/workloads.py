"""In-process workloads: DataFlow and the raw driver doing the same SQL work, alternating.

Every item returns a :class:`~benchmarks._harness.Result`. All items of one backend share one
``asyncio.Runner`` (so pools stay warm, as in an application); the ``LocalRuntime`` item runs from
synchronous code next to a raw driver on its own event loop, as an application without async would.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ._backends import COLUMNS, DF_TABLE, RAW_TABLE, RawPostgres, RawSQLite, Target, ddl
from ._harness import Result, Stats, alternate3
from .peer import LABEL as PEER
from .peer import SQLAlchemyCore

SINGLE = 1.5
BULK = 1.2


@dataclass
class Sizes:
    """Operation counts; ``full()`` is the published configuration."""

    creates: int = 1000
    reads: int = 1000
    lists: int = 200
    counts: int = 200
    rows: int = 10_000
    bulk: tuple[int, ...] = (1000, 10_000)
    upserts: int = 1000
    workflows: int = 200
    pools: int = 100
    memory_rows: int = 100_000
    repeats: int = 5
    # The scaling curves (benchmarks/scaling.py): table sizes, tests per run, pools; a size the main
    # rows already measure (bulk, memory_rows, pools) is taken from them, not measured twice.
    scale_rows: tuple[int, ...] = (1000, 10_000, 100_000)
    scale_tests: tuple[int, ...] = (100, 1000, 5000)
    scale_pools: tuple[int, ...] = (10, 100, 1000)
    scale_repeats: int = 3

    @classmethod
    def full(cls) -> Sizes:
        return cls()

    @classmethod
    def quick(cls) -> Sizes:
        return cls(200, 200, 50, 50, 10_000, (1000, 10_000), 200, 50, 100, 10_000, 3,
                   scale_rows=(1000, 10_000, 30_000), scale_tests=(20, 100, 300), scale_pools=(10, 100, 200),
                   scale_repeats=1)

    @classmethod
    def tiny(cls) -> Sizes:
        """One small iteration of everything (the harness smoke tests)."""
        return cls(3, 3, 2, 2, 50, (5,), 3, 2, 2, 50, 1, scale_rows=(5, 20, 50), scale_tests=(2, 3),
                   scale_pools=(1, 2), scale_repeats=1)


def declare_model(db: Any) -> Any:
    from dataflow import Field

    @db.model(table=DF_TABLE)
    class BenchUser:
        id: int
        name: str
        email: str = Field(unique=True)
        age: int = Field(index=True)
        active: bool = True

    return BenchUser


class Suite:
    """The in-process workloads of one backend."""

    def __init__(self, target: Target, sizes: Sizes, *, log: Callable[[str], None] = print) -> None:
        self.t = target
        self.sizes = sizes
        self.log = log
        self.results: list[Result] = []
        self.runner = asyncio.Runner()
        self._seq = itertools.count()
        self.db: Any = None
        self.raw: RawSQLite | RawPostgres | None = None
        self.peer: SQLAlchemyCore | None = None
        n = 5
        ph = target.placeholders(n)
        cols = ", ".join(f'"{c}"' for c in COLUMNS)
        t = f'"{RAW_TABLE}"'
        p = target.placeholders
        self.sql = {
            "insert": f'INSERT INTO {t} ("name", "email", "age", "active") VALUES ({", ".join(p(4))}) RETURNING {cols}',
            "insert_many": f'INSERT INTO {t} ("name", "email", "age", "active") VALUES ({", ".join(p(4))})',
            "read": f'SELECT {cols} FROM {t} WHERE ("id" = {p(1)[0]}) ORDER BY "id" ASC LIMIT {p(1, 2)[0]}',
            "list": f'SELECT {cols} FROM {t} WHERE (("age" < {p(1)[0]}) AND ("active" = {p(1, 2)[0]})) '
            f'ORDER BY "id" ASC LIMIT {p(1, 3)[0]}',
            "list_all": f'SELECT {cols} FROM {t} ORDER BY "id" ASC',
            "count": f'SELECT COUNT(*) FROM {t} WHERE ("active" = {p(1)[0]})',
            "upsert": f'INSERT INTO {t} ("email", "name", "age", "active") VALUES ({", ".join(p(4))}) '
            f'ON CONFLICT ("email") DO UPDATE SET "age" = {p(1, 5)[0]} RETURNING {cols}',
            "update": f'UPDATE {t} SET "age" = {p(1)[0]} WHERE ("id" = {p(1, 2)[0]}) RETURNING {cols}',
        }
        del ph

    # --- plumbing -------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.runner.run(coro)

    def timed_async(self, body: Callable[[], Coroutine[Any, Any, None]],
                     setup: Callable[[], Coroutine[Any, Any, None]] | None = None) -> Callable[[], float]:
        async def once() -> float:
            if setup is not None:
                await setup()
            start = time.perf_counter()
            await body()
            return time.perf_counter() - start

        return lambda: self.run(once())

    def add(self, result: Result) -> Result:
        result.finish()
        self.results.append(result)
        ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "-"
        self.log(f"  {self.t.backend:<13} {result.workload:<22} df {result.df.median:9.2f} {result.unit:<7} "
                 f"raw {result.raw.median if result.raw else float('nan'):9.2f}  {ratio:>7}  {result.status}")
        return result

    def pair(self, workload: str, title: str, ops: int, df: Callable[[], float], raw: Callable[[], float] | None,
             raw_label: str, target: str, limit: float | None, *, repeats: int | None = None,
             unit: str = "ms", warmup: bool = True, absolute: bool = False,
             peer: Callable[[], float] | None = None, peer_label: str = "", extra: dict[str, Any] | None = None,
             ) -> Result:
        df_ms, raw_ms, peer_ms = alternate3(df, raw, peer, repeats=repeats or self.sizes.repeats, warmup=warmup)
        return self.add(Result(workload, title, self.t.backend, unit, ops, Stats.of(df_ms),
                               Stats.of(raw_ms) if raw_ms else None, raw_label, target, limit,
                               absolute=absolute, extra=extra or {},
                               peer=Stats.of(peer_ms) if peer_ms else None,
                               peer_label=peer_label if peer_ms else ""))

    def email(self) -> str:
        return f"u{next(self._seq)}@example.com"

    def rows(self, n: int) -> list[tuple[str, str, int, bool]]:
        base = next(self._seq)
        return [(f"user {i}", f"b{base}-{i}@example.com", i % 80, i % 3 != 0) for i in range(n)]

    # --- setup ----------------------------------------------------------------------------------

    def setup(self) -> None:
        from dataflow import AsyncLocalRuntime, DataFlow

        self.db = DataFlow(self.t.df_url, test_mode=False)
        self.model = declare_model(self.db)
        self.rt = AsyncLocalRuntime()
        self.raw = self.t.raw_driver()
        self.peer = SQLAlchemyCore(self.t)

        async def prepare() -> None:
            assert self.raw is not None and self.peer is not None
            await self.raw.open()
            await self.peer.open()
            await self.raw.execute(f'DROP TABLE IF EXISTS "{RAW_TABLE}"')
            for stmt in ddl(self.t.backend, RAW_TABLE):
                await self.raw.execute(stmt)
            await self.db.drop_tables()
            await self.db.create_tables()

        self.run(prepare())

    def teardown(self) -> None:
        async def close() -> None:
            if self.raw is not None:
                if self.t.backend == "postgresql" or self.t.backend == "sqlite-file":
                    await self.raw.execute(f'DROP TABLE IF EXISTS "{RAW_TABLE}"')
                await self.raw.close()
            if self.peer is not None:
                await self.peer.close()
            if self.db is not None:
                if self.t.backend != "sqlite-memory":
                    await self.db.drop_tables()
                await self.db.close()

        try:
            self.run(close())
        finally:
            self.runner.close()

    async def clear(self) -> None:
        assert self.raw is not None
        from dataflow import WorkflowBuilder

        wf = WorkflowBuilder()
        wf.add_node("BenchUserBulkDeleteNode", "d", {"filter": {}})
        await self.rt.execute_workflow_async(wf.build())
        await self.raw.execute(f'DELETE FROM "{RAW_TABLE}"')
        if self.peer is not None:
            await self.peer.clear()

    async def load(self, n: int) -> None:
        """``n`` identical rows in both tables."""
        assert self.raw is not None
        rows = self.rows(n)
        from dataflow import WorkflowBuilder

        records = [dict(zip(("name", "email", "age", "active"), r, strict=True)) for r in rows]
        wf = WorkflowBuilder()
        wf.add_node("BenchUserBulkCreateNode", "b", {"records": records})
        await self.rt.execute_workflow_async(wf.build())
        await self.raw.executemany(self.sql["insert_many"], rows)
        if self.peer is not None:
            await self.peer.bulk_create(records)
        if self.t.backend == "postgresql":
            await self.raw.execute(f'ANALYZE "{RAW_TABLE}"')
            await self.raw.execute(f'ANALYZE "{DF_TABLE}"')

    # --- workloads ------------------------------------------------------------------------------

    def all(self) -> list[Result]:
        self.setup()
        try:
            for item in (self.single_create_async, self.single_create_sync, self.schema_cache, self.reads,
                         self.cached_count, self.cdc_read,
                         self.memory, self.bulk, self.upsert, self.workflow5, self.cleanup_pools, self.error_modes):
                item()
                gc.collect()
        finally:
            self.teardown()
        return self.results

    def single_create_async(self) -> None:
        from dataflow import WorkflowBuilder

        n = self.sizes.creates
        rt, raw, sql = self.rt, self.raw, self.sql["insert"]
        assert raw is not None

        async def df() -> None:
            for _ in range(n):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserCreateNode", "c", {"name": "Alice", "email": self.email(), "age": 30,
                                                         "active": True})
                results, _ = await rt.execute_workflow_async(wf.build())
                results["c"]["id"]

        async def raw_side() -> None:
            for _ in range(n):
                rows = await raw.fetch(sql, ("Alice", self.email(), 30, True))
                dict(zip(COLUMNS, rows[0], strict=True))["id"]

        peer = self.peer
        assert peer is not None

        async def peer_side() -> None:
            for _ in range(n):
                (await peer.create("Alice", self.email(), 30, True))["id"]

        self.pair("create_async", f"single create x{n}, AsyncLocalRuntime (workflow built per call)", n,
                  self.timed_async(df), self.timed_async(raw_side), "INSERT ... RETURNING, autocommit",
                  f"<= {SINGLE}x raw", SINGLE, peer=self.timed_async(peer_side),
                  peer_label=f"{PEER}: insert().returning() in engine.begin()")

    def single_create_sync(self) -> None:
        from dataflow import LocalRuntime, WorkflowBuilder

        n = self.sizes.creates
        sql = self.sql["insert"]
        runtime = LocalRuntime()
        loop = asyncio.new_event_loop()
        raw = self.t.raw_driver()
        loop.run_until_complete(raw.open())
        if self.t.backend == "sqlite-memory":  # a second in-memory database: give it the table too
            for stmt in ddl(self.t.backend, RAW_TABLE):
                loop.run_until_complete(raw.execute(stmt))

        def df() -> float:
            start = time.perf_counter()
            for _ in range(n):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserCreateNode", "c", {"name": "Bob", "email": self.email(), "age": 40,
                                                         "active": False})
                results, _ = runtime.execute(wf.build())
                results["c"]["id"]
            return time.perf_counter() - start

        async def one() -> None:
            rows = await raw.fetch(sql, ("Bob", self.email(), 40, False))
            dict(zip(COLUMNS, rows[0], strict=True))["id"]

        def raw_side() -> float:
            start = time.perf_counter()
            for _ in range(n):
                loop.run_until_complete(one())
            return time.perf_counter() - start

        try:
            self.pair("create_sync", f"single create x{n}, LocalRuntime (sync)", n, df, raw_side,
                      "loop.run_until_complete(INSERT ... RETURNING) per call", f"<= {SINGLE}x raw", SINGLE)
        finally:
            runtime.close()
            loop.run_until_complete(raw.close())
            loop.close()

    def reads(self) -> None:
        from dataflow import WorkflowBuilder

        rows = self.sizes.rows
        self.run(self.clear())
        self.run(self.load(rows))
        rt, raw = self.rt, self.raw
        assert raw is not None

        async def ids(table: str) -> list[int]:
            assert raw is not None
            if table == RAW_TABLE:
                return [r[0] for r in await raw.fetch(f'SELECT "id" FROM "{table}" ORDER BY "id"')]
            wf = WorkflowBuilder()
            wf.add_node("BenchUserListNode", "l", {})
            res, _ = await rt.execute_workflow_async(wf.build())
            return [r["id"] for r in res["l"]["records"]]

        peer = self.peer
        assert peer is not None
        df_ids, raw_ids, peer_ids = self.run(ids(DF_TABLE)), self.run(ids(RAW_TABLE)), self.run(peer.ids())
        n = self.sizes.reads
        step = max(1, len(df_ids) // n)
        df_pick = [df_ids[(i * step) % len(df_ids)] for i in range(n)]
        raw_pick = [raw_ids[(i * step) % len(raw_ids)] for i in range(n)]
        peer_pick = [peer_ids[(i * step) % len(peer_ids)] for i in range(n)]

        async def peer_read() -> None:
            for record_id in peer_pick:
                (await peer.read(record_id))["email"]

        async def df_read() -> None:
            for record_id in df_pick:
                wf = WorkflowBuilder()
                wf.add_node("BenchUserReadNode", "r", {"id": record_id})
                res, _ = await rt.execute_workflow_async(wf.build())
                res["r"]["email"]

        async def raw_read() -> None:
            sql = self.sql["read"]
            for record_id in raw_pick:
                found = await raw.fetch(sql, (record_id, 1))
                dict(zip(COLUMNS, found[0], strict=True))["email"]

        self.pair("read_by_id", f"read by id x{n} (table of {rows:,} rows)", n, self.timed_async(df_read),
                  self.timed_async(raw_read), "SELECT ... WHERE id = ? LIMIT 1", f"<= {SINGLE}x raw", SINGLE,
                  peer=self.timed_async(peer_read), peer_label=f"{PEER}: select().where(id).limit(1)")

        n = self.sizes.lists
        flt = {"age": {"$lt": 30}, "active": True}

        async def df_list() -> None:
            for _ in range(n):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserListNode", "l", {"filter": flt, "limit": 100})
                res, _ = await rt.execute_workflow_async(wf.build())
                assert 0 < res["l"]["count"] <= 100

        async def raw_list() -> None:
            sql = self.sql["list"]
            for _ in range(n):
                found = await raw.fetch(sql, (30, True, 100))
                records = [dict(zip(COLUMNS, r, strict=True)) for r in found]
                assert 0 < len(records) <= 100

        async def peer_list() -> None:
            for _ in range(n):
                assert 0 < len(await peer.list(30, True, 100)) <= 100

        self.pair("list_filter", f"list, 2-condition filter, limit 100, x{n} ({rows:,} rows)", n,
                  self.timed_async(df_list), self.timed_async(raw_list),
                  "SELECT ... WHERE age < ? AND active = ? ORDER BY id LIMIT 100", f"<= {SINGLE}x raw", SINGLE,
                  peer=self.timed_async(peer_list), peer_label=f"{PEER}: select().where(...).limit(100)")

        n = self.sizes.counts

        async def df_count() -> None:
            for _ in range(n):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserCountNode", "c", {"filter": {"active": True}})
                res, _ = await rt.execute_workflow_async(wf.build())
                res["c"]["count"]

        async def raw_count() -> None:
            sql = self.sql["count"]
            for _ in range(n):
                found = await raw.fetch(sql, (True,))
                int(found[0][0])

        async def peer_count() -> None:
            for _ in range(n):
                await peer.count(True)

        self.pair("count_filter", f"count with a filter x{n} ({rows:,} rows)", n, self.timed_async(df_count),
                  self.timed_async(raw_count), "SELECT COUNT(*) ... WHERE active = ?", f"<= {SINGLE}x raw", SINGLE,
                  peer=self.timed_async(peer_count), peer_label=f"{PEER}: select(func.count()).where(...)")

    def schema_cache(self) -> None:
        from .claims import schema_cache

        schema_cache(self)

    def cached_count(self) -> None:
        from .cache import cached_count

        cached_count(self)

    def cdc_read(self) -> None:
        from .cdc import cdc_read

        cdc_read(self)

    def memory(self, n: int | None = None) -> None:
        """Peak traced memory of listing and of streaming ``n`` rows (``memory_rows`` by default; other
        sizes are the scaling curve's ``scale_memory_*_<n>`` rows)."""
        from dataflow import WorkflowBuilder

        main = n is None
        n = self.sizes.memory_rows if n is None else n
        names = {s: s if main else f"scale_{s}_{n}" for s in ("memory_list", "memory_stream")}
        self.run(self.clear())
        self.run(self.load(n))
        rt, raw = self.rt, self.raw
        assert raw is not None

        def peak(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], float]:
            def side() -> float:
                gc.collect()
                tracemalloc.start()
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
                kept = self.run(coro_fn())
                peak_bytes = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
                del kept
                return peak_bytes / 1024 / 1024 / 1000  # alternate() multiplies by 1000 -> MiB

            return side

        async def df() -> Any:
            wf = WorkflowBuilder()
            wf.add_node("BenchUserListNode", "l", {})
            res, _ = await rt.execute_workflow_async(wf.build())
            assert res["l"]["count"] == n
            return res

        async def raw_fetch() -> Any:
            assert raw is not None
            found = await raw.fetch(self.sql["list_all"])
            assert len(found) == n
            return found

        self.pair(names["memory_list"], f"peak memory of listing {n:,} rows (tracemalloc)", n, peak(df),
                  peak(raw_fetch), "fetch of the same rows (driver rows, no dicts)", "", None, repeats=3, unit="MiB",
                  extra={"series": "memory_list", "n": n})

        async def df_stream() -> int:
            seen = 0
            async for batch in self.db.stream(self.model, batch_size=1000):
                seen += len(batch)
            assert seen == n
            return seen

        self.pair(names["memory_stream"], f"peak memory of streaming {n:,} rows, batches of 1,000 (db.stream)", n,
                  peak(df_stream), peak(raw_fetch), "fetch of the same rows (driver rows, no dicts)", "", None,
                  repeats=3, unit="MiB", extra={"series": "memory_stream", "n": n})

    def bulk(self) -> None:
        self.run(self.clear())
        for n in self.sizes.bulk:
            self._bulk_of(n)
        self.run(self.clear())

    def _bulk_of(self, n: int, prefix: str = "") -> None:
        """The bulk-create workloads for batches of ``n`` rows (``prefix="scale_"``: a point of the
        scaling curve only, for information)."""
        from dataflow import WorkflowBuilder

        rt, raw = self.rt, self.raw
        assert raw is not None
        batches: dict[str, Any] = {}

        async def df_setup() -> None:
            await self.clear()
            batches["df"] = [dict(zip(("name", "email", "age", "active"), r, strict=True)) for r in self.rows(n)]

        async def raw_setup() -> None:
            await self.clear()
            batches["raw"] = self.rows(n)

        async def df() -> None:
            wf = WorkflowBuilder()
            wf.add_node("BenchUserBulkCreateNode", "b", {"records": batches["df"]})
            res, _ = await rt.execute_workflow_async(wf.build())
            assert res["b"]["created"] == n

        async def raw_many() -> None:
            assert raw is not None
            await raw.executemany(self.sql["insert_many"], batches["raw"])

        peer = self.peer
        assert peer is not None

        async def peer_setup() -> None:
            await self.clear()
            batches["peer"] = [dict(zip(("name", "email", "age", "active"), r, strict=True)) for r in self.rows(n)]

        async def peer_many() -> None:
            assert peer is not None
            await peer.bulk_create(batches["peer"])

        df_side = self.timed_async(df, df_setup)
        raw_side = self.timed_async(raw_many, raw_setup)
        limit = None if prefix else BULK
        self.pair(f"{prefix}bulk_create_{n}", f"bulk create of {n:,} rows (BulkCreateNode)", n, df_side, raw_side,
                  "executemany in one transaction", f"<= {BULK}x raw" if limit else "", limit,
                  extra={"series": "bulk_create", "n": n},
                  peer=self.timed_async(peer_many, peer_setup),
                  peer_label=f"{PEER}: conn.execute(insert(), rows) in engine.begin()")
        if isinstance(raw, RawPostgres):
            async def raw_copy() -> None:
                assert isinstance(raw, RawPostgres)
                await raw.copy(RAW_TABLE, ("name", "email", "age", "active"), batches["raw"])

            limit = BULK if n >= 10_000 and not prefix else None
            self.pair(f"{prefix}bulk_create_{n}_copy", f"bulk create of {n:,} rows vs COPY", n, df_side,
                      self.timed_async(raw_copy, raw_setup), "copy_records_to_table in one transaction",
                      f"<= {BULK}x COPY" if limit else "", limit, extra={"series": "bulk_create_copy", "n": n})

    def upsert(self) -> None:
        from dataflow import WorkflowBuilder

        n = self.sizes.upserts
        rt, raw = self.rt, self.raw
        assert raw is not None
        keys = max(1, n // 2)

        def emails() -> list[str]:
            base = next(self._seq)
            return [f"up{base}-{i % keys}@example.com" for i in range(n)]  # each key: created, then updated

        async def df() -> None:
            for i, email in enumerate(emails()):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserUpsertNode", "u", {"where": {"email": email},
                                                         "create": {"name": "U", "age": 1, "active": True},
                                                         "update": {"age": i}, "conflict_on": ["email"]})
                res, _ = await rt.execute_workflow_async(wf.build())
                res["u"]["record"]["id"]

        async def raw_side() -> None:
            sql = self.sql["upsert"]
            for i, email in enumerate(emails()):
                found = await raw.fetch(sql, (email, "U", 1, True, i))
                dict(zip(COLUMNS, found[0], strict=True))["id"]

        peer = self.peer
        assert peer is not None

        async def peer_side() -> None:
            for i, email in enumerate(emails()):
                (await peer.upsert(email, "U", 1, True, i))["id"]

        self.pair("upsert", f"upsert with conflict_on=email x{n} (half create, half update)", n,
                  self.timed_async(df), self.timed_async(raw_side),
                  "INSERT ... ON CONFLICT (email) DO UPDATE ... RETURNING", f"<= {SINGLE}x raw", SINGLE,
                  peer=self.timed_async(peer_side), peer_label=f"{PEER}: insert().on_conflict_do_update().returning()")

    def workflow5(self) -> None:
        from dataflow import WorkflowBuilder

        n = self.sizes.workflows
        rt, raw = self.rt, self.raw
        assert raw is not None

        async def df() -> None:
            for _ in range(n):
                wf = WorkflowBuilder()
                wf.add_node("BenchUserCreateNode", "create", {"name": "W", "email": self.email(), "age": 20,
                                                              "active": True})
                wf.add_node("BenchUserReadNode", "read", {})
                wf.add_node("BenchUserUpdateNode", "update", {"fields": {"age": 21}})
                wf.add_node("BenchUserCountNode", "count", {"filter": {"active": True}})
                wf.add_node("BenchUserListNode", "list", {"filter": {"age": {"$lt": 30}, "active": True},
                                                          "limit": 10})
                wf.add_connection("create", "id", "read", "id")
                wf.add_connection("read", "id", "update", "id")
                res, _ = await rt.execute_workflow_async(wf.build())
                assert res["update"]["age"] == 21

        async def raw_side() -> None:
            s = self.sql
            for _ in range(n):
                found = await raw.fetch(s["insert"], ("W", self.email(), 20, True))
                created = dict(zip(COLUMNS, found[0], strict=True))
                found = await raw.fetch(s["read"], (created["id"], 1))
                read = dict(zip(COLUMNS, found[0], strict=True))
                found = await raw.fetch(s["update"], (21, read["id"]))
                updated = dict(zip(COLUMNS, found[0], strict=True))
                int((await raw.fetch(s["count"], (True,)))[0][0])
                [dict(zip(COLUMNS, r, strict=True)) for r in await raw.fetch(s["list"], (30, True, 10))]
                assert updated["age"] == 21

        self.pair("workflow_5_nodes", f"5-node workflow (create, read, update, count, list) x{n}", n,
                  self.timed_async(df), self.timed_async(raw_side), "the same 5 statements in sequence",
                  f"<= {SINGLE}x raw", SINGLE)

    def error_modes(self) -> None:
        """What one DF error costs, raised by a node's validation and turned into text, per mode."""
        if self.t.backend != "sqlite-memory":
            return  # no database work: measured once
        from dataflow import DataFlow, DataFlowError, PerformanceMode

        n = self.sizes.creates
        limits = {PerformanceMode.FULL: 5.0, PerformanceMode.MINIMAL: 1.0, PerformanceMode.DISABLED: 0.1}
        for mode, limit in limits.items():
            db = DataFlow("sqlite:///:memory:", test_mode=False, error_enhancer=mode)

            @db.model
            class Person:
                id: int
                name: str
                email: str

            node = db.nodes["PersonCreateNode"]
            enhancer = db.error_enhancer

            def df(node: Any = node, enhancer: Any = enhancer) -> float:
                start = time.perf_counter()
                for i in range(n):
                    try:
                        node.validate({"name": f"user {i}"})
                    except DataFlowError as exc:
                        str(enhancer.enhance(exc))
                return (time.perf_counter() - start) / n

            def raw() -> float:
                start = time.perf_counter()
                for i in range(n):
                    try:
                        raise ValueError(f"missing field 'email' for user {i}")
                    except ValueError as exc:
                        str(exc)
                return (time.perf_counter() - start) / n

            self.pair(f"error_{mode.value}", f"one DF-101 raised by validation and printed, mode {mode.value}", n,
                      df, raw, "raise + str() of a ValueError", f"<= {limit:g} ms per error", limit,
                      unit="ms/error", absolute=True)

    def cleanup_pools(self, n: int | None = None) -> None:
        """``cleanup_all_pools()`` of ``pools`` instances (other counts: the scaling curve's
        ``scale_cleanup_pools_<n>`` rows, for information)."""
        from dataflow import DataFlow

        main = n is None
        n = self.sizes.pools if n is None else n
        batch = n
        if self.t.backend == "postgresql":
            assert self.raw is not None
            max_conn = int(self.run(self.raw.fetch("SHOW max_connections"))[0][0])
            batch = max(1, min(n, (max_conn - 30) // 2))

        async def df_batch(count: int) -> float:
            dbs = []
            for _ in range(count):
                db = DataFlow(self.t.df_url, test_mode=False)
                declare_model(db)
                await db.create_tables()  # opens this instance's pool on the running loop
                dbs.append(db)
            t0 = time.perf_counter()
            closed = 0
            for db in dbs:
                closed += await db.cleanup_all_pools()
            elapsed = time.perf_counter() - t0
            assert closed == count, closed
            for db in dbs:
                await db.close()
            return elapsed

        def df() -> float:
            total = 0.0
            for start in range(0, n, batch):
                total += self.run(df_batch(min(batch, n - start)))
            return total

        async def raw_batch(count: int) -> float:
            drivers = []
            for _ in range(count):
                d = self.t.raw_driver()
                await d.open()
                drivers.append(d)
            t0 = time.perf_counter()
            for d in drivers:
                await d.close()
            return time.perf_counter() - t0

        def raw_side() -> float:
            total = 0.0
            for start in range(0, n, batch):
                total += self.run(raw_batch(min(batch, n - start)))
            return total

        pg = self.t.backend == "postgresql"
        what = "asyncpg pools" if pg else "aiosqlite connections"
        # An asyncpg pool's close() waits for the server to end each connection (~2-4 ms here), so
        # on PostgreSQL the raw close of 100 pools alone is over 100 ms: there the target is relative.
        target, limit = ("<= 1.2x raw", 1.2) if pg else ("< 100 ms", 100.0)
        self.pair("cleanup_pools" if main else f"scale_cleanup_pools_{n}",
                  f"cleanup_all_pools() of {n} open pools (one per DataFlow instance)", n, df, raw_side,
                  f"close() of {n} {what}", target if main else "", limit if main else None,
                  # above the main count (1,000 pools: over a minute per run on PostgreSQL) one run, no warm-up
                  repeats=3 if main else self.sizes.scale_repeats if n <= self.sizes.pools else 1,
                  warmup=main or n <= self.sizes.pools, absolute=main and not pg,
                  extra={"series": "cleanup_pools", "n": n})
