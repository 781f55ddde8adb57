"""A whole workflow, Create -> Read -> Update -> List -> Count, run by both runtimes."""

from dataflow import AsyncLocalRuntime, LocalRuntime, Workflow, WorkflowBuilder


def user_lifecycle() -> Workflow:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": "Ada", "email": "ada@example.com"})
    workflow.add_node("UserReadNode", "read")
    workflow.add_node("UserUpdateNode", "update", {"fields": {"active": False}})
    workflow.add_node("UserListNode", "list", {"order_by": "name"})
    workflow.add_node("UserCountNode", "count")
    # Each connection passes an output field to the next node's parameter
    # and fixes the order in which the nodes run.
    workflow.add_connection("create", "id", "read", "id")
    workflow.add_connection("read", "id", "update", "id")
    workflow.add_connection("update", "active", "list", "filter.active")
    workflow.add_connection("update", "active", "count", "filter.active")
    return workflow.build()


def check(results: dict) -> None:
    user_id = results["create"]["id"]
    assert results["read"]["id"] == user_id
    assert results["read"]["active"] is True
    assert results["update"]["active"] is False
    assert [u["id"] for u in results["list"]["records"]] == [user_id]
    assert results["count"] == {"count": 1}


async def test_lifecycle_with_async_runtime(dataflow_db):
    # Inside async tests, use AsyncLocalRuntime: it runs on the test's own event loop.
    results, run_id = await AsyncLocalRuntime().execute_workflow_async(user_lifecycle())
    check(results)
    assert run_id


def test_lifecycle_with_local_runtime(dataflow_db):
    # A plain (sync) test uses LocalRuntime, which runs the workflow on its own
    # event loop and closes that loop's pools when the with-block ends.
    with LocalRuntime() as runtime:
        results, run_id = runtime.execute(user_lifecycle())
    check(results)
    assert run_id
