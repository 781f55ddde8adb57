"""Measured node timings: the Inspector runs the workflow for real, node by node, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from dataflow import AsyncLocalRuntime, DataFlow, Inspector, LocalRuntime, RecordNotFoundError, WorkflowBuilder


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
        assert shown[0] == "Profile (AsyncLocalRuntime, each node timed on its own):"
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


def test_profile_with_local_runtime(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        with LocalRuntime() as runtime:
            profile = Inspector(lifecycle(db).build()).profile(runtime)
        assert profile.runtime == "LocalRuntime"
        assert profile.results["count"] == {"count": 1}
        profile = Inspector(lifecycle(db)).profile()  # its own LocalRuntime, closed afterwards
        assert profile.results["count"] == {"count": 1}
    finally:
        asyncio.run(db.close())
