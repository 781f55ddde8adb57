"""The plugin's ``dataflow_backend`` marker (DF-804), the ``dataflow hint`` line on failures whose
third-party error a troubleshooting section explains, and the ``dataflow_tasks`` tracker (DF-710).

Every case is an inner pytest run; the errors are real ones, raised by asyncpg, aiosqlite, asyncio,
pytest-asyncio and SQLAlchemy themselves.
"""

from __future__ import annotations

import re
from typing import Any as InnerSuite  # the `inner` fixture (tests/testing_support/conftest.py)

import pytest

from dataflow._catalog import docs_base_url, docs_version

MARKED = """
import os
import pytest


@pytest.mark.dataflow_backend("postgresql", reason="uses a PostgreSQL-only feature")
def test_on_postgresql():
    assert os.environ["DATABASE_URL"].startswith("postgresql")


@pytest.mark.dataflow_backend("sqlite", reason="reads the SQLite file")
def test_on_sqlite():
    assert "DATABASE_URL" not in os.environ or os.environ["DATABASE_URL"].startswith("sqlite")


@pytest.mark.dataflow_backend("sqlite", "postgresql", reason="listed both")
def test_on_both():
    pass
"""

BAD_MARKERS = """
import pytest


@pytest.mark.dataflow_backend(reason="no backend")
def test_no_backend():
    pass


@pytest.mark.dataflow_backend("mysql", reason="not a DataFlow backend")
def test_unknown_backend():
    pass


@pytest.mark.dataflow_backend("postgresql")
def test_no_reason():
    pass
"""


def test_dataflow_backend_runs_a_test_on_the_named_backends_only(inner: InnerSuite, backend: str) -> None:
    inner.pytester.makepyfile(test_marked=MARKED)
    result = inner.run("-rs")
    result.assert_outcomes(passed=2, skipped=1)
    other = "sqlite" if backend == "postgresql" else "postgresql"
    reason = "reads the SQLite file" if other == "sqlite" else "uses a PostgreSQL-only feature"
    result.stdout.fnmatch_lines([f"SKIPPED *runs on {other} only ({reason}); this run uses {backend}"])


def test_a_bad_dataflow_backend_marker_is_df804(inner: InnerSuite) -> None:
    inner.pytester.makepyfile(test_bad=BAD_MARKERS)
    result = inner.run()
    result.assert_outcomes(errors=3)
    output = result.stdout.str()
    assert output.count("DF-804: Invalid dataflow_backend marker") >= 3, output
    assert "names no backend" in output
    assert "names 'mysql', which DataFlow does not have" in output
    assert "has no reason=" in output


HINTED = '''
import asyncio
import os
import sqlite3

import aiosqlite
import pytest
import pytest_asyncio


@pytest.mark.dataflow_backend("postgresql", reason="asyncpg's error")
async def test_another_operation():
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await asyncio.gather(conn.fetch("SELECT pg_sleep(0.2)"), conn.fetch("SELECT 1"))
    finally:
        await conn.close()


async def test_different_loop():
    other = asyncio.new_event_loop()
    try:
        await other.create_future()
    finally:
        other.close()


def test_loop_closed():
    loop = asyncio.new_event_loop()
    loop.close()
    loop.call_soon(print)


@pytest_asyncio.fixture(scope="session")
async def session_resource():
    yield 1


async def test_scope_mismatch(session_resource):
    pass


async def test_database_locked(tmp_path):
    path = tmp_path / "locked.db"
    first = await aiosqlite.connect(path, timeout=0, isolation_level=None)
    second = await aiosqlite.connect(path, timeout=0, isolation_level=None)
    try:
        await first.execute("CREATE TABLE t (x INTEGER)")
        await first.execute("BEGIN IMMEDIATE")
        await second.execute("BEGIN IMMEDIATE")
    finally:
        await first.close()
        await second.close()


async def test_missing_greenlet(tmp_path):
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'sa.db'}")
    try:
        with engine.sync_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def test_plain_failure():
    assert 1 == 2


def test_dataflow_error():
    from dataflow import DataFlow

    DataFlow("sqlite:///:memory:", pool_min_size=5, pool_max_size=2)
'''

ANCHORS = {
    "test_another_operation": "troubleshooting/#another-operation-in-progress",
    "test_different_loop": "troubleshooting/#attached-to-a-different-loop",
    "test_loop_closed": "troubleshooting/#event-loop-is-closed",
    "test_scope_mismatch": "troubleshooting/#scopemismatch",
    "test_database_locked": "troubleshooting/#database-is-locked",
    "test_missing_greenlet": "troubleshooting/sqlalchemy/#missinggreenlet",
}


