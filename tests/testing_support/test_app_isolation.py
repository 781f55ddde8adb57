"""An app's own DataFlow instances inside ``dataflow_isolated``, escaped writes (DF-702), the leak
check and loop-reuse warning on by default (DF-701, DF-703), and seed data -- inner suites per backend,
with and without xdist.

The inner app reads ``DATABASE_URL`` at import time, as a service module does; on SQLite it is set to a
file here (on PostgreSQL the ``inner`` fixture sets it to a fresh database).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from ts_helpers import INNER_INI, database_name, pg_query

APP = """
from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

db = DataFlow()  # DATABASE_URL, at import time


@db.model
class Item:
    id: int
    name: str


async def add_item(item_id, name):
    # A service function that commits its own transaction.
    async with db.transaction():
        workflow = WorkflowBuilder()  # unbound: the node name is resolved among the live instances
        workflow.add_node("ItemCreateNode", "create", {"id": item_id, "name": name})
        await AsyncLocalRuntime().execute_workflow_async(workflow.build())


async def add_item_then_fail(item_id):
    # A service function whose transaction rolls back its own write.
    try:
        async with db.transaction():
            workflow = db.workflow()
            workflow.add_node("ItemCreateNode", "create", {"id": item_id, "name": "doomed"})
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
            raise RuntimeError("payment declined")
    except RuntimeError:
        return False
    return True


async def names():
    workflow = WorkflowBuilder()
    workflow.add_node("ItemListNode", "list", {"order_by": ["id"]})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return [record["name"] for record in results["list"]["records"]]
"""

CONFTEST = """
import pytest

import app


@pytest.fixture(scope="session")
def dataflow_models():
    return [app.Item]
"""

APP_TESTS = """
import os

import app
from dataflow import AsyncLocalRuntime, DataFlow


