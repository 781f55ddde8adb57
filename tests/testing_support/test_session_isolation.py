"""The session-loop mode ``dataflow_isolated_session``: the app's import-time instance joins it, each
test starts from the seed and leaves nothing behind, every test runs on the one session loop, escaped
writes fail the test (DF-702) and a test on another loop fails with DF-827 -- inner suites per
backend, with and without xdist.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_app_isolation import APP, CONFTEST, XDIST, _outcomes, _rows_left

SEEDED_CONFTEST = CONFTEST + '''
from dataflow import AsyncLocalRuntime

@pytest.fixture(scope="session")
def dataflow_seed():
    async def load(db):
        workflow = db.workflow()
        workflow.add_node("ItemCreateNode", "seed", {"id": 1000, "name": "seeded"})
        await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return load
'''

SESSION_TESTS = """
import asyncio

import pytest

import app
from dataflow import AsyncLocalRuntime

LOOPS = set()


@pytest.mark.parametrize("n", range(4))
async def test_app_writes_are_rolled_back(dataflow_isolated_session, n):
    LOOPS.add(asyncio.get_running_loop())
    assert await app.names() == ["seeded"]  # the seed, and nothing a previous test wrote
    await app.add_item(n + 1, f"item {n}")  # commits its own transaction: a savepoint here
    assert await app.add_item_then_fail(50) is False
    assert await app.names() == [f"item {n}", "seeded"]
    workflow = dataflow_isolated_session.workflow()
    workflow.add_node("ItemCountNode", "count", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["count"]["count"] == 2


def test_one_loop_for_every_test():
    assert len(LOOPS) == 1, LOOPS
"""


def _write(inner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tests: str, conftest: str = SEEDED_CONFTEST):
    if inner.backend == "sqlite":
        inner.database_url = f"sqlite:///{tmp_path / 'app.db'}"
        monkeypatch.setenv("DATABASE_URL", inner.database_url)
    inner.pytester.makepyfile(app=APP, conftest=conftest, test_app=tests)
    return inner


@pytest.mark.parametrize("mode", list(XDIST))
def test_session_mode_rolls_back_every_test_on_one_loop(
    inner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    _write(inner, tmp_path, monkeypatch, SESSION_TESTS)
    # xdist: one test module is split over both workers, so each has its own loop; -n 2 with
    # --dist loadfile keeps the module (and its loop check) on one worker.
    extra = (*XDIST[mode], "--dist", "loadfile") if mode == "xdist" else ()
    result = inner.run("-p", "no:randomly", *extra)
    _outcomes(result, passed=5, failed=0, errors=0)
    assert "DF-70" not in result.stdout.str()  # no leak, no loop reuse, no escaped write
    left = _rows_left(inner, tmp_path)
    assert left and set(left.values()) == {0}, left  # the seed was emptied at the end, nothing else kept


ESCAPE_TESTS = """
import os

import pytest

import app


async def test_raw_commit(dataflow_isolated_session):
    await app.add_item(1, "before")
    async with dataflow_isolated_session.connection() as connection:
        await connection.execute("COMMIT")  # ends the isolation's transaction: item 1 is committed


async def test_next_test_starts_from_the_seed_again(dataflow_isolated_session):
    assert await app.names() == ["seeded"]


@pytest.mark.asyncio(loop_scope="function")
async def test_on_the_function_loop(dataflow_isolated_session):
    pass


@pytest.mark.skipif(not os.environ["DATABASE_URL"].startswith("postgres"), reason="SQLite locks the write")
async def test_own_driver_connection_commits(dataflow_isolated_session):
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute("INSERT INTO items (id, name) VALUES (100, 'escaped')")
    finally:
        await conn.close()


async def test_last(dataflow_isolated_session):
    assert await app.names() == ["seeded"]
"""


def test_session_mode_reports_escaped_writes_and_a_test_on_another_loop(
    inner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(inner, tmp_path, monkeypatch, ESCAPE_TESTS)
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    assert "ERROR test_app.py::test_raw_commit - dataflow._errors.EscapedWritesError" in output, output[-6000:]
    # (on SQLite the row marker is the rowid, and item 1 sits below the seed's id 1000: "rows changed")
    assert "table 'items': " in output and "(1 -> 2 rows)" in output, output[-6000:]
    assert "DF-827: Session isolation outside the session loop" in output, output[-6000:]
    assert 'sets loop_scope="function"' in output, output[-6000:]
    if inner.backend == "postgresql":
        assert "ERROR test_app.py::test_own_driver_connection_commits - dataflow._errors.EscapedWrites" in output
        _outcomes(result, passed=4, errors=3)  # a test whose teardown fails counts as passed too
    else:
        _outcomes(result, passed=3, skipped=1, errors=2)


STRICT_TESTS = """
import pytest

from dataflow import AsyncLocalRuntime


@pytest.mark.asyncio
async def test_marked(dataflow_isolated_session):
    workflow = dataflow_isolated_session.workflow()
    workflow.add_node("ItemCountNode", "count", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["count"]["count"] == 1


def test_sync(dataflow_isolated_session):
    pass
"""


@pytest.mark.sqlite_only(reason="pytest-asyncio's strict mode and the marker; the loop is backend-neutral")
def test_strict_mode_needs_the_mark_and_a_sync_test_gets_df827(
    inner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(inner, tmp_path, monkeypatch, STRICT_TESTS)
    inner.pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "addopts = -p dataflow.testing -p no:cacheprovider\n"
    )
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    _outcomes(result, passed=1, errors=1)
    assert "test_sync - dataflow._errors.IsolationModeError" in output, output[-6000:]
    assert "it is not run by pytest-asyncio" in output, output[-6000:]
