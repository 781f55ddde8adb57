"""Event loops that used a DataFlow instance can be garbage-collected once their pools are closed."""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref
from pathlib import Path

import pytest

from dataflow import DataFlow, WorkflowBuilder
from dataflow._runtime import AsyncLocalRuntime


class Probe:
    id: int
    name: str


async def _use(db: DataFlow) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node("ProbeCreateNode", "create", {"name": "x"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


@pytest.mark.dataflow_leaks_expected(reason="creates stale pools on purpose")
def test_loops_are_freed_after_shutdown_and_after_a_stale_sweep(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'loops.db'}", test_mode=True)
    db.model(Probe)
    refs = []
    for index in range(6):
        if index % 2:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(_use(db))
            loop.close()  # no shutdown_asyncgens: the pool goes stale
        else:
            runner = asyncio.Runner()
            runner.run(_use(db))
            loop = runner.get_loop()
            runner.close()  # shutdown hooks close the pool
        refs.append(weakref.ref(loop))
        del loop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asyncio.run(db.cleanup_all_pools())
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert db.get_cleanup_metrics()["active_pools"] == 0
