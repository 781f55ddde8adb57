"""Transaction options on real servers: isolation levels, timeouts, retries after a serialization
failure, and TransactionContextNode running its downstream nodes in one transaction."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest

import dataflow
from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    InvalidTransactionOptionError,
    IsolationLevel,
    SerializationFailureError,
    TransactionContextNode,
    TransactionTimeoutError,
    UniqueViolationError,
    WorkflowBuilder,
)


def declare(db: DataFlow) -> None:
    @db.model
    class Doctor:
        id: int
        name: str
        on_call: bool = True


async def run(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]], connect: tuple[str, ...] = ()) -> Any:
    workflow = db.workflow()
    for node_type, node_id, params in nodes:
        workflow.add_node(node_type, node_id, params)
    for target in connect:
        workflow.add_connection("tx", "status", target, "trigger")
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def one(db: DataFlow, node_type: str, params: dict[str, Any]) -> dict[str, Any]:
    return (await run(db, (node_type, "n", params)))["n"]


async def on_call(db: DataFlow) -> int:
    return int((await one(db, "DoctorCountNode", {"filter": {"on_call": True}}))["count"])


async def isolation_of(db: DataFlow) -> str:
    async with db.connection() as connection:
        rows = await connection.fetch("SHOW transaction_isolation")
    return str(rows[0][0])


# --- db.transaction(isolation=..., timeout=..., retries=...) ----------------------------------------


@pytest.mark.postgresql_only(reason="SQLite has one isolation level (serializable); this reads PostgreSQL's")
@pytest.mark.parametrize(
    "level, shown",
    [("READ_COMMITTED", "read committed"), ("repeatable read", "repeatable read"), ("SERIALIZABLE", "serializable")],
)
async def test_isolation_level_is_the_transactions(db: DataFlow, level: str, shown: str) -> None:
    async with db.transaction(isolation=level) as tx:
        assert await isolation_of(db) == shown
        assert tx.isolation is IsolationLevel.parse(level)


async def test_sqlite_honours_every_level_as_serializable(db: DataFlow) -> None:
    declare(db)
    async with db.transaction(isolation="READ_COMMITTED") as tx:
        await one(db, "DoctorCreateNode", {"name": "a"})
    expected = IsolationLevel.SERIALIZABLE if db.dialect == "sqlite" else IsolationLevel.READ_COMMITTED
    assert tx.isolation is expected
    assert await on_call(db) == 1


async def test_bad_options_are_df604(db: DataFlow) -> None:
    for kwargs in ({"isolation": "SNAPSHOT"}, {"timeout": 0}, {"timeout": "5"}, {"retries": -1}, {"retries": 1.5}):
        with pytest.raises(InvalidTransactionOptionError):
            db.transaction(**kwargs)
    with pytest.raises(InvalidTransactionOptionError, match="async for attempt"):
        async with db.transaction(retries=2):
            pass


@pytest.mark.postgresql_only(reason="a savepoint cannot change PostgreSQL's isolation level; SQLite has one")
async def test_nested_block_cannot_raise_the_isolation_level(db: DataFlow) -> None:
    async with db.transaction(isolation="SERIALIZABLE"):
        async with db.transaction(isolation="READ_COMMITTED"):  # weaker: honoured by the outer level
            pass
    async with db.transaction():
        with pytest.raises(InvalidTransactionOptionError, match="outermost block"):
            async with db.transaction(isolation="SERIALIZABLE"):
                pass


@pytest.mark.postgresql_only(reason="statement_timeout: SQLite has no statement timeout (its timeout is the busy wait)")
async def test_statement_timeout_is_df603(db: DataFlow) -> None:
    with pytest.raises(TransactionTimeoutError, match="statement") as info:
        async with db.transaction(timeout=0.2):
            async with db.connection() as connection:
                await connection.execute("SELECT pg_sleep(2)")
    assert info.value.code == "DF-603"
    # The limit ends with the transaction.
    async with db.connection() as connection:
        assert (await connection.fetch("SHOW statement_timeout"))[0][0] == "0"


async def test_lock_wait_timeout_is_df603(database_url: str) -> None:
    """Another connection holds the lock: the transaction's timeout ends the wait (both backends)."""
    holder, waiter = DataFlow(database_url), DataFlow(database_url)
    try:
        for instance in (holder, waiter):
            declare(instance)
        await holder.create_tables()
        doctor = await one(holder, "DoctorCreateNode", {"name": "a"})
        held, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with holder.transaction():
                await one(holder, "DoctorUpdateNode", {"id": doctor["id"], "fields": {"on_call": False}})
                held.set()
                await release.wait()

        task = asyncio.create_task(hold())
        await asyncio.wait_for(held.wait(), 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TransactionTimeoutError) as info:
            async with waiter.transaction(timeout=0.3):
                await one(waiter, "DoctorUpdateNode", {"id": doctor["id"], "fields": {"name": "b"}})
        assert loop.time() - started < 3
        assert "timeout" in str(info.value)
        release.set()
        await task
        # The waiter's connection is back to its own busy timeout / lock timeout, and works.
        async with waiter.transaction():
            await one(waiter, "DoctorUpdateNode", {"id": doctor["id"], "fields": {"name": "c"}})
        assert (await one(holder, "DoctorReadNode", {"id": doctor["id"]}))["name"] == "c"
    finally:
        await holder.close()
        await waiter.close()


