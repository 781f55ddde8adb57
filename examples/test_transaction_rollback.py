"""Roll back everything a test writes, including code that commits its own transactions."""

import pytest

from dataflow import AsyncLocalRuntime, UniqueViolationError, WorkflowBuilder


async def create_user(name: str, email: str) -> dict:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCreateNode", "create", {"name": name, "email": email})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["create"]


async def count_users() -> int:
    workflow = WorkflowBuilder()
    workflow.add_node("UserCountNode", "count", {})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["count"]["count"]


# The next two tests insert the same unique email. Both pass in any order,
# because dataflow_isolated rolls back each test's rows at teardown.
async def test_first_writer(dataflow_isolated):
    await create_user("Ada", "shared@example.com")
    assert await count_users() == 1


async def test_second_writer(dataflow_isolated):
    await create_user("Grace", "shared@example.com")
    assert await count_users() == 1


async def test_code_that_commits_is_rolled_back_too(dataflow_isolated):
    db = dataflow_isolated
    # Code under test that opens and commits its own transaction: inside
    # dataflow_isolated this block is a SAVEPOINT, so nothing outlives the test.
    async with db.transaction():
        await create_user("Ada", "ada@example.com")
        await create_user("Grace", "grace@example.com")
    assert await count_users() == 2


async def test_failed_block_rolls_back_to_its_savepoint(dataflow_isolated):
    db = dataflow_isolated
    await create_user("Ada", "ada@example.com")

    with pytest.raises(UniqueViolationError, match="DF-302"):
        async with db.transaction():
            await create_user("Grace", "grace@example.com")
            await create_user("Ada again", "ada@example.com")  # duplicate email

    # "Grace" was undone with the failed block; "Ada" from before it is still there.
    assert await count_users() == 1


async def test_exception_rolls_back_a_real_transaction(dataflow_db):
    # Without the isolation fixture, db.transaction() is a real BEGIN/COMMIT.
    with pytest.raises(RuntimeError, match="abort"):
        async with dataflow_db.transaction():
            await create_user("Ada", "ada@example.com")
            raise RuntimeError("abort the transaction")
    assert await count_users() == 0

    async with dataflow_db.transaction():
        await create_user("Ada", "ada@example.com")
    assert await count_users() == 1
