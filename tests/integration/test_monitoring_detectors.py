"""DeadlockDetectorNode, RaceConditionDetectorNode and PerformanceAnomalyNode on real databases, and
the OpenTelemetry export read back through the SDK's in-memory metric reader: a real deadlock with
both statements, the lock wait graph while it forms, lock waits that gave up, a serialization
failure, two writers of one row, a statement made slow for real."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

import dataflow
from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    DeadlockDetector,
    PerformanceAnomalyDetector,
    RaceConditionDetector,
    SerializationFailureError,
    WorkflowBuilder,
    watch,
)


def declare(db: DataFlow) -> None:
    @db.model
    class Item:
        id: int
        name: str = ""


async def execute(workflow: WorkflowBuilder) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def seed_items(db: DataFlow, *names: str) -> None:
    records = [{"name": name} for name in names]
    await execute(db.workflow().add_node("ItemBulkCreateNode", "b", {"records": records}))


@pytest.mark.postgresql_only(reason="SQLite has one writer at a time, so two transactions cannot deadlock there")
async def test_a_deadlock_is_reported_with_both_statements(db: DataFlow) -> None:
    declare(db)
    await seed_items(db, "one", "two")
    watch(db)
    locked = {"a": asyncio.Event(), "b": asyncio.Event()}
    graph_read = asyncio.Event()
    sql_a2 = "UPDATE items SET name = 'a-two' WHERE id = 2"
    sql_b1 = "UPDATE items SET name = 'b-one' WHERE id = 1"

    async def first() -> None:  # row 1, then row 2
        async with db.transaction():
            await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "a-one"}}))
            locked["a"].set()
            await locked["b"].wait()
            async with db.connection() as connection:
                await connection.execute(sql_a2)  # waits for the second transaction

    async def second() -> None:  # row 2, then row 1
        async with db.transaction():
            async with db.connection() as connection:
                await connection.execute("UPDATE items SET name = 'b-two' WHERE id = 2")
                locked["b"].set()
                await graph_read.wait()
                await connection.execute(sql_b1)  # closes the cycle: one of the two is rolled back

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await locked["a"].wait()
    await locked["b"].wait()
    detector = DeadlockDetector(db, detection_threshold=0.05)
    for _ in range(100):  # until the first transaction waits for the second one's row lock
        now = await detector.check()
        if now["lock_waits"]:
            break
        await asyncio.sleep(0.05)
    graph_read.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    (wait,) = now["lock_waits"]
    assert wait["waiting_query"] == sql_a2 and "'b-two'" in wait["blocking_query"]
    assert wait["mode"] == "ShareLock" and now["lock_graph"] is True
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], SerializationFailureError)
    assert failed[0].context["conflict"] == "deadlock"

    out = (await execute(db.workflow().add_node("DeadlockDetectorNode", "d", {"detection_threshold": 5.0})))["d"]
    assert out["deadlocks"] == 1
    (report,) = out["reports"]
    assert "SQLSTATE 40P01" in report["message"]
    sides = {side["statement"]: side for side in report["transactions"]}
    assert set(sides) == {sql_a2, sql_b1}  # both statements, each of its own session
    assert len({side["session"] for side in sides.values()}) == 2
    assert all(side["source"] == "dataflow" for side in sides.values())
    assert [side["victim"] for side in report["transactions"]].count(True) == 1
    first_side = sides[sql_a2]["statements"]
    assert first_side[0].startswith("UPDATE") and first_side[-1] == sql_a2  # the node's UPDATE, then ours
    # reset forgets the reports; what is left of the graph has no wait
    out = (await execute(db.workflow().add_node("DeadlockDetectorNode", "d", {"reset": True})))["d"]
    assert out["deadlocks"] == 1 and out["lock_waits"] == [] and out["cycles"] == []
    assert (await DeadlockDetector(db).check())["deadlocks"] == 0


@pytest.mark.postgresql_only(reason="deadlock reports name PostgreSQL's server sessions")
async def test_a_deadlock_names_the_other_side_after_it_committed(db: DataFlow) -> None:
    # The server aborts the victim's transaction and so releases its locks before the victim's task
    # sees the error; the other side can commit in between. Its statements are still the report's.
    declare(db)
    await seed_items(db, "one")
    recorder = watch(db)
    sql = "UPDATE items SET name = 'other' WHERE id = 1"
    async with db.transaction():
        async with db.connection() as connection:
            ((session,),) = await connection.fetch("SELECT pg_backend_pid()")
            await connection.execute(sql)
    victim = session + 100_000  # a session of another process: no DataFlow log, no lock graph entry
    recorder.failed(SerializationFailureError("deadlock", context={"conflict": "deadlock",
                                                                   "sessions": [victim, session]}), None)
    (report,) = (await DeadlockDetector(db).check())["reports"]
    other = next(side for side in report["transactions"] if side["session"] == session)
    assert other["statement"] == sql and other["source"] == "dataflow" and other["victim"] is False


@pytest.mark.postgresql_only(reason="SQLite has one writer at a time, so two transactions cannot deadlock there")
async def test_a_deadlock_with_another_process_names_its_statement(db: DataFlow, database_url: str) -> None:
    """The other side is a plain asyncpg connection (in production: another process): its statement
    is read from pg_stat_activity while it still waits for the victim's rollback."""
    import asyncpg

    declare(db)
    await seed_items(db, "one", "two")
    watch(db)
    outsider = await asyncpg.connect(database_url)
    theirs = "UPDATE items SET name = 'theirs' WHERE id = 1"
    try:
        await outsider.execute("SET deadlock_timeout = '30s'")  # DataFlow's session detects it: the victim
        await outsider.execute("BEGIN")
        await outsider.execute("UPDATE items SET name = 'theirs' WHERE id = 2")
        session = outsider.get_server_pid()
        with pytest.raises(SerializationFailureError):
            async with db.transaction():
                await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "ours"}}))
                blocked = asyncio.create_task(outsider.execute(theirs))  # waits for our row 1
                for _ in range(100):
                    async with db.connection() as connection:
                        waiting = await connection.fetch(
                            "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [session]
                        )
                    if waiting:
                        break
                    await asyncio.sleep(0.02)
                await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 2, "fields": {"name": "ours"}}))
        await blocked  # runs once our transaction is rolled back
        await outsider.execute("ROLLBACK")
    finally:
        await outsider.close()
    (report,) = (await DeadlockDetector(db).check())["reports"]
    sides = {side["session"]: side for side in report["transactions"]}
    assert sides[session]["statement"] == theirs and sides[session]["source"] == "pg_stat_activity"
    assert not sides[session]["victim"]
    (ours,) = [side for side in sides.values() if side["source"] == "dataflow"]
    assert ours["victim"] and ours["statement"].startswith("UPDATE") and ours["statements"][0].startswith("UPDATE")


