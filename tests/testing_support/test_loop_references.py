"""Event loops that used a DataFlow instance can be garbage-collected once their pools are closed.

The check runs in a fresh interpreter: pytest's own capture machinery (log records, warning
records) may hold references to objects of the test for a while, which would blur what it measures.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys, time, warnings, weakref
    from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

    class Probe:
        id: int
        name: str

    async def use(db):
        workflow = WorkflowBuilder()
        workflow.add_node("ProbeCreateNode", "create", {"name": "x"})
        await AsyncLocalRuntime().execute_workflow_async(workflow.build())

    warnings.simplefilter("ignore")
    db = DataFlow(sys.argv[1], test_mode=True)
    db.model(Probe)
    refs = []
    for index in range(6):
        if index % 2:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(use(db))
            loop.close()  # no shutdown_asyncgens(): the pool goes stale
        else:
            runner = asyncio.Runner()
            runner.run(use(db))
            loop = runner.get_loop()
            runner.close()  # shutdown hooks close the pool
            del runner
        refs.append(weakref.ref(loop))
        del loop
    asyncio.run(db.cleanup_all_pools())
    # A closed connection's aiosqlite worker thread drops its last reference to a loop's future
    # when it finishes, a moment after the close was queued.
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        alive = sum(r() is not None for r in refs)
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    print("alive", alive, "active_pools", db.get_cleanup_metrics()["active_pools"])
    """
)


def test_loops_are_freed_after_shutdown_and_after_a_stale_sweep(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loops.db'}"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "alive 0 active_pools 0", proc.stdout + proc.stderr
