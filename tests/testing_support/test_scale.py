"""Scale: 300 tests with dataflow_db keep PostgreSQL's connection count flat; 1000 event loops on
one DataFlow instance leave no file descriptors and no active pools behind."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import warnings
from pathlib import Path

import pytest
from ts_helpers import database_name, make_db, touch

from dataflow import LoopReuseWarning, StalePoolWarning


@pytest.mark.postgresql_only(reason="counts server-side connections in pg_stat_activity")
def test_300_tests_with_dataflow_db_keep_connections_flat(inner, tmp_path: Path) -> None:
    out = tmp_path / "counts.json"
    name = database_name(inner.database_url)
    inner.pytester.makeconftest(f"""
import json
import psycopg
import pytest

class Item:
    id: int
    name: str

@pytest.fixture(scope="session")
def dataflow_models():
    return [Item]

COUNTS = []

@pytest.fixture(autouse=True)
def _count_connections():
    yield
    with psycopg.connect({inner.admin_url!r}, autocommit=True) as conn:
        COUNTS.append(conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            ({name!r},)).fetchone()[0])

def pytest_sessionfinish(session):
    with open({str(out)!r}, "w") as f:
        json.dump(COUNTS, f)
""")
    inner.pytester.makepyfile(test_many="""
import pytest
from dataflow import AsyncLocalRuntime, WorkflowBuilder

@pytest.mark.parametrize("i", range(300))
async def test_one(dataflow_db, i):
    wf = WorkflowBuilder()
    wf.add_node(dataflow_db.nodes["ItemCreateNode"], "c", {"id": 1, "name": "x"})
    await AsyncLocalRuntime().execute_workflow_async(wf.build())
""")
    result = inner.run("-p", "no:randomly", timeout=170)
    result.assert_outcomes(passed=300)
    counts = json.loads(out.read_text())
    assert len(counts) == 300
    assert max(counts) - min(counts) <= 2, counts
    assert max(counts[-50:]) <= max(counts[:50]), counts  # no growth


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.dataflow_leaks_expected(reason="half of the loops are closed without shutdown on purpose")
def test_1000_event_loops_leave_nothing_open(database_url: str) -> None:
    db = make_db(database_url)
    asyncio.run(db.create_tables())
    gc.collect()
    before = _fds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StalePoolWarning)  # the manual loops below leave stale pools
        warnings.simplefilter("ignore", LoopReuseWarning)  # one instance on 1000 loops, on purpose
        for _ in range(500):
            assert asyncio.run(touch(db)) == 0
            loop = asyncio.new_event_loop()  # closed without shutdown_asyncgens()
            try:
                assert loop.run_until_complete(touch(db)) == 0
            finally:
                loop.close()
        assert db.get_cleanup_metrics()["active_pools"] <= 1  # at most the last, stale one
        assert asyncio.run(db.cleanup_stale_pools()) in (0, 1)
        asyncio.run(db.cleanup_all_pools())
    gc.collect()
    metrics = db.get_cleanup_metrics()
    assert metrics["active_pools"] == 0 and metrics["cleanup_failures"] == 0
    assert metrics["pools_created"] == 1001
    assert _fds() - before <= 3, (before, _fds())
    asyncio.run(db.close())
