"""Shared helpers of the query cache tests (in-process and Redis): the model and how they read it."""

from __future__ import annotations

from typing import Any

from dataflow import AsyncLocalRuntime, DataFlow


def declare(db: DataFlow) -> None:
    @db.model
    class Item:
        id: int
        name: str
        qty: int = 0


async def run(db: DataFlow, node: str, params: dict[str, Any]) -> dict[str, Any]:
    workflow = db.workflow().add_node(node, "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["n"]


async def listing(db: DataFlow, **params: Any) -> list[tuple[str, int]]:
    out = await run(db, "ItemListNode", {"order_by": ["id"], **params})
    return [(r["name"], r["qty"]) for r in out["records"]]
