"""Shared helpers of the core integration tests (their ``db`` fixture is in conftest.py)."""

from __future__ import annotations

from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow, Field, WorkflowBuilder


async def run(workflow: WorkflowBuilder) -> dict[str, Any]:
    results, run_id = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert isinstance(run_id, str) and run_id
    return results


async def node(node_type: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one node in its own workflow and return its output."""
    return (await run(WorkflowBuilder().add_node(node_type, "n", params or {})))["n"]


def define_user(db: DataFlow) -> type:
    @db.model
    class User:
        id: int
        name: str
        email: str = Field(unique=True)
        age: int | None = None
        active: bool = True

    return User


async def seed_users(db: DataFlow, rows: list[dict[str, Any]]) -> None:
    await node("UserBulkCreateNode", {"records": rows})


def names(output: dict[str, Any]) -> list[str]:
    return [r["name"] for r in output["records"]]