async def write_skew(db: DataFlow, retries: int) -> list[int]:
    """Two doctors on call; each transaction goes off call if the other is still on (a write skew).

    ``asyncio.Event`` orders them: both read before either writes, then A commits before B writes.
    Returns how many attempts each transaction took.
    """
    declare(db)
    a = await one(db, "DoctorCreateNode", {"name": "a"})
    b = await one(db, "DoctorCreateNode", {"name": "b"})
    a_read, b_read, a_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    attempts = {"a": 0, "b": 0}

    async def go_off_call(me: dict[str, Any], name: str) -> None:
        attempts[name] += 1
        if name == "a":
            others = await on_call(db)
            a_read.set()
            await b_read.wait()
        else:
            await a_read.wait()
            others = await on_call(db)
            b_read.set()
            await a_done.wait()
        if others >= 2:
            await one(db, "DoctorUpdateNode", {"id": me["id"], "fields": {"on_call": False}})

    async def first() -> None:
        try:
            await db.transaction(isolation="SERIALIZABLE", retries=retries).run(go_off_call, a, "a")
        finally:
            a_done.set()

    async def second() -> None:
        await db.transaction(isolation="SERIALIZABLE", retries=retries).run(go_off_call, b, "b")

    await asyncio.gather(first(), second())
    return [attempts["a"], attempts["b"]]


@pytest.mark.postgresql_only(reason="a write skew needs two concurrent transactions; SQLite runs one writer at a time")
async def test_write_skew_under_serializable_is_df602(db: DataFlow) -> None:
    with pytest.raises(SerializationFailureError) as info:
        await write_skew(db, retries=0)
    assert info.value.code == "DF-602" and info.value.context["sqlstate"] == "40001"
    assert "retries" in str(info.value)
    assert await on_call(db) == 1  # the invariant held: B's transaction was rolled back


@pytest.mark.postgresql_only(reason="a write skew needs two concurrent transactions; SQLite runs one writer at a time")
async def test_write_skew_succeeds_with_retries(db: DataFlow) -> None:
    assert await write_skew(db, retries=2) == [1, 2]
    assert await on_call(db) == 1  # the retry saw A's commit and stayed on call


async def test_async_for_retries_the_block(db: DataFlow) -> None:
    declare(db)
    seen = []
    async for attempt in db.transaction(retries=2):
        async with attempt:
            seen.append(attempt.attempts)
            await one(db, "DoctorCreateNode", {"name": f"try{len(seen)}"})
            if len(seen) < 3:
                raise SerializationFailureError("simulated conflict", context={"sqlstate": "40001"})
    assert seen == [1, 2, 3]
    assert [r["name"] for r in (await one(db, "DoctorListNode", {}))["records"]] == ["try3"]


