"""The pytest plugin's fixtures, exercised by inner suites (pytester, in subprocesses) per backend.

SQLite: no ``DATABASE_URL`` (the plugin's SQLite files), except where a known file is needed.
PostgreSQL: ``DATABASE_URL`` is a fresh database (see the ``inner`` fixture in conftest.py).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from ts_helpers import database_name, pg_query

MODELS_CONFTEST = """
import pytest


class Item:
    id: int
    name: str


@pytest.fixture(scope="session")
def dataflow_models():
    return [Item]
"""


def _assert_outcomes(result: pytest.RunResult, **expected: int) -> None:
    outcomes = result.parseoutcomes()
    got = {k: outcomes.get(k, 0) for k in expected}
    assert got == expected, result.stdout.str()[-4000:] + result.stderr.str()[-2000:]


# --- inner suite sources ------------------------------------------------------------------------

DB_TESTS = """
import os
import pytest
from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

seen = []


async def create_and_count(db, item_id):
    wf = WorkflowBuilder()
    wf.add_node(db.nodes["ItemCreateNode"], "c", {"id": item_id, "name": "x"})
    wf.add_node(db.nodes["ItemCountNode"], "n", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
    return results


@pytest.mark.parametrize("run", range(3))
async def test_fresh_instance_same_key(dataflow_db, run):
    assert isinstance(dataflow_db, DataFlow) and dataflow_db.test_mode
    assert id(dataflow_db) not in seen
    seen.append(id(dataflow_db))
    assert "Item" in dataflow_db.models
    assert (await create_and_count(dataflow_db, 1))["n"]["count"] == 1


async def test_backend_follows_database_url(dataflow_db):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    assert dataflow_db.dialect == ("postgresql" if on_postgres else "sqlite")
"""

SHARED_COMMON = """
import pytest
from dataflow import AsyncLocalRuntime, WorkflowBuilder


async def run(db, op, params):
    wf = WorkflowBuilder()
    wf.add_node(db.nodes[f"Item{op}Node"], "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
    return results["n"]
"""

MODULE_TESTS = SHARED_COMMON + """
pytestmark = pytest.mark.asyncio(loop_scope="module")
ids = set()


async def test_first(dataflow_db_module):
    ids.add(id(dataflow_db_module))
    await run(dataflow_db_module, "Create", {"id": 1, "name": "a"})


async def test_second_sees_the_first(dataflow_db_module):
    ids.add(id(dataflow_db_module))
    assert len(ids) == 1
    assert (await run(dataflow_db_module, "Count", {}))["count"] == 1
"""

SESSION_A = SHARED_COMMON + """
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_session_write(dataflow_db_session):
    await run(dataflow_db_session, "Create", {"id": 10, "name": "s"})
"""

SESSION_B = SHARED_COMMON + """
pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_session_read(dataflow_db_session):
    assert (await run(dataflow_db_session, "Read", {"id": 10}))["name"] == "s"
"""

# --- dataflow_isolated ---------------------------------------------------------------------------

ISOLATED_TESTS = """
import pytest
from dataflow import AsyncLocalRuntime, WorkflowBuilder


def create_workflow(db, item_id):
    wf = WorkflowBuilder()
    wf.add_node(db.nodes["ItemCreateNode"], "c", {"id": item_id, "name": "x"})
    wf.add_node(db.nodes["ItemCountNode"], "n", {})
    return wf.build()


async def code_that_commits(db, item_id):
    # application code: its own transaction, committed
    async with db.transaction():
        results, _ = await AsyncLocalRuntime().execute_workflow_async(create_workflow(db, item_id))
    return results


async def code_with_plain_workflow(db, item_id):
    results, _ = await AsyncLocalRuntime().execute_workflow_async(create_workflow(db, item_id))
    return results


async def code_with_nested_commits(db, item_id):
    async with db.transaction():
        async with db.transaction():
            await code_with_plain_workflow(db, item_id)
        results, _ = await AsyncLocalRuntime().execute_workflow_async(create_workflow(db, item_id + 1))
    return results


@pytest.mark.parametrize("run", range(N))
@pytest.mark.parametrize("code", [code_that_commits, code_with_plain_workflow, code_with_nested_commits])
async def test_same_primary_key(dataflow_isolated, code, run):
    results = await code(dataflow_isolated, 1)
    assert results["n"]["count"] == (2 if code is code_with_nested_commits else 1)
"""



FRESH_CHECK = """
from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder
from conftest import Item


async def test_isolated_rows_are_gone(dataflow_session_url):
    db = DataFlow(dataflow_session_url)
    db.model(Item)
    try:
        wf = WorkflowBuilder()
        wf.add_node(db.nodes["ItemCountNode"], "n", {})
        results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
        assert results["n"]["count"] == 0
    finally:
        await db.close()
"""


def _use_sqlite_file(inner, tmp_path: Path) -> list[str]:
    """SQLite: a known session file (``DATABASE_URL``), so the test can look into it afterwards.
    Returns the databases the inner suite may write to (base and per-worker)."""
    if inner.backend == "sqlite":
        path = tmp_path / "iso.db"
        inner.pytester._monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        return [str(path), str(path.with_name("iso_gw0.db")), str(path.with_name("iso_gw1.db"))]
    base = database_name(inner.database_url)
    return [base, base + "_gw0", base + "_gw1"]


def _rows_left(inner, databases: list[str]) -> dict[str, int]:
    """Rows in the items table of each database that has one (a fresh connection, not DataFlow)."""
    left = {}
    for name in databases:
        if inner.backend == "sqlite":
            if not Path(name).exists():
                continue
            with sqlite3.connect(name) as conn:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone():
                    left[name] = conn.execute('SELECT count(*) FROM "items"').fetchone()[0]
        else:
            if not pg_query(inner.admin_url, "SELECT 1 FROM pg_database WHERE datname = %s", name):
                continue
            url = inner.admin_url.rsplit("/", 1)[0] + "/" + name
            if pg_query(url, "SELECT to_regclass('items') IS NOT NULL")[0][0]:
                left[name] = pg_query(url, 'SELECT count(*) FROM "items"')[0][0]
    return left


# --- the tests -------------------------------------------------------------------------------------
# Inner pytest runs are expensive (a fresh interpreter each, more with xdist), so each run below
# covers several fixtures at once.


def test_all_fixtures_in_one_sequential_run(inner, tmp_path: Path) -> None:
    """dataflow_db (fresh per test, tables created), dataflow_db_module / dataflow_db_session (shared,
    with the right loop_scope) and dataflow_isolated (same primary key in every test, with code
    that commits), in file order, with the leak check on: all pass, nothing is left in the database."""
    _use_sqlite_file(inner, tmp_path)  # test_4_nothing_left checks the database from inside the run
    inner.pytester.makeconftest(MODELS_CONFTEST)
    inner.pytester.makepyfile(
        test_1_db=DB_TESTS, test_2_module=MODULE_TESTS,
        test_3_isolated=ISOLATED_TESTS.replace("range(N)", "range(2)"),
        test_4_nothing_left=FRESH_CHECK, test_5_session_a=SESSION_A, test_6_session_b=SESSION_B,
    )
    result = inner.run("-p", "no:randomly", "--dataflow-leak-check")
    _assert_outcomes(result, passed=4 + 2 + 6 + 1 + 2, failed=0, errors=0)
    assert "DF-701" not in result.stdout.str()


def test_isolated_and_dataflow_url_under_xdist_in_random_order(inner, tmp_path: Path) -> None:
    """-n 2 with pytest-randomly: dataflow_isolated still isolates, and dataflow_url gives each
    worker its own PostgreSQL database (SQLite: a file per test)."""
    databases = _use_sqlite_file(inner, tmp_path)
    out = tmp_path / "urls.jsonl"
    inner.pytester.makeconftest(MODELS_CONFTEST)
    inner.pytester.makepyfile(
        test_isolated=ISOLATED_TESTS.replace("range(N)", "range(3)"),
        test_urls=f"""
import json, os
import pytest

@pytest.mark.parametrize("i", range(6))
def test_record(dataflow_url, dataflow_session_url, i):
    with open({str(out)!r}, "a") as f:
        f.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), dataflow_url, dataflow_session_url]) + "\\n")