async def test_service_write_is_seen_and_rolled_back(dataflow_isolated):
    await app.add_item(1, "from the app")
    assert await app.names() == ["from the app"]
    # The fixture's instance sees the app's write: one connection, one transaction.
    workflow = dataflow_isolated.workflow()
    workflow.add_node("ItemCountNode", "count", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert results["count"]["count"] == 1


async def test_app_rollback_undoes_only_its_own_write(dataflow_isolated):
    workflow = dataflow_isolated.workflow()
    workflow.add_node("ItemCreateNode", "create", {"id": 1, "name": "from the test"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    await app.add_item(2, "from the app")
    assert await app.add_item_then_fail(3) is False
    assert await app.names() == ["from the test", "from the app"]


async def test_app_transaction_nests_in_the_tests_transaction(dataflow_isolated):
    async with dataflow_isolated.transaction():
        await app.add_item(1, "inside")
        assert await app.add_item_then_fail(2) is False
    assert await app.names() == ["inside"]


async def test_instance_created_during_the_test_joins(dataflow_isolated):
    late = DataFlow()  # DATABASE_URL again: the worker's database under xdist
    late.model(app.Item)
    workflow = late.workflow()
    workflow.add_node("ItemCreateNode", "create", {"id": 7, "name": "late"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert await app.names() == ["late"]
    await late.close()


async def test_each_test_starts_empty(dataflow_isolated):
    assert await app.names() == []
    assert app.db.url == dataflow_isolated.url  # under xdist both are the worker's database
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert os.environ["PYTEST_XDIST_WORKER"] in os.environ["DATABASE_URL"]
"""


def _outcomes(result: pytest.RunResult, **expected: int) -> None:
    got = {k: result.parseoutcomes().get(k, 0) for k in expected}
    assert got == expected, result.stdout.str()[-6000:] + result.stderr.str()[-2000:]


@pytest.fixture
def app_suite(inner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Writes the inner suite: the app module, a conftest that imports it, and the given tests."""
    if inner.backend == "sqlite":
        inner.database_url = f"sqlite:///{tmp_path / 'app.db'}"
        monkeypatch.setenv("DATABASE_URL", inner.database_url)

    def write(tests: str, conftest: str = CONFTEST):
        inner.pytester.makepyfile(app=APP, conftest=conftest, test_app=tests)
        return inner

    return write


def _rows_left(inner, tmp_path: Path, table: str = "items") -> dict[str, int]:
    """Rows of ``table`` in the run's database and every per-worker copy (those that have the table)."""
    found: dict[str, int] = {}
    if inner.backend == "sqlite":
        for path in sorted(tmp_path.glob("app*.db")):
            with sqlite3.connect(path) as conn:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone():
                    found[path.name] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return found
    base = database_name(inner.database_url)
    names = pg_query(inner.admin_url, "SELECT datname FROM pg_database WHERE datname LIKE %s", base + "%")
    for (name,) in names:
        url = inner.database_url.rsplit("/", 1)[0] + "/" + name
        exists = pg_query(url, "SELECT to_regclass(%s) IS NOT NULL", table)[0][0]
        if exists:
            found[name] = pg_query(url, f"SELECT count(*) FROM {table}")[0][0]
    return found


XDIST = {"sequential": (), "xdist": ("-p", "xdist", "-n", "2")}


@pytest.mark.parametrize("mode", list(XDIST))
def test_module_level_app_instance_runs_inside_the_isolation(app_suite, tmp_path: Path, mode: str) -> None:
    inner = app_suite(APP_TESTS)
    result = inner.run("-p", "no:randomly", *XDIST[mode])
    _outcomes(result, passed=5, failed=0, errors=0)
    assert "DF-70" not in result.stdout.str()  # no leak, no loop reuse, no escaped write
    left = _rows_left(inner, tmp_path)
    assert left and set(left.values()) == {0}, left  # the tables exist and nothing persisted
    if mode == "xdist":
        assert any("gw" in name for name in left), left  # the app used the workers' databases


RAW_COMMIT_TESTS = """
import os

import app


TABLE = "".join(["it", "ems"])  # the report must name the table without seeing it in the source


def insert_statement(table):
    return f"INSERT INTO {table} (id, name) VALUES (100, 'escaped')"


async def test_own_driver_connection_commits(dataflow_isolated):
    await app.add_item(1, "isolated")
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute(insert_statement(TABLE))
        finally:
            await conn.close()
    else:
        import aiosqlite

        async with aiosqlite.connect(url.removeprefix("sqlite:///"), timeout=1) as conn:
            await conn.execute(insert_statement(TABLE))
            await conn.commit()
"""


@pytest.mark.parametrize("mode", list(XDIST))
def test_a_write_through_the_tests_own_connection_fails_naming_the_table(app_suite, mode: str) -> None:
    inner = app_suite(RAW_COMMIT_TESTS)
    result = inner.run("-p", "no:randomly", *XDIST[mode])
    output = result.stdout.str()
    assert "DF-702: Writes escaped the test's isolation" in output, output[-6000:]
    assert "test_own_driver_connection_commits" in output and "'items'" in output, output[-6000:]
    assert "troubleshooting/errors/#df-702" in output, output[-6000:]
    if inner.backend == "postgresql":
        # The write escaped (it was committed); the check names the table and the row count.
        _outcomes(result, passed=1, errors=1)
        assert "table 'items': 1 row(s) inserted or updated (0 -> 1 rows)" in output, output[-6000:]
    else:
        # SQLite's isolation holds the write lock: the write waits, fails, and the report says why.
        _outcomes(result, failed=1)
        assert "database is locked" in output, output[-6000:]
        assert "wrote to table(s) 'items' through a connection outside" in output, output[-6000:]


COMMITTING_FIXTURE_TESTS = """
import os

import pytest

import app


async def _commit(sql):
    url = os.environ["DATABASE_URL"]
    if url.startswith("postgres"):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    else:
        import aiosqlite

        async with aiosqlite.connect(url.removeprefix("sqlite:///"), timeout=5) as conn:
            await conn.execute(sql)
            await conn.commit()


@pytest.fixture
async def committed_row():
    # Commits before the isolated fixture starts and after it ended: the committed state both times.
    await _commit("INSERT INTO items (id, name) VALUES (500, 'committed')")
    yield
    await _commit("DELETE FROM items WHERE id = 500")


async def test_first(dataflow_isolated):
    assert await app.names() == []


async def test_with_a_committing_fixture(committed_row, dataflow_isolated):
    assert await app.names() == ["committed"]


async def test_after_it(dataflow_isolated):
    assert await app.names() == []
"""


@pytest.mark.parametrize("mode", list(XDIST))
def test_writes_of_other_fixtures_between_isolated_tests_are_not_blamed_on_a_test(app_suite, mode: str) -> None:
    # The check after a test starts the next test's check when nothing ran in between; a fixture of
    # the user's that ran is something, so the state is read again and no write is reported.
    inner = app_suite(COMMITTING_FIXTURE_TESTS)
    result = inner.run("-p", "no:randomly", *XDIST[mode], *(("--dist", "loadfile") if mode == "xdist" else ()))
    _outcomes(result, passed=3, failed=0, errors=0)
    assert "DF-702" not in result.stdout.str(), result.stdout.str()[-6000:]


RAW_COMMIT_ON_ISOLATED = """
import os

import pytest

import app
from dataflow import AsyncLocalRuntime


async def test_raw_commit(dataflow_isolated):
    await app.add_item(1, "before")
    async with dataflow_isolated.connection() as connection:
        await connection.execute("COMMIT")  # ends the isolation's transaction: item 1 is committed
    workflow = dataflow_isolated.workflow()
    workflow.add_node("ItemCreateNode", "create", {"id": 2, "name": "after the commit"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


@pytest.mark.skipif(not os.environ["DATABASE_URL"].startswith("postgres"), reason="SQLite locks the write")
@pytest.mark.dataflow_escapes_expected(reason="this test writes through its own connection on purpose")
async def test_opted_out(dataflow_isolated):
    import asyncpg

    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await conn.execute("INSERT INTO items (id, name) VALUES (100, 'kept')")
    finally:
        await conn.close()
"""


def test_a_raw_commit_on_the_isolated_connection_fails_and_the_marker_opts_out(app_suite) -> None:
    inner = app_suite(RAW_COMMIT_ON_ISOLATED)
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    if inner.backend == "postgresql":
        _outcomes(result, passed=2, errors=1)
    else:  # the isolation's ROLLBACK fails too (no transaction left): it is chained to DF-702
        _outcomes(result, passed=1, skipped=1, errors=1)
        assert "cannot rollback" in output, output[-6000:]
    assert "ERROR test_app.py::test_raw_commit - dataflow._errors.EscapedWritesError" in output, output[-6000:]
    assert "table 'items': 2 row(s) inserted or updated (0 -> 2 rows)" in output, output[-6000:]


MARKER_WITHOUT_REASON = """
import pytest


@pytest.mark.dataflow_escapes_expected
async def test_no_reason(dataflow_isolated):
    pass
"""


@pytest.mark.sqlite_only(reason="checks the marker's arguments; no database behaviour")
def test_the_opt_out_marker_needs_a_reason(app_suite) -> None:
    inner = app_suite(MARKER_WITHOUT_REASON)
    result = inner.run("-p", "no:randomly")
    assert "@pytest.mark.dataflow_escapes_expected needs reason=..." in result.stdout.str() + result.stderr.str()
    assert result.ret != 0


SHARED_INSTANCE_TESTS = """
import app


async def test_first():
    await app.add_item(1, "first")


async def test_second():
    assert await app.names() == ["first"]  # the first test's row: nothing isolates them
"""


@pytest.mark.parametrize("mode", list(XDIST))
def test_two_tests_sharing_an_import_time_instance_fail_by_default(app_suite, mode: str) -> None:
    # Leak check on by default: no --dataflow-leak-check, no ini setting. One worker for both
    # tests under xdist (--dist loadfile), so the instance is reused across their loops.
    inner = app_suite(SHARED_INSTANCE_TESTS)
    extra = ("-p", "xdist", "-n", "2", "--dist", "loadfile") if mode == "xdist" else ()
    result = inner.run("-p", "no:randomly", *extra)
    output = result.stdout.str()
    assert result.ret != 0, output[-6000:]
    assert "DF-701: Test left resources open" in output, output[-6000:]
    assert "DF-703: Instance reused on another event loop" in output, output[-6000:]
    assert "created at" in output and "app.py:" in output, output[-6000:]
    assert "guide/fixture-patterns/#a-dataflow-instance-that-nobody-closes" in output, output[-6000:]


def test_the_leak_check_can_be_turned_off_in_the_ini(app_suite) -> None:
    inner = app_suite(SHARED_INSTANCE_TESTS)
    inner.pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "asyncio_default_test_loop_scope = function\naddopts = -p dataflow.testing -p no:cacheprovider\n"
        "dataflow_leak_check = false\n"
    )
    result = inner.run("-p", "no:randomly")
    _outcomes(result, passed=2, errors=0)
    assert "DF-701" not in result.stdout.str()


CONFTEST_PLUGIN_AFTER_APP = """
import pytest

import app  # imported before the plugin is configured: its instance holds the run's DATABASE_URL

pytest_plugins = ["dataflow.testing"]


@pytest.fixture(scope="session")
def dataflow_models():
    return [app.Item]
"""

ALIAS_TESTS = APP_TESTS.split("async def test_each_test_starts_empty")[0] + '''
async def test_each_test_starts_empty(dataflow_isolated):
    assert await app.names() == []
'''


def test_an_instance_created_before_the_plugin_still_joins_under_xdist(app_suite, tmp_path: Path) -> None:
    """pytest_plugins in a conftest.py that imports the app first: the app's instance keeps the
    run's URL, and joins the isolation of the worker's database all the same."""
    inner = app_suite(ALIAS_TESTS, conftest=CONFTEST_PLUGIN_AFTER_APP)
    inner.pytester.makeini(INNER_INI.replace("-p dataflow.testing ", ""))
    result = inner.run("-p", "no:randomly", "-p", "xdist", "-n", "2")
    _outcomes(result, passed=5, failed=0, errors=0)
    assert "DF-70" not in result.stdout.str()
    left = _rows_left(inner, tmp_path)
    assert set(left.values()) <= {0}, left
