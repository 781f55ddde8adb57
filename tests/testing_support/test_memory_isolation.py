"""The escaped-writes check of an in-memory SQLite database (``sqlite:///:memory:``).

Such a database has no commit probe, so the check rides on the isolation's own BEGIN and ROLLBACK
(``_dialects._sqlite_isolation.MemoryIsolationWatch``): the markers are read in the BEGIN hop, and
after the test only when the isolation's savepoint is gone (something ended its transaction). These
tests are SQLite only: an in-memory database is SQLite's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_app_isolation import _outcomes
from test_fixture_plugin import MODELS_CONFTEST

from dataflow import AsyncLocalRuntime, DataFlow, DataFlowError
from dataflow._dialects import SchemaEditor

pytestmark = pytest.mark.sqlite_only(reason="an in-memory database is SQLite's; PostgreSQL has a commit probe")


@pytest.fixture
async def memory_db() -> AsyncIterator[DataFlow]:
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Item:
        id: int
        name: str

    await db.create_tables()
    yield db
    await db.close()


async def _add(db: DataFlow, item_id: int) -> None:
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "create", {"id": item_id, "name": f"item {item_id}"})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


def _watch(db: DataFlow, *, read_before: bool = True):  # type: ignore[no-untyped-def]
    editor: SchemaEditor = db.execution_context.backend.editor
    watch = editor.isolation_watch(db.execution_context.url, read_before=read_before)
    assert watch is not None
    return watch


def _count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from dataflow._dialects.sqlite import SQLiteConnection

    hops: list[str] = []
    original = SQLiteConnection.run_step

    async def counted(self, fn):  # type: ignore[no-untyped-def]
        hops.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn)

    monkeypatch.setattr(SQLiteConnection, "run_step", counted)
    return hops


async def test_a_test_that_commits_nothing_costs_no_marker_read(memory_db, monkeypatch) -> None:
    await _add(memory_db, 1)  # committed before the isolation: part of the markers read with BEGIN
    watch = _watch(memory_db)
    hops = _count_hops(monkeypatch)
    async with memory_db.execution_context.isolated(boundaries=watch):
        assert len(hops) == 1  # the markers, BEGIN and the savepoint: one step
        await _add(memory_db, 2)
        async with memory_db.transaction():  # a savepoint inside the isolation, released
            await _add(memory_db, 3)
        del hops[:]
    assert len(hops) == 1  # ROLLBACK TO the savepoint and ROLLBACK: one step, no markers read
    assert watch.before == {"items": (1, 1)}
    assert watch.intact is True and watch.after is None
    assert await _ids(memory_db) == [1]


async def test_a_raw_commit_is_seen_and_the_markers_are_read_after_the_rollback(memory_db) -> None:
    watch = _watch(memory_db)
    with pytest.raises(DataFlowError, match="cannot rollback"):  # the COMMIT left no transaction
        async with memory_db.execution_context.isolated(boundaries=watch):
            await _add(memory_db, 1)
            async with memory_db.connection() as connection:
                await connection.execute("COMMIT")
            await _add(memory_db, 2)  # autocommitted: escaped too
    assert watch.intact is False
    assert watch.before == {"items": (0, 0)}
    assert watch.after == {"items": (2, 2)}
    assert await _ids(memory_db) == [1, 2]


async def test_a_commit_followed_by_a_new_begin_is_seen_too(memory_db) -> None:
    watch = _watch(memory_db, read_before=False)
    async with memory_db.execution_context.isolated(boundaries=watch):
        await _add(memory_db, 1)
        async with memory_db.connection() as connection:
            await connection.execute("COMMIT")
            await connection.execute("BEGIN")  # the test leaves a transaction open: ROLLBACK succeeds
        await _add(memory_db, 2)
    assert watch.before is None  # not asked for
    assert watch.intact is False
    assert watch.after == {"items": (1, 1)}  # item 2 was in the test's own transaction, rolled back
    assert await _ids(memory_db) == [1]


async def test_files_have_no_isolation_watch(tmp_path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path / 'file.db'}")
    assert db.execution_context.backend.editor.isolation_watch(db.execution_context.url, read_before=True) is None
    await db.close()


async def _ids(db: DataFlow) -> list[int]:
    async with db.connection() as connection:
        return [int(row[0]) for row in await connection.fetch('SELECT "id" FROM "items" ORDER BY "id"')]


MEMORY_TESTS = """
import pytest

from dataflow import AsyncLocalRuntime


async def add(db, item_id):
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "create", {{"id": item_id, "name": "item"}})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


async def count(db):
    workflow = db.workflow()
    workflow.add_node("ItemCountNode", "count", {{}})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["count"]["count"]


async def test_rolled_back({fixture}):
    await add({fixture}, 1)
    async with {fixture}.transaction():
        await add({fixture}, 2)
    assert await count({fixture}) == 2


async def test_raw_commit({fixture}):
    await add({fixture}, 3)
    async with {fixture}.connection() as connection:
        await connection.execute("COMMIT")  # ends the isolation's transaction: item 3 is committed
    await add({fixture}, 4)


async def test_after_the_escape({fixture}):
    # Its own check compares with the state the escape left (no seed: nothing empties the table).
    before = await count({fixture})
    await add({fixture}, 5)
    assert await count({fixture}) == before + 1
"""


@pytest.mark.parametrize("fixture", ["dataflow_isolated", "dataflow_isolated_session"])
def test_the_fixtures_report_escaped_writes_on_an_in_memory_database(
    inner, monkeypatch: pytest.MonkeyPatch, fixture: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    inner.pytester.makepyfile(conftest=MODELS_CONFTEST, test_memory=MEMORY_TESTS.format(fixture=fixture))
    result = inner.run("-p", "no:randomly")
    output = result.stdout.str()
    assert "ERROR test_memory.py::test_raw_commit - dataflow._errors.EscapedWritesError" in output, output[-6000:]
    assert "table 'items': 2 row(s) inserted or updated (0 -> 2 rows)" in output, output[-6000:]
    assert "cannot rollback" in output, output[-6000:]  # the isolation's ROLLBACK failed: chained
    # One error: the next test's check starts from what the escape left and finds it clean.
    _outcomes(result, passed=3, errors=1)  # a test whose teardown fails counts as passed too