""")
    result = inner.run("-p", "xdist", "-n", "2", "-p", "randomly", "--randomly-seed=1", "--dataflow-leak-check")
    _assert_outcomes(result, passed=9 + 6, failed=0, errors=0)
    left = _rows_left(inner, databases)
    assert set(left.values()) == {0}, left
    assert left and databases[0] not in left, left  # per-worker databases; the base one is unused

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    workers = {w for w, _, _ in rows}
    assert workers == {"gw0", "gw1"}, rows
    by_worker = {w: {u for ww, u, _ in rows if ww == w} for w in workers}
    sessions = {w: {s for ww, _, s in rows if ww == w} for w in workers}
    assert all(len(v) == 1 for v in sessions.values()) and sessions["gw0"] != sessions["gw1"]
    # DATABASE_URL is set (SQLite: a file): every test of a worker gets that worker's database
    for worker, urls in by_worker.items():
        assert len(urls) == 1, urls
        (url,) = urls
        if inner.backend == "postgresql":
            assert database_name(url) == f"{database_name(inner.database_url)}_{worker}"
            assert pg_query(inner.admin_url, "SELECT 1 FROM pg_database WHERE datname = %s", database_name(url))
        else:
            assert url.endswith(f"iso_{worker}.db"), url
    assert by_worker["gw0"] != by_worker["gw1"]


@pytest.mark.sqlite_only(reason="without DATABASE_URL the plugin always uses SQLite files")
def test_dataflow_url_without_database_url_is_a_sqlite_file_per_test(inner, tmp_path: Path) -> None:
    out = tmp_path / "urls.txt"
    inner.pytester.makepyfile(test_urls=f"""
import pytest

@pytest.mark.parametrize("i", range(3))
def test_record(dataflow_url, i):
    with open({str(out)!r}, "a") as f:
        f.write(dataflow_url + "\\n")
""")
    result = inner.run("-p", "no:randomly")
    _assert_outcomes(result, passed=3)
    urls = out.read_text().split()
    assert len(set(urls)) == 3 and all(u.startswith("sqlite:///") for u in urls), urls


@pytest.mark.parametrize("seed", [2, 3])
def test_isolated_in_random_order(inner, tmp_path: Path, seed: int) -> None:
    databases = _use_sqlite_file(inner, tmp_path)
    inner.pytester.makeconftest(MODELS_CONFTEST)
    inner.pytester.makepyfile(test_isolated=ISOLATED_TESTS.replace("range(N)", "range(3)"))
    result = inner.run("-p", "randomly", f"--randomly-seed={seed}")
    _assert_outcomes(result, passed=9, failed=0, errors=0)
    assert f"randomly-seed={seed}" in result.stdout.str()
    left = _rows_left(inner, databases)
    assert left and set(left.values()) == {0}, left
