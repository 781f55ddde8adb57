"""Shared helpers of the query cache tests (in-process and Redis): the model and how they read it."""

from __future__ import annotations

from typing import Any

import pytest

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


async def read_matches(cached: DataFlow, plain: DataFlow, kind: str, n: int) -> None:
    """A list, count or read through ``cached`` returns what an uncached instance returns (or fails
    the same way, for a missing record): the check step of the random interleavings."""
    node = {"list": "ItemListNode", "count": "ItemCountNode", "read": "ItemReadNode"}[kind]
    params: dict[str, Any] = {"filter": {"qty": {"$gte": n}}} if kind != "read" else {"id": n}
    if kind == "list":
        params["order_by"] = ["id"]
    try:
        expected = await run(plain, node, params)
    except Exception as exc:  # noqa: BLE001 - a missing record must be missing in both
        with pytest.raises(type(exc)):
            await run(cached, node, params)
        return
    assert await run(cached, node, params) == expected
