"""Sagas on real databases: compensation in reverse order, the saga table, and recovery of a saga
whose process was killed between two steps (a real SIGKILL of a child process)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _subprocess import child_env

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    DataFlowError,
    Field,
    InvalidSagaError,
    SagaCoordinator,
    SagaCoordinatorNode,
    UnknownNodeTypeError,
    WorkflowBuilder,
)


def declare_shop(db: DataFlow) -> None:
    @db.model
    class Stock:
        id: int
        item: str
        count: int

    @db.model
    class Order:
        id: int
        item: str
        status: str = "new"

    @db.model
    class Shipment:
        id: int
        order_id: int
        tracking: str = Field(unique=True)


def shop_saga(tracking: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "reserve",
            "node": "StockUpdateNode",
            "params": {"id": 1, "fields": {"count": 4}},
            "compensation": {"node": "StockUpdateNode", "params": {"id": 1, "fields": {"count": 5}}},
        },
        {
            "name": "order",
            "node": "OrderCreateNode",
            "params": {"item": "book"},
            "compensation": {"node": "OrderDeleteNode", "params": {"id": "${order.id}"}},
        },
        {"name": "ship", "node": "ShipmentCreateNode", "params": {"order_id": "${order.id}", "tracking": tracking}},
    ]


@pytest.fixture
async def shop(db: DataFlow) -> DataFlow:
    declare_shop(db)
    await run(db, ("StockCreateNode", "s", {"item": "book", "count": 5}))
    await run(db, ("ShipmentCreateNode", "taken", {"order_id": 0, "tracking": "TAKEN"}))
    return db


async def run(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    workflow = db.workflow()
    for node_type, node_id, params in nodes:
        workflow.add_node(node_type, node_id, params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def state(db: DataFlow) -> tuple[int, int, int]:
    out = await run(
        db,
        ("StockReadNode", "stock", {"id": 1}),
        ("OrderCountNode", "orders", {}),
        ("ShipmentCountNode", "shipments", {}),
    )
    return out["stock"]["count"], out["orders"]["count"], out["shipments"]["count"]


async def log_of(db: DataFlow, saga_id: str) -> list[tuple[str, str, str]]:
    async with db.connection() as connection:
        params = connection.backend.params()
        rows = await connection.fetch(
            'SELECT "step", "action", "status" FROM "dataflow_saga_log" WHERE "saga_id" = '
            f'{params.add(saga_id)} ORDER BY "seq"',
            params.values,
        )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def status_of(db: DataFlow, saga_id: str) -> str:
    async with db.connection() as connection:
        params = connection.backend.params()
        rows = await connection.fetch(
            f'SELECT "status" FROM "dataflow_sagas" WHERE "id" = {params.add(saga_id)}', params.values
        )
    return str(rows[0][0])


async def test_saga_completes(shop: DataFlow) -> None:
    result = await SagaCoordinator(shop).run(shop_saga("NEW-1"), name="checkout")
    assert result.ok and result.completed == ["reserve", "order", "ship"] and result.compensated == []
    assert result.outputs["ship"]["order_id"] == result.outputs["order"]["id"]
    assert await state(shop) == (4, 1, 2)
    assert await status_of(shop, result.saga_id) == "completed"


async def test_third_step_failing_leaves_the_first_two_compensated(shop: DataFlow) -> None:
    result = await SagaCoordinator(shop).run(shop_saga("TAKEN"), name="checkout")
    assert result.status == "compensated"
    assert result.completed == ["reserve", "order"]
    assert result.failed == "ship" and result.error is not None and result.error.startswith("DF-302")
    assert result.compensated == ["order", "reserve"]  # reverse order
    assert await state(shop) == (5, 0, 1)  # stock back, order gone, only the pre-existing shipment
    assert await log_of(shop, result.saga_id) == [
        ("reserve", "forward", "done"),
        ("order", "forward", "done"),
        ("ship", "forward", "failed"),
        ("order", "compensate", "done"),
        ("reserve", "compensate", "done"),
    ]
    assert await status_of(shop, result.saga_id) == "compensated"


async def test_failing_compensation_is_reported_and_recovered(shop: DataFlow) -> None:
    steps = shop_saga("TAKEN")
    steps[1]["compensation"] = {"node": "OrderDeleteNode", "params": {"id": 999}}  # deletes nothing: DF-301
    result = await SagaCoordinator(shop).run(steps)
    assert result.status == "failed" and result.compensated == ["reserve"]
    assert result.compensation_errors["order"].startswith("DF-301")
    assert await state(shop) == (5, 1, 1)
    # An operator fixes the order by hand; recover() runs the remaining compensation again (still failing
    # here: the definition is stored), and reports it.
    (again,) = await SagaCoordinator(shop).recover()
    assert again.saga_id == result.saga_id and again.status == "failed"
    assert again.compensated == ["reserve"]


async def test_saga_node_in_a_workflow(shop: DataFlow) -> None:
    steps = shop_saga("TAKEN")
    logic = {step["name"]: step.pop("compensation") for step in steps if "compensation" in step}
    out = await run(shop, ("SagaCoordinatorNode", "saga", {"steps": steps, "compensation_logic": logic}))
    assert out["saga"]["status"] == "compensated" and out["saga"]["compensated"] == ["order", "reserve"]
    assert await state(shop) == (5, 0, 1)


async def test_seed_example_builds_with_a_compensation_logic(shop: DataFlow) -> None:
    workflow = shop.workflow()
    workflow.add_node("SagaCoordinatorNode", "saga", {"compensation_logic": {}})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["saga"]["status"] == "completed" and results["saga"]["completed"] == []


@pytest.mark.parametrize(
    "steps, logic, match",
    [
        ("not a list", None, "must be a list"),
        ([{"node": "OrderCreateNode"}], None, "needs a 'name'"),
        ([{"name": "a", "node": "OrderCreateNode"}, {"name": "a", "node": "OrderCreateNode"}], None, "named 'a'"),
        ([{"name": "a", "node": "OrderCreateNode", "params": {"item": "${b.id}"}}], None, "not a step that runs"),
        ([{"name": "a", "node": "OrderCreateNode"}], {"b": {"node": "OrderDeleteNode"}}, "no step for"),
        ([], {...}, "must be a dict"),
        ([{"name": "a", "node": "SwitchNode"}], None, "not a database node"),
    ],
)
async def test_bad_definitions_are_df605(shop: DataFlow, steps: Any, logic: Any, match: str) -> None:
    with pytest.raises(InvalidSagaError, match=match):
        await SagaCoordinator(shop).run(steps, logic)
    workflow = shop.workflow().add_node("SagaCoordinatorNode", "saga", {"steps": steps, "compensation_logic": logic})
    with pytest.raises(InvalidSagaError) as info:
        workflow.build()
    assert info.value.context["node"] == "saga"


async def test_unknown_step_node_is_df401(shop: DataFlow) -> None:
    with pytest.raises(UnknownNodeTypeError):
        await SagaCoordinator(shop).run([{"name": "a", "node": "OrdrCreateNode"}])


def test_saga_node_pickles_by_name() -> None:
    import pickle

    import dataflow

    assert pickle.loads(pickle.dumps(SagaCoordinatorNode)) is SagaCoordinatorNode
    assert dataflow.nodes.SagaCoordinatorNode is SagaCoordinatorNode  # type: ignore[attr-defined]


# --- a process killed between two steps --------------------------------------------------------

CHILD = """
import asyncio, sys
from dataflow import DataFlow, SagaCoordinator

