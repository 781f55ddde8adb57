"""Two-phase commit on real PostgreSQL databases (PREPARE TRANSACTION / COMMIT PREPARED), its
recovery after the coordinator is killed, and DistributedTransactionManagerNode's choice of pattern.

PostgreSQL-only where a transaction is prepared: SQLite has no PREPARE TRANSACTION (there the test
checks that 2PC is refused with DF-606 and that ``pattern="auto"`` runs a saga). The server needs
``max_prepared_transactions > 0`` (tests/_postgres.py sets it); under CI=true a server without it
fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from _postgres import is_ci
from _subprocess import child_env

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    DistributedTransactionManagerNode,
    InvalidParameterError,
    TwoPhaseCommit,
    TwoPhaseCommitError,
    TwoPhaseCommitUnavailableError,
    WorkflowBuilder,
)

PG_ONLY = "SQLite has no PREPARE TRANSACTION; a two-phase commit needs PostgreSQL"


def declare(orders: DataFlow, billing: DataFlow) -> None:
    @orders.model
    class Order:
        id: int
        item: str

    @billing.model
    class Payment:
        id: int
        order_item: str
        amount: float


async def run(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    workflow = db.workflow()
    for node_type, node_id, params in nodes:
        workflow.add_node(node_type, node_id, params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def counts(orders: DataFlow, billing: DataFlow) -> tuple[int, int]:
    a = (await run(orders, ("OrderCountNode", "n", {})))["n"]["count"]
    b = (await run(billing, ("PaymentCountNode", "n", {})))["n"]["count"]
    return a, b


async def prepared(db: DataFlow) -> list[str]:
    async with db.connection() as connection:
        rows = await connection.fetch("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
    return [str(row[0]) for row in rows]


async def log_state(db: DataFlow, gid: str) -> str:
    async with db.connection() as connection:
        rows = await connection.fetch('SELECT "state" FROM "dataflow_2pc_log" WHERE "id" = $1', [gid])
    return str(rows[0][0])


@pytest.fixture
def billing_url(postgres_server: Any) -> Iterator[str]:
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
async def pair(postgres_url: str, billing_url: str) -> AsyncIterator[tuple[DataFlow, DataFlow]]:
    """Two databases on the server, their tables created; prepared leftovers rolled back afterwards."""
    orders, billing = DataFlow(postgres_url), DataFlow(billing_url)
    declare(orders, billing)
    async with orders.connection() as connection:
        allowed = int((await connection.fetch("SHOW max_prepared_transactions"))[0][0])
    if allowed <= 0:
        message = "the PostgreSQL server has max_prepared_transactions = 0 (tests/_postgres.py sets it to 50)"
        await orders.close()
        await billing.close()
        if is_ci(os.environ):
            pytest.fail(message)
        pytest.skip(message)
    await orders.create_tables()
    await billing.create_tables()
    try:
        yield orders, billing
    finally:
        for db in (orders, billing):  # DROP DATABASE refuses a database with prepared transactions
            for gid in await prepared(db):
                async with db.connection() as connection:
                    await connection.execute(f"ROLLBACK PREPARED '{gid}'")
            await db.close()


async def buy(orders: DataFlow, billing: DataFlow, item: str = "book") -> None:
    await run(orders, ("OrderCreateNode", "o", {"item": item}))
    await run(billing, ("PaymentCreateNode", "p", {"order_item": item, "amount": 12.5}))


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_both_commit(backend: str, pair: tuple[DataFlow, DataFlow]) -> None:
    orders, billing = pair
    tpc = TwoPhaseCommit([orders, billing], log=orders)
    async with tpc:
        await buy(orders, billing)
        assert await prepared(orders) == []
    assert tpc.state == "committed"
    assert await counts(orders, billing) == (1, 1)
    assert await prepared(orders) == [] and await prepared(billing) == []
    assert await log_state(orders, tpc.gid) == "committed"


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_an_error_in_the_block_commits_nowhere(backend: str, pair: tuple[DataFlow, DataFlow]) -> None:
    orders, billing = pair
    with pytest.raises(ZeroDivisionError):
        async with TwoPhaseCommit([orders, billing], log=orders):
            await buy(orders, billing)
            1 / 0  # noqa: B018
    assert await counts(orders, billing) == (0, 0)


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_a_participant_failing_to_prepare_commits_nowhere(backend: str, pair: tuple[DataFlow, DataFlow]) -> None:
    """The billing database's deferred unique constraint is checked at PREPARE TRANSACTION and fails
    there, after the orders database prepared: that one is rolled back too."""
    orders, billing = pair
    tpc = TwoPhaseCommit([orders, billing], log=orders)
    with pytest.raises(TwoPhaseCommitError, match="failed to prepare") as info:
        async with tpc:
            await buy(orders, billing)
            async with billing.connection() as connection:
                await connection.execute('CREATE TABLE "tickets" ("code" INT UNIQUE DEFERRABLE INITIALLY DEFERRED)')
                await connection.execute('INSERT INTO "tickets" VALUES (1), (1)')
    assert info.value.code == "DF-607" and info.value.context["phase"] == "prepare"
    assert "nothing was committed" in str(info.value)
    assert await counts(orders, billing) == (0, 0)
    assert await prepared(orders) == [] and await prepared(billing) == []
    assert await log_state(orders, tpc.gid) == "aborted"


CHILD = """
import asyncio, sys
from dataflow import AsyncLocalRuntime, DataFlow, TwoPhaseCommit

