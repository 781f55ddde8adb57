"""Seed data (``dataflow_seed``): loaded once per session or module (per xdist worker), every isolated
test starts from it and returns to it, a test that changes it outside its rollback fails (DF-702) and
the next test gets it back; a bad loader is DF-704. Inner suites per backend, with and without xdist."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from ts_helpers import database_name, pg_query

CONFTEST = """
import os

import pytest
from dataflow import AsyncLocalRuntime

LOADS = os.path.join(os.path.dirname(__file__), "loads.txt")


class Item:
    id: int
    name: str


@pytest.fixture(scope="session")
def dataflow_models():
    return [Item]


async def run(db, node, params):
    workflow = db.workflow()
    workflow.add_node(node, "n", params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["n"]


async def names(db):
    return [r["name"] for r in (await run(db, "ItemListNode", {"order_by": ["id"]}))["records"]]


@pytest.fixture(scope="session")
def dataflow_seed():
    async def load(db):
        with open(LOADS, "a") as f:
            f.write("session\\n")
        records = [{"id": i, "name": f"seed-{i}"} for i in (1, 2, 3)]
        await run(db, "ItemBulkCreateNode", {"records": records})

    return load
"""

SESSION_TESTS = """
import pytest
from conftest import names, run

SEED = ["seed-1", "seed-2", "seed-3"]


@pytest.mark.parametrize("i", range(4))
async def test_starts_from_the_seed_and_changes_it(dataflow_isolated, i):
    assert await names(dataflow_isolated) == SEED
    await run(dataflow_isolated, "ItemDeleteNode", {"id": 1})
    await run(dataflow_isolated, "ItemCreateNode", {"id": 10 + i, "name": "mine"})
    await run(dataflow_isolated, "ItemUpdateNode", {"filter": {"id": 2}, "fields": {"name": "changed"}})
    assert await names(dataflow_isolated) == ["changed", "seed-3", "mine"]
"""

MODULE_TESTS = """
import pytest
from conftest import names, run


@pytest.fixture(scope="module")
def dataflow_seed():
    async def load(db):
        await run(db, "ItemCreateNode", {"id": 1, "name": "module seed"})

    return load


@pytest.mark.parametrize("i", range(2))
async def test_module_seed(dataflow_isolated, i):
    assert await names(dataflow_isolated) == ["module seed"]
    await run(dataflow_isolated, "ItemCreateNode", {"id": 2, "name": "mine"})
"""

NO_SEED_TESTS = """
import pytest
from conftest import names, run


@pytest.fixture(scope="module")
def dataflow_seed():
    return None


async def test_without_a_seed_the_tables_are_empty(dataflow_isolated):
    assert await names(dataflow_isolated) == []
"""


def _outcomes(result: pytest.RunResult, **expected: int) -> None:
    got = {k: result.parseoutcomes().get(k, 0) for k in expected}
    assert got == expected, result.stdout.str()[-6000:] + result.stderr.str()[-2000:]


def _rows_left(inner, tmp_path: Path) -> list[int]:
    if inner.backend == "sqlite":
        counts = []
        for path in inner.pytester.path.rglob("*.db"):
            with sqlite3.connect(path) as conn:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone():
                    counts.append(conn.execute("SELECT count(*) FROM items").fetchone()[0])
        return counts
    base = database_name(inner.database_url)
    counts = []
    for (name,) in pg_query(inner.admin_url, "SELECT datname FROM pg_database WHERE datname LIKE %s", base + "%"):
        url = inner.database_url.rsplit("/", 1)[0] + "/" + name
        if pg_query(url, "SELECT to_regclass('items') IS NOT NULL")[0][0]:
            counts.append(pg_query(url, "SELECT count(*) FROM items")[0][0])
    return counts


@pytest.mark.parametrize("mode", ["sequential", "xdist"])
def test_seed_is_loaded_once_and_every_test_returns_to_it(inner, tmp_path: Path, mode: str) -> None:
    inner.pytester.makeconftest(CONFTEST)
    inner.pytester.makepyfile(test_a_session=SESSION_TESTS, test_b_module=MODULE_TESTS, test_c_none=NO_SEED_TESTS)
    xdist = ("-p", "xdist", "-n", "2", "--dist", "loadfile") if mode == "xdist" else ()
    result = inner.run("-p", "no:randomly", *xdist)
    _outcomes(result, passed=7, failed=0, errors=0)
    loads = inner.pytester.path / "loads.txt"
    # the session seed was loaded once per worker that ran its tests (loadfile: one worker)
    assert loads.read_text().split() == ["session"], loads.read_text()
    left = _rows_left(inner, tmp_path)
    assert left and set(left) == {0}, left  # the seed is removed at the end of the session


ESCAPING_TESTS = """
from conftest import names, run


async def test_changes_the_seed_outside_its_rollback(dataflow_isolated):
    async with dataflow_isolated.connection() as connection:
        await connection.execute("COMMIT")  # the isolation's transaction ends: what follows is kept
    await run(dataflow_isolated, "ItemDeleteNode", {"id": 3})


async def test_the_next_test_gets_the_seed_back(dataflow_isolated):
    assert await names(dataflow_isolated) == ["seed-1", "seed-2", "seed-3"]
"""


def test_a_test_that_changes_the_seed_outside_its_rollback_fails(inner, tmp_path: Path) -> None:
    inner.pytester.makeconftest(CONFTEST)
    inner.pytester.makepyfile(test_escape=ESCAPING_TESTS)
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    _outcomes(result, passed=2, errors=1)
    assert "DF-702: Writes escaped the test's isolation" in output, output[-6000:]
    assert "test_changes_the_seed_outside_its_rollback" in output
    assert "table 'items': 1 row(s) deleted (3 -> 2 rows)" in output, output[-6000:]
    assert (inner.pytester.path / "loads.txt").read_text().split() == ["session", "session"]


BAD_SEEDS = """
import pytest


class TestNotAFunction:
    @pytest.fixture(scope="class")
    def dataflow_seed(self):
        def load(db):  # not async
            pass

        return load

    async def test_it(self, dataflow_isolated):
        pass


class TestLoaderFails:
    @pytest.fixture(scope="class")
    def dataflow_seed(self):
        async def load(db):
            raise ValueError("the fixture file is missing")

        return load

    async def test_it(self, dataflow_isolated):
        pass
"""


def test_a_bad_seed_is_df704(inner) -> None:
    inner.pytester.makeconftest(CONFTEST)
    inner.pytester.makepyfile(test_bad=BAD_SEEDS)
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    _outcomes(result, errors=2)
    assert output.count("DF-704: Invalid seed data loader") >= 2, output[-6000:]
    assert "it must return None or an async function" in output, output[-6000:]
    assert "ValueError: the fixture file is missing" in output, output[-6000:]