async def main(orders_url, items_url):
    orders = DataFlow(orders_url, sqlite_busy_timeout=120, pool_acquire_timeout=120)
    items = DataFlow(items_url, sqlite_busy_timeout=120, pool_acquire_timeout=120)

    @orders.model
    class Order:
        id: int
        item: str
        status: str = "new"

    @items.model
    class Item:
        id: int
        name: str

    await SagaCoordinator(orders).run(
        [
            {"name": "order", "node": "OrderCreateNode", "params": {"item": "book"},
             "compensation": {"node": "OrderDeleteNode", "params": {"id": "${order.id}"}}},
            {"name": "reserve", "node": "ItemCreateNode", "params": {"name": "book"},
             "compensation": {"node": "ItemBulkDeleteNode", "params": {"filter": {"name": "book"}}}},
            {"name": "confirm", "node": "OrderUpdateNode",
             "params": {"id": "${order.id}", "fields": {"status": "confirmed"}}},
        ],
        name="killed",
    )
    print("FINISHED", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture
def second_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second database of the same backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'items.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
async def two_shops(database_url: str, second_url: str) -> AsyncIterator[tuple[DataFlow, DataFlow]]:
    orders, items = DataFlow(database_url), DataFlow(second_url)

    @orders.model
    class Order:
        id: int
        item: str
        status: str = "new"

    @items.model
    class Item:
        id: int
        name: str

    await orders.create_tables()
    await items.create_tables()
    try:
        yield orders, items
    finally:
        await orders.close()
        await items.close()


async def _kill_between_steps(
    backend: str, database_url: str, second_url: str, tmp_path: Path, items: DataFlow
) -> None:
    """Start the child, block its second step on a lock of the items database, kill it once its log
    shows the first step done and the second started, then release the lock."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    async with items.transaction():
        if backend == "postgresql":
            async with items.connection() as connection:
                await connection.execute('LOCK TABLE "items" IN EXCLUSIVE MODE')
        # (SQLite: BEGIN IMMEDIATE holds the database's write lock for the whole block.)
        child = subprocess.Popen(
            [sys.executable, str(script), database_url, second_url],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            observer = DataFlow(database_url)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        async with observer.connection() as connection:
                            rows = await connection.fetch('SELECT "step", "action", "status" FROM "dataflow_saga_log"')
                    except DataFlowError:  # the child has not created the saga table yet
                        rows = []
                    if ("reserve", "forward", "started") in [tuple(r) for r in rows]:
                        break
                    assert child.poll() is None, child.communicate()
                    assert time.monotonic() < deadline, "the child never reached its second step"
                    await asyncio.sleep(0.05)
            finally:
                await observer.close()
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(30) == -signal.SIGKILL
            out, _ = child.communicate()
            assert "FINISHED" not in out
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


async def test_killed_saga_is_compensated_on_restart(
    backend: str, database_url: str, second_url: str, tmp_path: Path, two_shops: tuple[DataFlow, DataFlow]
) -> None:
    orders, items = two_shops
    await _kill_between_steps(backend, database_url, second_url, tmp_path, items)
    assert (await run(orders, ("OrderCountNode", "n", {})))["n"]["count"] == 1  # step 1 committed
    (result,) = await SagaCoordinator(orders).recover()
    assert result.name == "killed" and result.status == "compensated"
    assert result.completed == ["order"] and result.compensated == ["reserve", "order"]
    assert (await run(orders, ("OrderCountNode", "n", {})))["n"]["count"] == 0
    assert (await run(items, ("ItemCountNode", "n", {})))["n"]["count"] == 0
    assert await SagaCoordinator(orders).recover() == []  # nothing left to do


async def test_killed_saga_resumes_on_restart(
    backend: str, database_url: str, second_url: str, tmp_path: Path, two_shops: tuple[DataFlow, DataFlow]
) -> None:
    orders, items = two_shops
    await _kill_between_steps(backend, database_url, second_url, tmp_path, items)
    (result,) = await SagaCoordinator(orders).recover(resume=True)
    assert result.status == "completed" and result.completed == ["order", "reserve", "confirm"]
    listed = (await run(orders, ("OrderListNode", "n", {})))["n"]["records"]
    assert [(o["item"], o["status"]) for o in listed] == [("book", "confirmed")]
    assert (await run(items, ("ItemCountNode", "n", {})))["n"]["count"] == 1


def test_the_seeds_transaction_nodes_are_added_as_written() -> None:
    """Seed 001 lines 97-109, as written. Its ``{...}`` stands for the compensations, so building
    the workflow says what shape they take (DF-605) instead of running a saga with none."""
    workflow = WorkflowBuilder()
    workflow.add_node("TransactionContextNode", "tx_context", {"isolation_level": "READ_COMMITTED", "timeout": 30})
    workflow.add_node("DistributedTransactionManagerNode", "dtm", {"pattern": "saga", "timeout": 60})
    workflow.add_node("SagaCoordinatorNode", "saga", {"compensation_logic": {...}})
    with pytest.raises(InvalidSagaError, match="must be a dict") as info:
        workflow.build()
    assert info.value.context["node"] == "saga"