def _sections(output: str) -> dict[str, str]:
    """Each failure's report text, by test name (``____ test_x ____`` headers)."""
    parts = re.split(r"^_+ (?:ERROR at (?:setup|teardown) of )?(test_\w+) _+$", output, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["sequential", "xdist"])
def test_third_party_errors_get_one_hint_line_with_the_anchor(
    inner: InnerSuite, backend: str, xdist: tuple[str, ...]
) -> None:
    inner.pytester.makepyfile(test_hinted=HINTED)
    result = inner.run("-p", "no:randomly", *xdist)
    output = result.stdout.str()
    sections = _sections(output)
    expected = dict(ANCHORS)
    if backend != "postgresql":
        expected.pop("test_another_operation")  # skipped by its marker
    base = f"{docs_base_url()}{docs_version()}/"
    for name, anchor in expected.items():
        assert name in sections, (name, output)
        hints = [line for line in sections[name].splitlines() if base in line and "/errors/#df-" not in line]
        assert hints == [hints[0]] and hints[0].endswith(base + anchor), (name, hints, sections[name])
    assert "dataflow hint" not in sections["test_plain_failure"]
    assert "dataflow hint" not in sections["test_dataflow_error"]  # DF- errors carry their own link
    assert output.count("- dataflow hint -") == len(expected)


TASKS = '''
import asyncio

from dataflow import AsyncLocalRuntime
from dataflow.testing import TaskTracker


async def writer(db, started, release):
    started.set()
    await release.wait()
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "create", {"name": "from the worker"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


async def forever():
    while True:
        await asyncio.sleep(3600)


async def count(db):
    workflow = db.workflow()
    workflow.add_node("ItemCountNode", "count", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["count"]["count"]


async def test_ordered_with_events(dataflow_isolated, dataflow_tasks):
    started, release = asyncio.Event(), asyncio.Event()
    task = dataflow_tasks.create_task(writer(dataflow_isolated, started, release))
    await started.wait()
    assert await count(dataflow_isolated) == 0
    release.set()
    await task
    assert await count(dataflow_isolated) == 1


async def test_left_running_is_cancelled_at_teardown(dataflow_tasks):
    dataflow_tasks.create_task(forever(), name="poller")
    asyncio.get_running_loop().create_task(forever(), name="adopted")
    assert [t.get_name() for t in dataflow_tasks.adopt_new_tasks()] == ["adopted"]
    assert len(dataflow_tasks.pending) == 2


async def test_ignores_cancellation():
    async def stubborn():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # swallowed: the task carries on
        await asyncio.sleep(3600)  # the second cancel() ends it

    tracker = TaskTracker(timeout=0.2)
    task = tracker.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    try:
        await tracker.close()
    finally:
        task.cancel()
        await asyncio.wait([task])


async def test_background_failure_fails_the_test(dataflow_tasks):
    async def broken():
        raise ValueError("the worker broke")

    dataflow_tasks.create_task(broken())
    await asyncio.sleep(0)


async def test_a_coroutine_is_not_a_task(dataflow_tasks):
    coro = forever()
    try:
        dataflow_tasks.track_task(coro)
    finally:
        coro.close()
'''


def test_task_tracker_orders_work_and_stops_tasks(inner: InnerSuite) -> None:
    inner.pytester.makeconftest(
        "import pytest\n\n\nclass Item:\n    id: int\n    name: str\n\n\n"
        '@pytest.fixture(scope="session")\ndef dataflow_models():\n    return [Item]\n'
    )
    inner.pytester.makepyfile(test_tasks=TASKS)
    result = inner.run("-p", "no:randomly", "--dataflow-leak-check")
    output = result.stdout.str()
    sections = _sections(output)
    assert set(sections) == {"test_ignores_cancellation", "test_background_failure_fails_the_test",
                             "test_a_coroutine_is_not_a_task"}, output
    result.assert_outcomes(passed=3, failed=2, errors=1)
    assert "DF-710: Tracked task did not stop" in sections["test_ignores_cancellation"]
    assert "task 'stubborn' running" in sections["test_ignores_cancellation"]
    assert "ValueError: the worker broke" in sections["test_background_failure_fails_the_test"]
    assert "DF-805: Not a task" in sections["test_a_coroutine_is_not_a_task"]
    assert "a coroutine" in sections["test_a_coroutine_is_not_a_task"]
    assert "DF-701" not in output  # the tracked tasks were stopped before the leak check looked


def test_a_tracker_timeout_must_be_positive() -> None:
    from dataflow import ConfigurationError
    from dataflow.testing import TaskTracker

    for timeout in (0, -1.0):
        with pytest.raises(ConfigurationError, match="DF-802") as info:
            TaskTracker(timeout=timeout)
        assert "must be greater than 0" in str(info.value)
