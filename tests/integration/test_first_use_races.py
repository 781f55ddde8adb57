"""First-use table creation under races: threads with a LocalRuntime each, and two processes.

The seed's thread-safety example (100 creates from 10 threads, a ``LocalRuntime`` per call) used to
fail on PostgreSQL with a unique violation on ``pg_type`` when two connections ran the same
``CREATE TABLE IF NOT EXISTS`` at once. Each scenario repeats ``DATAFLOW_RACE_REPEAT`` times
(default 10, the bounded run of ``nox -s tests``; ``nox -s stress`` runs 100) on the test's fresh
database, each time on a table that does not exist yet.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dataflow import AsyncLocalRuntime, DataFlow, LocalRuntime, WorkflowBuilder

REPEAT = int(os.environ.get("DATAFLOW_RACE_REPEAT", "10"))
pytestmark = pytest.mark.dataflow_leaks_expected(
    reason="LocalRuntimes created per call are closed when they are garbage-collected, as in the seed"
)


class User:
    id: str
    name: str


def _count(url: str, table: str) -> int:
    async def count() -> int:
        db = DataFlow(url)
        try:
            async with db.connection() as connection:
                rows = await connection.fetch(f'SELECT COUNT(*) FROM "{table}"')
            return int(rows[0][0])
        finally:
            await db.close()

    return asyncio.run(count())


def test_creates_from_ten_threads_with_a_runtime_each(database_url: str) -> None:
    for rep in range(REPEAT):
        table = f"users_threads_{rep}"
        db = DataFlow(database_url)
        db.model(table=table)(User)

        def create_user(user_id: str) -> Any:
            # The seed's code, unchanged but for the model above.
            workflow = WorkflowBuilder()
            workflow.add_node("UserCreateNode", "create", {"id": user_id, "name": f"User {user_id}"})
            runtime = LocalRuntime()
            return runtime.execute(workflow.build())

        with ThreadPoolExecutor(max_workers=10) as executor:
            futures = [executor.submit(create_user, f"user-{i}") for i in range(100)]
            results = [f.result() for f in futures]
        assert sorted(r[0]["create"]["id"] for r in results) == sorted(f"user-{i}" for i in range(100))
        asyncio.run(db.close())
        assert _count(database_url, table) == 100, f"repetition {rep}"


def _first_create_in_a_process(url: str, barrier: Any, repeat: int, worker: int) -> None:
    async def first_create(rep: int) -> None:
        db = DataFlow(url)
        db.model(table=f"users_processes_{rep}")(User)
        try:
            workflow = db.workflow()
            workflow.add_node("UserCreateNode", "create", {"id": f"{worker}-{rep}", "name": "racer"})
            barrier.wait()  # both processes reach their first create together
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        finally:
            await db.close()

    for rep in range(repeat):
        asyncio.run(first_create(rep))


def test_two_processes_race_their_first_create(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2, timeout=60)
    processes = [
        context.Process(target=_first_create_in_a_process, args=(database_url, barrier, REPEAT, worker))
        for worker in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(300)
    assert [p.exitcode for p in processes] == [0, 0], "a racing process failed (its traceback is above)"
    for rep in range(REPEAT):
        assert _count(database_url, f"users_processes_{rep}") == 2, f"repetition {rep}"
