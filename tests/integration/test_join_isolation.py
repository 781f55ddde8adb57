"""``db.isolated(join_instances=True)`` without the plugin: other instances on the same database run
on the isolated connection, their transactions as savepoints, and node names resolve to the first
instance created; instances elsewhere are left alone."""

from __future__ import annotations

import pytest

from dataflow import AmbiguousNodeTypeError, AsyncLocalRuntime, DataFlow, TransactionError, WorkflowBuilder


class Item:
    id: int
    name: str


def make(url: str) -> DataFlow:
    db = DataFlow(url, test_mode=True)
    db.model(Item)
    return db


async def names(workflow_owner: DataFlow | None = None) -> list[str]:
    workflow = workflow_owner.workflow() if workflow_owner else WorkflowBuilder()
    workflow.add_node("ItemListNode", "all", {"order_by": ["id"]})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return [r["name"] for r in results["all"]["records"]]


async def create(db: DataFlow, item_id: int, name: str) -> None:
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "c", {"id": item_id, "name": name})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


@pytest.fixture
async def app_and_test(database_url: str):
    app = make(database_url)  # created first, like an app module's instance
    test = make(database_url)
    await test.create_tables()
    try:
        yield app, test
    finally:
        await test.drop_tables()
        await app.close()
        await test.close()


async def test_the_apps_writes_and_rollbacks_run_inside_the_isolation(app_and_test) -> None:
    app, test = app_and_test
    async with test.isolated(join_instances=True):
        await create(test, 1, "test")
        async with app.transaction():
            await create(app, 2, "app")
        with pytest.raises(RuntimeError):
            async with app.transaction():
                await create(app, 3, "undone")
                raise RuntimeError("the app rolls back")
        assert await names() == ["test", "app"]  # unbound: resolves while joined
        assert await names(test) == ["test", "app"]
        assert app.get_cleanup_metrics()["pools_created"] == 0  # the app opened no pool of its own
    assert await names(test) == []  # everything was rolled back
    with pytest.raises(AmbiguousNodeTypeError, match="DF-407"):
        await names()  # not joined any more: two live instances declare ItemListNode


async def test_instances_created_during_the_isolation_join(app_and_test, database_url: str) -> None:
    _, test = app_and_test
    async with test.isolated(join_instances=True):
        late = make(database_url)
        await create(late, 5, "late")
        assert await names(test) == ["late"]
        await late.close()
    assert await names(test) == []


async def test_other_databases_and_memory_do_not_join(app_and_test, tmp_path) -> None:
    _, test = app_and_test
    other = make(f"sqlite:///{tmp_path / 'other.db'}")
    memory = make("sqlite:///:memory:")
    try:
        async with test.isolated(join_instances=True):
            await create(other, 1, "elsewhere")
            await create(memory, 1, "in memory")
        assert await names(other) == ["elsewhere"]  # committed on its own database
        assert other.get_cleanup_metrics()["pools_created"] == 1
    finally:
        await other.close()
        await memory.close()


async def test_an_instance_inside_its_own_transaction_cannot_join(app_and_test) -> None:
    app, test = app_and_test
    async with app.transaction():
        with pytest.raises(TransactionError, match="cannot join another instance's isolation"):
            async with test.isolated(join_instances=True):
                pass
    async with test.isolated(join_instances=True):  # and nothing was left half-joined
        with pytest.raises(TransactionError, match="DF-601"):
            async with app.isolated():
                pass
