"""Two related models: users and their orders, created and queried together."""

from dataflow import AsyncLocalRuntime, WorkflowBuilder


async def run(workflow: WorkflowBuilder) -> dict:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def test_order_gets_the_new_users_id(dataflow_db):
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "user", {"name": "Ada", "email": "ada@example.com"})
    workflow.add_node("OrderCreateNode", "order", {"total": 25.5})
    workflow.add_connection("user", "id", "order", "user_id")

    results = await run(workflow)

    assert results["order"]["user_id"] == results["user"]["id"]
    assert results["order"]["status"] == "pending"


async def test_list_and_count_orders_of_one_user(dataflow_db):
    users = WorkflowBuilder()
    users.add_node("UserCreateNode", "ada", {"name": "Ada", "email": "ada@example.com"})
    users.add_node("UserCreateNode", "grace", {"name": "Grace", "email": "grace@example.com"})
    created = await run(users)
    ada_id, grace_id = created["ada"]["id"], created["grace"]["id"]

    orders = WorkflowBuilder()
    orders.add_node(
        "OrderBulkCreateNode",
        "orders",
        {
            "records": [
                {"user_id": ada_id, "total": 10.0},
                {"user_id": ada_id, "total": 32.0, "status": "shipped"},
                {"user_id": grace_id, "total": 7.5},
            ]
        },
    )
    assert (await run(orders))["orders"] == {"created": 3}

    query = WorkflowBuilder()
    query.add_node("OrderListNode", "ada_orders", {"filter": {"user_id": ada_id}, "order_by": "total"})
    query.add_node("OrderCountNode", "pending", {"filter": {"status": "pending"}})
    query.add_node("UserCountNode", "users", {})
    results = await run(query)

    assert [o["total"] for o in results["ada_orders"]["records"]] == [10.0, 32.0]
    assert results["ada_orders"]["count"] == 2
    assert results["pending"] == {"count": 2}
    assert results["users"] == {"count": 2}


async def test_tables_of_both_models_start_empty(dataflow_db):
    workflow = WorkflowBuilder()
    workflow.add_node("UserCountNode", "users", {})
    workflow.add_node("OrderCountNode", "orders", {})

    results = await run(workflow)

    assert results["users"] == {"count": 0}
    assert results["orders"] == {"count": 0}