async def test_other_errors_are_not_retried(db: DataFlow) -> None:
    declare(db)
    calls = []

    async def fail() -> None:
        calls.append(1)
        raise UniqueViolationError("not a conflict")

    with pytest.raises(UniqueViolationError):
        await db.transaction(retries=3).run(fail)
    assert calls == [1]


# --- TransactionContextNode ---------------------------------------------------------------------


async def test_seed_example_runs_as_written(db: DataFlow) -> None:
    declare(db)
    workflow = WorkflowBuilder(db)
    workflow.add_node("TransactionContextNode", "tx_context", {"isolation_level": "READ_COMMITTED", "timeout": 30})
    workflow.add_node("DoctorCreateNode", "create", {"name": "a"})
    workflow.add_connection("tx_context", "status", "create", "trigger")
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["tx_context"]["status"] == "committed"
    assert results["tx_context"]["isolation_level"] == "READ_COMMITTED" and results["tx_context"]["timeout"] == 30
    assert await on_call(db) == 1


async def test_downstream_nodes_share_one_transaction(db: DataFlow) -> None:
    declare(db)
    await db.create_tables()
    with pytest.raises(dataflow.RecordNotFoundError) as info:
        await run(
            db,
            ("TransactionContextNode", "tx", {"isolation_level": "SERIALIZABLE"}),
            ("DoctorCreateNode", "create", {"name": "kept?"}),
            ("DoctorReadNode", "missing", {"id": 999}),
            connect=("create", "missing"),
        )
    assert info.value.context["node"] == "missing"
    assert await on_call(db) == 0  # the create was rolled back with the failing read


async def test_nodes_not_downstream_run_outside_the_transaction(db: DataFlow) -> None:
    declare(db)
    await db.create_tables()
    workflow = db.workflow()
    workflow.add_node("DoctorCreateNode", "outside", {"name": "outside"})
    workflow.add_node("TransactionContextNode", "tx", {})
    workflow.add_node("DoctorCreateNode", "inside", {"name": "inside"})
    workflow.add_node("DoctorReadNode", "fails", {"id": 999})
    workflow.add_node("DoctorCreateNode", "after", {"name": "after"})
    workflow.add_connection("tx", "status", "inside", "trigger")
    workflow.add_connection("inside", "id", "fails", "trigger")
    with pytest.raises(dataflow.RecordNotFoundError):
        await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    names = [r["name"] for r in (await one(db, "DoctorListNode", {}))["records"]]
    assert names == ["outside"]  # 'inside' rolled back; 'after' never ran (the workflow stopped)


def probe(db: DataFlow, work: Any) -> type:
    """A node type of ``db`` whose ``execute`` runs ``work(connection)`` (a test's view from inside)."""
    base = db.nodes["DoctorCountNode"]

    class Probe(base):  # type: ignore[valid-type, misc]
        type_name = "Probe"

        async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
            async with type(self).execution_context().connection() as connection:
                return {"count": await work(connection)}

    return Probe


@pytest.mark.postgresql_only(reason="reads PostgreSQL's transaction_isolation and statement_timeout")
async def test_node_options_reach_the_database(db: DataFlow) -> None:
    declare(db)

    async def settings(connection: Any) -> Any:
        names = ("transaction_isolation", "statement_timeout")
        return [str((await connection.fetch(f"SHOW {name}"))[0][0]) for name in names]

    workflow = db.workflow()
    workflow.add_node("TransactionContextNode", "tx", {"isolation_level": "REPEATABLE_READ", "timeout": 7})
    workflow.add_node(probe(db, settings), "inside", {})
    workflow.add_node(probe(db, settings), "outside", {})
    workflow.add_connection("tx", "status", "inside", "trigger")
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["inside"]["count"] == ["repeatable read", "7s"]
    assert results["outside"]["count"] == ["read committed", "0"]
    assert results["tx"]["in_effect"] == "REPEATABLE_READ" and results["tx"]["attempts"] == 1


