"""TransactionMetricsNode and TransactionMonitorNode on real databases: measurements of ended
transactions (outcomes, retries, durations, per model and per workflow) and the open transactions
with their alerts (DataFlow's own blocks on both backends, pg_stat_activity on PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import pickle
from typing import Any

import pytest

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    InvalidParameterError,
    TransactionMetricsNode,
    TransactionMonitor,
    TransactionMonitorNode,
    WorkflowBuilder,
    transaction_metrics,
)


def declare(db: DataFlow) -> None:
    @db.model
    class Item:
        id: int
        name: str = ""

    @db.model
    class Note:
        id: int
        text: str


async def execute(workflow: WorkflowBuilder, name: str | None = None) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build(name=name))
    return results


def in_transaction(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> WorkflowBuilder:
    workflow = db.workflow().add_node("TransactionContextNode", "tx", {})
    for node_type, node_id, params in nodes:
        workflow.add_node(node_type, node_id, params)
        workflow.add_connection("tx", "status", node_id, "trigger")
    return workflow


async def test_metrics_count_outcomes_per_model_and_workflow(db: DataFlow) -> None:
    declare(db)
    await db.create_tables()
    for i in range(3):
        await execute(in_transaction(db, ("ItemCreateNode", "a", {"name": f"i{i}"})), name="add item")
    with pytest.raises(Exception, match="DF-301"):
        await execute(in_transaction(db, ("NoteReadNode", "missing", {"id": 404})), name="read note")
    async with db.transaction():  # a block of application code, outside any workflow
        await execute(db.workflow().add_node("NoteCreateNode", "n", {"text": "x"}))

    out = (await execute(db.workflow().add_node("TransactionMetricsNode", "m", {"track_performance": True})))["m"]
    assert (out["count"], out["commits"], out["rollbacks"], out["retries"]) == (5, 4, 1, 0)
    (snapshot,) = out["databases"].values()
    assert snapshot["by_model"]["Item"]["commits"] == 3 and snapshot["by_model"]["Note"]["rollbacks"] == 1
    assert snapshot["by_model"]["Note"]["commits"] == 1
    assert set(snapshot["by_workflow"]) == {"add item", "read note"}
    assert snapshot["by_workflow"]["add item"]["count"] == 3
    durations = snapshot["duration_ms"]
    assert 0 < durations["p50"] <= durations["p95"] <= durations["p99"] <= durations["max"]
    # From Python, filtered; and track_performance=False leaves the durations out.
    assert list(transaction_metrics(db, model="Item")[db.url]["by_model"]) == ["Item"]
    lean_params = {"track_performance": False, "reset": True}
    lean = await execute(db.workflow().add_node("TransactionMetricsNode", "m", lean_params))
    assert "duration_ms" not in next(iter(lean["m"]["databases"].values()))
    assert transaction_metrics(db)[db.url]["count"] == 0  # reset


@pytest.mark.postgresql_only(reason="a serialization failure needs two overlapping transactions; SQLite has one writer")
async def test_metrics_count_retries(db: DataFlow) -> None:
    """Write skew under SERIALIZABLE, ordered so that PostgreSQL reports it at the loser's COMMIT:
    both read both rows, both update one, the first commits, then the second tries to."""
    declare(db)
    await execute(db.workflow().add_node("ItemBulkCreateNode", "b", {"records": [{"name": "a"}, {"name": "b"}]}))
    db.execution_context.metrics.reset()  # count the two conflicting transactions only
    read = {1: asyncio.Event(), 2: asyncio.Event()}
    first_committed, second_updated = asyncio.Event(), asyncio.Event()
    runs: list[int] = []

    async def skew(me: int, other: int) -> None:
        runs.append(me)
        listed = await execute(db.workflow().add_node("ItemCountNode", "c", {"filter": {"name": {"$ne": ""}}}))
        read[me].set()
        await read[other].wait()
        if listed["c"]["count"] == 2:
            await execute(db.workflow().add_node("ItemUpdateNode", "u", {"id": me, "fields": {"name": ""}}))
        if me == 2:
            second_updated.set()
            await first_committed.wait()
        else:
            await second_updated.wait()  # commit only once the other one has written

    async def first() -> None:
        await db.transaction(isolation="SERIALIZABLE", retries=2).run(skew, 1, 2)
        first_committed.set()

    await asyncio.gather(first(), db.transaction(isolation="SERIALIZABLE", retries=2).run(skew, 2, 1))
    # The loser's COMMIT failed (a conflict at the end of the block, not inside it): run() ran it
    # again, the retry saw the winner's write and wrote nothing.
    metrics = transaction_metrics(db)[db.url]
    # Both blocks start in either order (each waits for its BEGIN); only block 2 runs again.
    assert sorted(runs[:2]) == [1, 2] and runs[2:] == [2], runs
    assert metrics["retries"] == 1 and metrics["commits"] == 2 and metrics["count"] == 3, metrics
    assert metrics["failures"] == 1 and metrics["rollbacks"] == 0, metrics
    names = await execute(db.workflow().add_node("ItemListNode", "all", {"order_by": "id"}))
    assert [r["name"] for r in names["all"]["records"]] == ["", "b"]


async def test_monitor_reports_an_idle_transaction(db: DataFlow, caplog: pytest.LogCaptureFixture) -> None:
    declare(db)
    await db.create_tables()
    opened, done = asyncio.Event(), asyncio.Event()

    async def idle_holder() -> None:
        async with db.transaction():
            await execute(db.workflow().add_node("ItemCreateNode", "a", {"name": "held"}))
            opened.set()
            await done.wait()  # open, and no statement running: idle in transaction

    task = asyncio.create_task(idle_holder())
    await opened.wait()
    await asyncio.sleep(0.3)
    try:
        params = {"real_time_alerts": True, "idle_threshold": 0.1, "long_running_threshold": 60}
        with caplog.at_level(logging.WARNING, logger="dataflow"):
            out = (await execute(db.workflow().add_node("TransactionMonitorNode", "monitor", params)))["monitor"]
    finally:
        done.set()
        await task
    ours = [t for t in out["transactions"] if t["source"] == "dataflow"]
    assert len(ours) == 1 and ours[0]["state"] == "idle in transaction" and ours[0]["idle_s"] >= 0.25
    assert ours[0]["models"] == ["Item"]
    assert [a["alert"] for a in out["alerts"]] == ["idle_in_transaction"]
    assert "idle in transaction transaction" in caplog.text
    after = await TransactionMonitor(db).check()
    assert after["count"] == 0 and after["alerts"] == []


@pytest.mark.postgresql_only(reason="other sessions are visible in pg_stat_activity; SQLite has no such view")
async def test_monitor_sees_other_sessions_on_postgresql(db: DataFlow, database_url: str) -> None:
    other = DataFlow(database_url)  # another instance (in production: another process)
    try:
        opened, done = asyncio.Event(), asyncio.Event()

        async def long_runner() -> None:
            async with other.transaction():
                async with other.connection() as connection:
                    await connection.execute("SELECT 'still working'")
                opened.set()
                await done.wait()

        task = asyncio.create_task(long_runner())
        await opened.wait()
        await asyncio.sleep(0.2)
        try:
            report = await TransactionMonitor(db, long_running_threshold=0.1, idle_threshold=0.1).check()
        finally:
            done.set()
            await task
        seen = [t for t in report["transactions"] if t["source"] == "pg_stat_activity"]
        assert len(seen) == 1 and seen[0]["query"] == "SELECT 'still working'"
        assert seen[0]["state"] == "idle in transaction" and seen[0]["age_s"] >= 0.15
        assert {a["alert"] for a in report["alerts"]} == {"long_running", "idle_in_transaction"}
    finally:
        await other.close()


async def test_seed_examples_run_as_written(db: DataFlow) -> None:
    declare(db)
    workflow = db.workflow()
    workflow.add_node("TransactionMonitorNode", "monitor", {"real_time_alerts": True})
    workflow.add_node("TransactionMetricsNode", "metrics", {"track_performance": True})
    results = await execute(workflow)
    assert results["monitor"]["count"] == 0 and results["monitor"]["alerts"] == []
    assert results["metrics"]["count"] == 0


@pytest.mark.parametrize(
    "node, params",
    [
        ("TransactionMetricsNode", {"track_performance": "yes"}),
        ("TransactionMetricsNode", {"model": ""}),
        ("TransactionMonitorNode", {"idle_threshold": -1}),
        ("TransactionMonitorNode", {"long_running_threshold": "30"}),
        ("TransactionMonitorNode", {"alerts": True}),
    ],
)
def test_bad_parameters_are_df105(node: str, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        WorkflowBuilder().add_node(node, "n", params).build()


def test_monitoring_nodes_pickle_by_name() -> None:
    for node in (TransactionMetricsNode, TransactionMonitorNode):
        assert pickle.loads(pickle.dumps(node)) is node