async def main(orders_url, billing_url, phase):
    orders, billing = DataFlow(orders_url), DataFlow(billing_url)

    @orders.model
    class Order:
        id: int
        item: str

    @billing.model
    class Payment:
        id: int
        order_item: str
        amount: float

    tpc = TwoPhaseCommit([orders, billing], log=orders)
    await tpc.begin()
    for db, node, params in ((orders, "OrderCreateNode", {"item": "book"}),
                             (billing, "PaymentCreateNode", {"order_item": "book", "amount": 1.0})):
        workflow = db.workflow().add_node(node, "n", params)
        await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    await tpc.prepare()
    if phase == "decided":
        await tpc.decide()
    print(tpc.gid, flush=True)
    await asyncio.sleep(600)  # killed here, before COMMIT PREPARED

asyncio.run(main(*sys.argv[1:]))
"""


def kill_coordinator(tmp_path: Path, orders: DataFlow, billing: DataFlow, phase: str) -> str:
    script = tmp_path / "coordinator.py"
    script.write_text(textwrap.dedent(CHILD))
    urls = [orders.execution_context.url.to_dsn(), billing.execution_context.url.to_dsn()]
    child = subprocess.Popen(
        [sys.executable, str(script), *urls, phase], env=child_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        gid = child.stdout.readline().strip()
        assert gid.startswith("df2pc_"), child.communicate(timeout=5)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return gid


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_coordinator_killed_after_prepare_is_rolled_back_by_recover(
    backend: str, pair: tuple[DataFlow, DataFlow], tmp_path: Path
) -> None:
    orders, billing = pair
    gid = kill_coordinator(tmp_path, orders, billing, "prepared")
    assert await prepared(orders) == [f"{gid}_0"] and await prepared(billing) == [f"{gid}_1"]
    assert await counts(orders, billing) == (0, 0)  # prepared is not committed
    assert await TwoPhaseCommit.recover([orders, billing], log=orders) == {gid: "rolled back"}
    assert await prepared(orders) == [] and await prepared(billing) == []
    assert await counts(orders, billing) == (0, 0)
    assert await log_state(orders, gid) == "aborted"


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_coordinator_killed_after_the_decision_is_committed_by_recover(
    backend: str, pair: tuple[DataFlow, DataFlow], tmp_path: Path
) -> None:
    orders, billing = pair
    gid = kill_coordinator(tmp_path, orders, billing, "decided")
    assert await counts(orders, billing) == (0, 0)
    assert await TwoPhaseCommit.recover([orders, billing], log=orders) == {gid: "committed"}
    assert await counts(orders, billing) == (1, 1)
    assert await prepared(orders) == [] and await prepared(billing) == []
    assert await log_state(orders, gid) == "committed"
    assert await TwoPhaseCommit.recover([orders, billing], log=orders) == {}


async def test_sqlite_participant_is_df606_and_says_saga(backend: str, db: DataFlow) -> None:
    if backend == "postgresql":
        async with db.transaction():  # a participant inside a transaction cannot be prepared either
            with pytest.raises(TwoPhaseCommitUnavailableError, match="outside other transactions"):
                async with TwoPhaseCommit([db], log=db):
                    pass
        return
    with pytest.raises(TwoPhaseCommitUnavailableError, match="saga") as info:
        async with TwoPhaseCommit([db], log=db):
            pass
    assert info.value.code == "DF-606"


# --- DistributedTransactionManagerNode ------------------------------------------------------


def steps(fail: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "name": "order",
            "node": "OrderCreateNode",
            "params": {"item": "book"},
            "compensation": {"node": "OrderDeleteNode", "params": {"id": "${order.id}"}},
        },
        {
            "name": "pay",
            "node": "PaymentCreateNode",
            "params": {"order_item": "${order.item}", "amount": "not a number" if fail else 9.5},
        },
    ]


async def dtm(params: dict[str, Any]) -> dict[str, Any]:
    workflow = WorkflowBuilder().add_node("DistributedTransactionManagerNode", "dtm", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["dtm"]


@pytest.mark.postgresql_only(reason=PG_ONLY)
@pytest.mark.parametrize("pattern", ["2pc", "auto"])
async def test_dtm_runs_two_phase_commit(backend: str, pair: tuple[DataFlow, DataFlow], pattern: str) -> None:
    orders, billing = pair
    out = await dtm({"pattern": pattern, "timeout": 60, "steps": steps()})
    assert out["pattern"] == "2pc" and out["status"] == "committed" and out["completed"] == ["order", "pay"]
    assert out["outputs"]["pay"]["order_item"] == "book"
    assert await counts(orders, billing) == (1, 1)
    assert await log_state(orders, out["transaction_id"]) == "committed"


@pytest.mark.postgresql_only(reason=PG_ONLY)
async def test_dtm_two_phase_step_failure_commits_nowhere(backend: str, pair: tuple[DataFlow, DataFlow]) -> None:
    orders, billing = pair
    out = await dtm({"pattern": "2pc", "steps": steps(fail=True)})  # the step's node rejects the amount
    assert out["status"] == "rolled back" and out["failed"] == "pay" and out["error"].startswith("DF-103")
    assert await counts(orders, billing) == (0, 0)
    # A failure in the database (a duplicate in the billing database) rolls back both databases too.
    await run(billing, ("PaymentCreateNode", "p", {"id": 1, "order_item": "x", "amount": 1.0}))
    bad = steps()
    bad[1]["params"]["id"] = 1
    out = await dtm({"pattern": "2pc", "steps": bad})
    assert out["status"] == "rolled back" and out["failed"] == "pay" and out["error"].startswith("DF-302")
    assert await counts(orders, billing) == (0, 1)
    assert await prepared(orders) == [] and await prepared(billing) == []


async def test_dtm_auto_picks_a_saga_on_sqlite(backend: str, database_url: str, tmp_path: Path) -> None:
    """Orders on this backend, payments on SQLite: SQLite cannot prepare, so auto runs a saga."""
    orders, billing = DataFlow(database_url), DataFlow(f"sqlite:///{tmp_path / 'billing.db'}")
    try:
        declare(orders, billing)
        out = await dtm({"pattern": "auto", "steps": steps()})
        assert out["pattern"] == "saga" and out["status"] == "completed"
        await run(billing, ("PaymentCreateNode", "p", {"id": 5, "order_item": "x", "amount": 1.0}))
        bad = steps()
        bad[1]["params"]["id"] = 5
        out = await dtm({"pattern": "auto", "steps": bad})
        assert out["pattern"] == "saga" and out["status"] == "compensated" and out["compensated"] == ["order"]
        assert await counts(orders, billing) == (1, 2)
        with pytest.raises(TwoPhaseCommitUnavailableError, match="saga"):
            await dtm({"pattern": "2pc", "steps": steps()})
    finally:
        await orders.close()
        await billing.close()


async def test_dtm_seed_example_runs_as_written(db: DataFlow) -> None:
    workflow = WorkflowBuilder(db)
    workflow.add_node("DistributedTransactionManagerNode", "dtm", {"pattern": "saga", "timeout": 60})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["dtm"]["pattern"] == "saga" and results["dtm"]["status"] == "completed"


def test_dtm_bad_pattern_is_df105() -> None:
    with pytest.raises(InvalidParameterError, match="'saga', '2pc' or 'auto'"):
        WorkflowBuilder().add_node("DistributedTransactionManagerNode", "dtm", {"pattern": "xa"}).build()
    import pickle

    assert pickle.loads(pickle.dumps(DistributedTransactionManagerNode)) is DistributedTransactionManagerNode