@pytest.mark.postgresql_only(reason="a write skew needs two concurrent transactions; SQLite runs one writer at a time")
async def test_node_retries_rerun_the_downstream_nodes(db: DataFlow) -> None:
    declare(db)
    a = await one(db, "DoctorCreateNode", {"name": "a"})
    b = await one(db, "DoctorCreateNode", {"name": "b"})
    read, committed = asyncio.Event(), asyncio.Event()
    runs = []

    async def gate(connection: Any) -> int:
        runs.append(1)
        read.set()
        await committed.wait()  # the competitor commits between the workflow's read and its write
        return len(runs)

    async def competitor() -> None:
        await read.wait()
        async with db.transaction(isolation="SERIALIZABLE"):
            await on_call(db)
            await one(db, "DoctorUpdateNode", {"id": b["id"], "fields": {"on_call": False}})
        committed.set()

    workflow = db.workflow()
    workflow.add_node("TransactionContextNode", "tx", {"isolation_level": "SERIALIZABLE", "retries": 2})
    workflow.add_node("DoctorCountNode", "count", {"filter": {"on_call": True}})
    workflow.add_node(probe(db, gate), "gate", {})
    workflow.add_node("DoctorUpdateNode", "off", {"id": a["id"], "fields": {"on_call": False}})
    workflow.add_connection("tx", "status", "count", "trigger")
    workflow.add_connection("count", "count", "gate", "trigger")
    workflow.add_connection("gate", "count", "off", "trigger")
    task = asyncio.create_task(competitor())
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    await task
    assert results["tx"]["attempts"] == 2 and results["gate"]["count"] == 2
    assert results["count"]["count"] == 1  # the second attempt saw the competitor's commit
    assert await on_call(db) == 0  # (the workflow does not check the count; the retry still ran it all)


async def test_two_databases_downstream_is_df604(database_url: str, tmp_path: Any) -> None:
    first, second = DataFlow(database_url), DataFlow(f"sqlite:///{tmp_path / 'other.db'}")
    try:

        @first.model
        class Left:
            id: int
            name: str

        @second.model
        class Right:
            id: int
            name: str

        workflow = WorkflowBuilder()
        workflow.add_node("TransactionContextNode", "tx", {})
        workflow.add_node(first.nodes["LeftCreateNode"], "l", {"name": "l"})
        workflow.add_node(second.nodes["RightCreateNode"], "r", {"name": "r"})
        workflow.add_connection("tx", "status", "l", "trigger")
        workflow.add_connection("tx", "status", "r", "trigger")
        with pytest.raises(InvalidTransactionOptionError, match="DistributedTransactionManagerNode"):
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    finally:
        await first.close()
        await second.close()


async def test_node_parameters_are_checked_at_build(db: DataFlow) -> None:
    for params in ({"isolation_level": "CHAOS"}, {"timeout": -1}, {"retries": "3"}):
        workflow = db.workflow().add_node("TransactionContextNode", "tx", params)
        with pytest.raises(InvalidTransactionOptionError) as info:
            workflow.build()
        assert info.value.context["node"] == "tx"


def test_transaction_context_node_pickles_by_name() -> None:
    assert pickle.loads(pickle.dumps(TransactionContextNode)) is TransactionContextNode
    assert dataflow.nodes.TransactionContextNode is TransactionContextNode  # type: ignore[attr-defined]


def test_local_runtime_runs_the_scope_on_its_own_loop(database_url: str) -> None:
    from dataflow import LocalRuntime

    db = DataFlow(database_url)
    declare(db)
    workflow = db.workflow()
    workflow.add_node("TransactionContextNode", "tx", {"isolation_level": "SERIALIZABLE", "retries": 1})
    workflow.add_node("DoctorCreateNode", "a", {"name": "a"})
    workflow.add_node("DoctorReadNode", "missing", {"id": 99})
    workflow.add_connection("tx", "status", "a", "trigger")
    workflow.add_connection("a", "id", "missing", "trigger")
    with LocalRuntime() as runtime:
        with pytest.raises(dataflow.RecordNotFoundError):
            runtime.execute(workflow.build())
        count = db.workflow().add_node("DoctorCountNode", "n", {})
        results, _ = runtime.execute(count.build())
        assert results["n"]["count"] == 0
        runtime.execute(db.workflow().add_node("TransactionContextNode", "tx", {}).build())