async def test_lock_waits_that_give_up_are_counted(db: DataFlow, backend: str, database_url: str) -> None:
    """Another instance (in production: another process) holds the lock. SQLite: BEGIN IMMEDIATE
    waits for the write lock past the transaction's timeout ("database is locked"); PostgreSQL: the
    UPDATE waits for the row lock past its lock_timeout."""
    declare(db)
    await seed_items(db, "held")
    watch(db)
    other = DataFlow(database_url)
    declare(other)
    holding, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with other.transaction():
            await execute(other.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "mine"}}))
            holding.set()
            await done.wait()

    task = asyncio.create_task(holder())
    await holding.wait()
    update = db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "theirs"}})
    try:
        with pytest.raises(dataflow.TransactionTimeoutError) as info:
            if backend == "sqlite":
                async with db.transaction(timeout=0.2):
                    await execute(update)
            else:
                async with db.transaction():
                    async with db.connection() as connection:
                        await connection.execute("SET LOCAL lock_timeout = '200ms'")
                    await execute(update)
    finally:
        done.set()
        await task
        await other.close()
    assert info.value.context["waited_for"] == ("write lock" if backend == "sqlite" else "lock wait")
    out = (await execute(db.workflow().add_node("DeadlockDetectorNode", "d", {})))["d"]
    assert out["lock_wait_failures"] == 1 and out["deadlocks"] == 0
    (event,) = out["lock_wait_events"]
    assert event["code"] == "DF-603" and event["kind"] == "lock_wait"
    assert out["lock_graph"] is (backend == "postgresql")  # SQLite has no lock table to read


@pytest.mark.sqlite_only(reason="'database is locked' (DF-510) is SQLite's write lock; PostgreSQL locks rows")
async def test_database_is_locked_is_counted(database_url: str) -> None:
    db, other = DataFlow(database_url, sqlite_busy_timeout=0.1), DataFlow(database_url)
    try:
        declare(db)
        declare(other)
        await seed_items(db, "a")
        watch(db)
        async with other.transaction():  # holds SQLite's write lock (in production: another process)
            await execute(other.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "b"}}))
            with pytest.raises(dataflow.DatabaseLockedError):
                await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "c"}}))
        out = await DeadlockDetector(db).check()
        assert out["lock_wait_failures"] == 1 and out["lock_wait_events"][0]["code"] == "DF-510"
    finally:
        await db.close()
        await other.close()


