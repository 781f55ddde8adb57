"""Where a SQLite statement runs (``SQLiteConnection.run_step``): on the calling thread for an
in-memory database while no other thread uses the connection, on the aiosqlite worker thread
otherwise; never two threads on the connection at once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from dataflow import AsyncLocalRuntime, DataFlow, LocalRuntime
from dataflow._dialects.sqlite import connect

pytestmark = pytest.mark.sqlite_only(reason="the aiosqlite worker thread and the in-memory database are SQLite's")


def _thread(_: object) -> int:
    return threading.get_ident()


async def test_in_memory_statements_run_on_the_calling_thread_and_bulk_writes_on_the_worker() -> None:
    conn = await connect(":memory:", busy_timeout=1.0)
    try:
        assert await conn.run_step(_thread) == threading.get_ident()
        assert await conn.run_step(_thread, inline=False) != threading.get_ident()
        await conn.execute('CREATE TABLE "t" ("n" INTEGER)')
        await conn.executemany('INSERT INTO "t" ("n") VALUES (?)', [(i,) for i in range(10)])
        assert await conn.fetch('SELECT count(*) FROM "t"') == [(10,)]
    finally:
        await conn.close()


async def test_file_statements_always_take_the_worker_thread(tmp_path: Path) -> None:
    conn = await connect(str(tmp_path / "steps.db"), busy_timeout=1.0)
    try:
        assert await conn.run_step(_thread) != threading.get_ident()
    finally:
        await conn.close()


async def test_a_statement_waits_for_a_call_still_running_on_the_worker() -> None:
    """A cancelled caller leaves its call running on the worker: the next statement must not run on
    the connection at the same time; it takes the hop and runs after that call."""
    conn = await connect(":memory:", busy_timeout=1.0)
    events: list[str] = []

    def slow(_: object) -> None:
        events.append("slow start")
        time.sleep(0.3)
        events.append("slow end")

    def quick(_: object) -> int:
        events.append("quick")
        return threading.get_ident()

    try:
        task = asyncio.ensure_future(conn.run_step(slow, inline=False))
        while not events:  # the worker has started it (and holds the guard)
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ran_on = await conn.run_step(quick)
        assert events == ["slow start", "slow end", "quick"]
        assert ran_on != threading.get_ident()  # the hop, behind the slow call
        assert await conn.run_step(_thread) == threading.get_ident()  # free again: on this thread
    finally:
        await conn.close()


async def test_an_in_memory_instance_used_from_two_threads_keeps_every_insert() -> None:
    """A ``:memory:`` instance's one connection, used from this loop and from a second loop in
    another thread at once (each side's statements inline or behind the other's): every insert lands."""
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Tick:
        id: int
        source: str
        n: int

    await db.create_tables()

    async def insert(count: int) -> None:
        runtime = AsyncLocalRuntime()
        for n in range(count):
            workflow = db.workflow()
            workflow.add_node("TickCreateNode", "c", {"source": "loop", "n": n})
            await runtime.execute_workflow_async(workflow.build())

    def other_thread() -> None:  # sync code with its own loop (LocalRuntime's), sharing the instance
        with LocalRuntime() as runtime:
            for n in range(300):
                workflow = db.workflow()
                workflow.add_node("TickCreateNode", "c", {"source": "thread", "n": n})
                runtime.execute(workflow.build())

    try:
        worker = threading.Thread(target=other_thread)
        worker.start()
        await insert(300)
        await asyncio.to_thread(worker.join)
        workflow = db.workflow()
        workflow.add_node("TickCountNode", "all", {})
        workflow.add_node("TickCountNode", "thread", {"filter": {"source": "thread"}})
        results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        assert results["all"]["count"] == 600
        assert results["thread"]["count"] == 300
    finally:
        await db.close()
