"""Create, read, update and delete a record; every test gets a fresh, empty database."""

import pytest

from dataflow import AsyncLocalRuntime, RecordNotFoundError, WorkflowBuilder


async def run(workflow: WorkflowBuilder) -> dict:
    results, _run_id = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def test_create_returns_the_stored_record(dataflow_db):
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ada", "email": "ada@example.com"})

    results = await run(workflow)

    user = results["create"]
    assert isinstance(user["id"], int)
    assert user["name"] == "Ada"
    assert user["active"] is True  # the model's default was applied


async def test_read_and_update(dataflow_db):
    create = WorkflowBuilder()
    create.add_node("UserCreateNode", "create", {"name": "Grace", "email": "grace@example.com"})
    user_id = (await run(create))["create"]["id"]

    update = WorkflowBuilder()
    update.add_node("UserUpdateNode", "update", {"id": user_id, "fields": {"name": "Grace Hopper"}})
    update.add_node("UserReadNode", "read")
    update.add_connection("update", "id", "read", "id")  # the read runs after the update
    results = await run(update)

    assert results["update"]["name"] == "Grace Hopper"
    assert results["read"] == results["update"]


async def test_delete_then_read_raises_df_301(dataflow_db):
    create = WorkflowBuilder()
    create.add_node("UserCreateNode", "create", {"name": "Linus", "email": "linus@example.com"})
    user_id = (await run(create))["create"]["id"]

    delete = WorkflowBuilder()
    delete.add_node("UserDeleteNode", "delete", {"id": user_id})
    assert (await run(delete))["delete"]["id"] == user_id

    read = WorkflowBuilder()
    read.add_node("UserReadNode", "read", {"id": user_id})
    with pytest.raises(RecordNotFoundError, match="DF-301"):
        await run(read)


async def test_every_test_starts_with_empty_tables(dataflow_db):
    workflow = WorkflowBuilder()
    workflow.add_node("UserCountNode", "count", {})

    results = await run(workflow)

    assert results["count"] == {"count": 0}