@pytest.mark.postgresql_only(reason="a serialization failure needs two overlapping transactions; SQLite has one writer")
async def test_a_serialization_failure_is_reported_with_its_statements(db: DataFlow) -> None:
    declare(db)
    await seed_items(db, "a", "b")
    watch(db)
    read = {1: asyncio.Event(), 2: asyncio.Event()}

    async def skew(me: int, other: int) -> None:
        listed = await execute(db.workflow().add_node("ItemCountNode", "c", {"filter": {"name": {"$ne": ""}}}))
        read[me].set()
        await read[other].wait()
        if listed["c"]["count"] == 2:
            await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": me, "fields": {"name": ""}}))

    await asyncio.gather(
        *(db.transaction(isolation="SERIALIZABLE", retries=2).run(skew, me, other) for me, other in ((1, 2), (2, 1)))
    )
    node = {"monitoring_enabled": True}
    out = (await execute(db.workflow().add_node("RaceConditionDetectorNode", "race_detector", node)))["race_detector"]
    assert out["serialization_failures"] == 1 and out["lost_updates"] == 0
    (event,) = out["events"]
    assert event["kind"] == "serialization_failure" and "SQLSTATE 40001" in event["message"]
    assert event["statements"][0].startswith("SELECT COUNT(*)") or "count" in event["statements"][0].lower()
    assert any(s.startswith("UPDATE") for s in event["statements"])


async def test_a_lost_update_caught_by_a_versioned_row(db: DataFlow) -> None:
    @db.model(versioned=True)
    class Page:
        id: int
        body: str

    watch(db)
    await execute(db.workflow().add_node("PageCreateNode", "p", {"body": "draft"}))
    first = {"id": 1, "fields": {"body": "first"}, "expected_version": 1}
    await execute(db.workflow().add_node("PageUpdateNode", "u", first))
    second = {"id": 1, "fields": {"body": "second"}, "expected_version": 1}  # read before the first wrote
    with pytest.raises(dataflow.StaleRecordError):
        async with db.transaction():
            await execute(db.workflow().add_node("PageUpdateNode", "u", second))
    with pytest.raises(dataflow.StaleRecordError):  # outside a transaction: the runtime tells the recorder
        await execute(db.workflow().add_node("PageDeleteNode", "d", {"id": 1, "expected_version": 1}))

    out = (await execute(db.workflow().add_node("RaceConditionDetectorNode", "r", {})))["r"]
    assert out["lost_updates"] == 2 and out["serialization_failures"] == 0
    in_tx, outside = out["events"]
    assert (in_tx["kind"], in_tx["code"], in_tx["model"], in_tx["id"]) == ("lost_update", "DF-310", "Page", 1)
    assert any(statement.startswith("UPDATE") for statement in in_tx["statements"])
    assert outside["kind"] == "lost_update" and outside["statements"] == []


async def test_two_writers_of_one_row_within_the_window(db: DataFlow) -> None:
    declare(db)
    await seed_items(db, "a", "b")
    race = RaceConditionDetector(db, window=5.0)
    for name in ("first", "second"):
        async with db.transaction():
            await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": name}}))
    await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 2, "fields": {"name": "alone"}}))
    out = race.check()
    (row,) = out["concurrent_writes"]
    assert (row["model"], row["id"]) == ("Item", 1) and len({w["writer"] for w in row["writers"]}) == 2
    assert out["count"] == 1
    # A window shorter than the gap between the writes sees no concurrency; stopping ends the recording.
    await asyncio.sleep(0.15)
    await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 2, "fields": {"name": "later"}}))
    assert [r["id"] for r in RaceConditionDetector(db, window=0.1).concurrent_writes()] == [1]
    params = {"monitoring_enabled": False, "reset": True}
    await execute(db.workflow().add_node("RaceConditionDetectorNode", "r", params))
    await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": 1, "fields": {"name": "unwatched"}}))
    assert db.execution_context.watch is not None and not db.execution_context.watch.capturing
    assert list(db.execution_context.watch.writes) == []


def slow_statement(backend: str) -> tuple[str, float, float]:
    """A statement whose duration its parameter sets: pg_sleep on PostgreSQL, a recursive CTE that
    counts to n on SQLite (no sleep function there)."""
    if backend == "postgresql":
        return "SELECT pg_sleep($1)", 0.001, 0.4
    counting = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) FROM c"
    return counting, 10, 1_500_000


