"""QueryRouterNode: the seed's example, cache_reads on both backends, read_write_split against a real
streaming replica."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from _postgres import ReplicaServer
from _replicahelp import Servers

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    InvalidParameterError,
    LocalRuntime,
    QueryRouterNode,
    WorkflowBuilder,
)


def declare(db: DataFlow) -> None:
    db.model(type("Item", (), {"__annotations__": {"id": int, "name": str}}))


def routed(db: DataFlow, route: dict[str, Any], reads: int = 2) -> WorkflowBuilder:
    """A QueryRouterNode and ``reads`` List nodes downstream of it."""
    workflow = db.workflow().add_node("QueryRouterNode", "route", route)
    for i in range(reads):
        workflow.add_node("ItemListNode", f"list{i}", {"order_by": ["id"]})
        workflow.add_connection("route", "status", f"list{i}", "trigger")
    return workflow


async def execute(workflow: WorkflowBuilder) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


def names(results: dict[str, Any], node: str) -> list[str]:
    return [r["name"] for r in results[node]["records"]]


def test_the_seeds_example_runs_as_written(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    workflow = WorkflowBuilder()
    workflow.add_node("QueryRouterNode", "route", {
        "read_write_split": True,
        "cache_reads": True
    })
    results, _ = LocalRuntime().execute(workflow.build())
    assert results["route"]["status"] == "done" and results["route"]["cache_reads"] is True
    assert pickle.loads(pickle.dumps(QueryRouterNode)) is QueryRouterNode


async def test_cache_reads_serves_downstream_reads_and_writes_still_invalidate(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    await db.create_tables()
    other_db = DataFlow(database_url)  # the primary without any cache: the truth
    declare(other_db)
    try:
        await execute(db.workflow().add_node("ItemCreateNode", "c", {"name": "a"}))
        results = await execute(routed(db, {"cache_reads": True}))
        assert names(results, "list0") == names(results, "list1") == ["a"]
        assert results["route"]["cache_hits"] == 1  # the second list
        assert db.query_cache is not None
        hits = db.query_cache.hits
        await execute(db.workflow().add_node("ItemListNode", "plain", {"order_by": ["id"]}))
        assert db.query_cache.hits == hits  # outside the router the instance does not cache
        await execute(db.workflow().add_node("ItemCreateNode", "c", {"name": "b"}))
        results = await execute(routed(db, {"cache_reads": True}))
        assert names(results, "list0") == ["a", "b"]  # the write dropped the router's entries
    finally:
        await other_db.close()
        await db.close()


async def test_cache_reads_false_bypasses_an_instance_cache(database_url: str) -> None:
    db = DataFlow(database_url, enable_query_cache=True)
    declare(db)
    await db.create_tables()
    try:
        results = await execute(routed(db, {"cache_reads": False}))
        assert results["route"]["cache_hits"] == 0
        results = await execute(routed(db, {}))  # the instance's default: cached
        assert results["route"]["cache_hits"] == 1
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("params", "says"),
    [({"read_write_split": "yes"}, "read_write_split"), ({"cache_ttl": 0}, "cache_ttl"), ({"cache": True}, "cache")],
)
def test_bad_parameters_are_df_105_at_build(params: dict[str, Any], says: str) -> None:
    workflow = WorkflowBuilder().add_node("QueryRouterNode", "route", params)
    with pytest.raises(InvalidParameterError, match="DF-105") as info:
        workflow.build()
    assert says in str(info.value)


@pytest.mark.postgresql_only(reason="streaming replication is a PostgreSQL server feature")
async def test_read_write_split_false_keeps_downstream_reads_on_the_primary(
    postgres_url: str, replica_running: ReplicaServer
) -> None:
    replica_running.wait_for_replay()
    servers = Servers(postgres_url, replica_running)
    db = DataFlow(postgres_url, read_replicas=[servers.replica_url])
    declare(db)
    try:
        await db.create_tables()
        replica_running.wait_for_replay()
        results = await execute(routed(db, {"read_write_split": True}, reads=1))
        assert results["route"]["replica_reads"] == 1 and results["route"]["replicas"] == 1
        servers.pause_replay()
        servers.primary_sql("INSERT INTO items (name) VALUES ('elsewhere')")
        split = await execute(routed(db, {"read_write_split": True}, reads=1))
        primary = await execute(routed(db, {"read_write_split": False}, reads=1))
        assert names(split, "list0") == [] and names(primary, "list0") == ["elsewhere"]
        assert (primary["route"]["replica_reads"], primary["route"]["primary_reads"]) == (0, 0)
    finally:
        servers.resume_replay()
        await db.close()
