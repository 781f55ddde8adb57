"""Measured node timings: the Inspector runs the workflow for real, node by node, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Inspector,
    LocalRuntime,
    RecordNotFoundError,
    WorkflowBuilder,
)


def declare(db: DataFlow) -> None:
    @db.model
    class Item:
        id: int
        label: str
        price: float = 0.0


def lifecycle(db: DataFlow) -> WorkflowBuilder:
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "create", {"label": "pen", "price": 1.5})
    workflow.add_node("ItemReadNode", "read")
    workflow.add_node("ItemListNode", "list")
    workflow.add_node("ItemCountNode", "count")
    workflow.add_connection("create", "id", "read", "id")
    workflow.add_connection("read", "label", "list", "filter.label")
    workflow.add_connection("list", "records.0.id", "count", "filter.id")
    return workflow


async def test_profile_async_times_every_node_and_returns_the_results(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        profile = await Inspector(lifecycle(db)).profile_async()
        assert [t.node_id for t in profile.timings] == ["create", "read", "list", "count"]
        assert all(t.seconds > 0 for t in profile.timings)
        assert profile.total == pytest.approx(sum(t.seconds for t in profile.timings))
        assert profile.results["read"]["label"] == "pen"
        assert profile.results["count"] == {"count": 1}
        shown = profile.show().splitlines()
        assert shown[0] == "Profile (on the running event loop):"
        assert shown[1].split()[:2] == ["create", "ItemCreateNode"] and shown[1].endswith(" ms")
        assert shown[-1].startswith("  slowest: ")
        assert profile.to_dict()["nodes"][0]["node"] == "create"
        # The same results as a normal run of the built workflow.
        results, _ = await AsyncLocalRuntime().execute_workflow_async(lifecycle(db).build())
        assert results["count"] == {"count": 1}
    finally:
        await db.close()


async def test_profile_stops_at_the_failing_node_with_its_error(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        workflow = db.workflow().add_node("ItemReadNode", "read", {"id": 404})
        with pytest.raises(RecordNotFoundError, match="DF-301"):
            await Inspector(workflow).profile_async()
    finally:
        await db.close()


def test_profile_from_sync_code_closes_its_pools(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        profile = Inspector(lifecycle(db).build()).profile()
        assert profile.runtime == "an event loop of its own"
        assert profile.results["count"] == {"count": 1}
        metrics = db.get_cleanup_metrics()
        assert metrics["active_pools"] == 0 and metrics["stale_pools_cleaned"] == 0  # closed by their owner
        profile = Inspector(lifecycle(db)).profile()  # on a builder too
        assert profile.results["count"] == {"count": 1}
        with LocalRuntime() as runtime:  # the same results as a run of the workflow
            results, _ = runtime.execute(lifecycle(db).build())
        assert results["count"] == {"count": 1}
    finally:
        asyncio.run(db.close())


async def test_profile_called_from_async_code_with_the_sync_method(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        profile = Inspector(lifecycle(db)).profile()  # runs in a worker thread on its own loop
        assert [t.node_id for t in profile.timings] == ["create", "read", "list", "count"]
    finally:
        await db.close()


async def test_profile_skips_the_branch_not_taken(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        workflow = db.workflow()
        workflow.add_node("ItemCountNode", "count")
        workflow.add_node("SwitchNode", "empty", {"condition": "input == 0"})
        workflow.add_node("ItemCreateNode", "first", {"label": "first"})
        workflow.add_node("ItemListNode", "all")
        workflow.add_connection("count", "count", "empty", "input")
        workflow.add_connection("empty", "true_output", "first", "trigger")
        workflow.add_connection("empty", "false_output", "all", "trigger")
        profile = await Inspector(workflow).profile_async()
        assert [(t.node_id, t.skipped) for t in profile.timings] == [
            ("count", False), ("empty", False), ("first", False), ("all", True)
        ]
        assert profile.results["all"]["skipped"] is True
        assert profile.show().splitlines()[4].split() == ["all", "ItemListNode", "skipped", "(branch", "not", "taken)"]
        results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        assert results["first"].get("skipped") is True and results["all"]["count"] == 1
    finally:
        await db.close()