async def test_a_slow_statement_is_an_outlier_of_its_baseline(db: DataFlow, backend: str) -> None:
    declare(db)
    await seed_items(db, "a")
    watch(db)
    sql, fast, slow = slow_statement(backend)
    async with db.connection() as connection:
        for _ in range(8):
            await connection.fetch(sql, [fast])
        await connection.fetch(sql, [slow])
    for _ in range(3):
        await execute(db.workflow().add_node("ItemReadNode", "r", {"id": 1}))

    out = (await execute(db.workflow().add_node("PerformanceAnomalyNode", "anomaly", {"baseline_window": 300})))
    anomaly = out["anomaly"]
    outlier = next(o for o in anomaly["outliers"] if o["statement"] == sql)  # slowest first
    assert outlier["baseline_samples"] == 8 and outlier["ratio"] >= 5
    assert outlier["duration_ms"] > 5 * outlier["baseline_mean_ms"]
    runs = {op["statement"]: op["runs"] for op in anomaly["operations"]}
    assert runs[sql] == 9 and 3 in runs.values()  # the read node's SELECT, three times
    # Too few earlier runs to judge: nothing is an outlier.
    assert PerformanceAnomalyDetector(db, min_samples=20).check()["count"] == 0
    assert PerformanceAnomalyDetector(db).check(reset=True)["count"] == anomaly["count"]
    assert PerformanceAnomalyDetector(db).check()["operations"] == []


async def test_the_seed_monitoring_nodes_run_as_written(db: DataFlow) -> None:
    """Seed 001, "Monitoring Integration": the five nodes with the seed's parameters, in one workflow."""
    declare(db)
    await seed_items(db, "a")
    workflow = db.workflow()
    workflow.add_node("TransactionMonitorNode", "monitor", {
        "real_time_alerts": True
    })
    workflow.add_node("TransactionMetricsNode", "metrics", {
        "track_performance": True
    })
    workflow.add_node("DeadlockDetectorNode", "deadlock_detector", {
        "detection_threshold": 5.0
    })
    workflow.add_node("RaceConditionDetectorNode", "race_detector", {
        "monitoring_enabled": True
    })
    workflow.add_node("PerformanceAnomalyNode", "anomaly", {
        "baseline_window": 300
    })
    results = await execute(workflow)
    assert results["deadlock_detector"]["deadlocks"] == 0 and results["race_detector"]["count"] == 0
    assert results["anomaly"]["count"] == 0 and results["metrics"]["rollbacks"] == 0
    assert db.execution_context.watch is not None and db.execution_context.watch.capturing
    for name in ("DeadlockDetectorNode", "RaceConditionDetectorNode", "PerformanceAnomalyNode"):
        node_type = getattr(dataflow, name)
        assert pickle.loads(pickle.dumps(node_type)) is node_type


async def test_metrics_export_through_the_opentelemetry_sdk(db: DataFlow) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    declare(db)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    export = dataflow.export_metrics(db, meter_provider=provider)
    try:
        await seed_items(db, "a", "b")
        async with db.transaction():
            await execute(db.workflow().add_node("ItemReadNode", "r", {"id": 1}))
        with pytest.raises(dataflow.RecordNotFoundError):
            async with db.transaction():
                await execute(db.workflow().add_node("ItemReadNode", "r", {"id": 404}))

        points = _points(reader)
        outcomes = {p.attributes["outcome"]: p.value for p in points["dataflow.transactions"]}
        commits = dataflow.transaction_metrics(db)[db.url]["commits"]  # the bulk create's and ours
        assert outcomes["committed"] == commits >= 2 and outcomes["rolled_back"] == 1
        assert all(p.attributes["db.name"] == db.url for p in points["dataflow.transactions"])
        durations = {p.attributes["db.operation"]: p for p in points["dataflow.statement.duration"]}
        assert durations["SELECT"].count >= 2 and durations["SELECT"].sum > 0
        assert durations["SELECT"].attributes["dataflow.model"] == "Item"
        assert durations["SELECT"].explicit_bounds[0] == 0.0005  # seconds, not milliseconds
        assert [p.value for p in points["dataflow.deadlocks"]] == [0]
        assert [p.value for p in points["dataflow.transactions.open"]] == [0]
        export.close()  # from here on nothing more is recorded or observed
        await execute(db.workflow().add_node("ItemReadNode", "r", {"id": 1}))
        after = _points(reader)
        assert "dataflow.transactions" not in after
        assert [p.count for p in after["dataflow.statement.duration"]] == [p.count for p in durations.values()]
    finally:
        export.close()
        provider.shutdown()


def _points(reader: Any) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_importing_dataflow_does_not_import_opentelemetry() -> None:
    """No cost without the export: OpenTelemetry is imported by export_metrics() only."""
    import subprocess
    import sys

    code = "import sys, dataflow; print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
