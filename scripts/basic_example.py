"""DataFlow's basic example: a model, a workflow, reads, counts, filters, an upsert and a bulk create.

Run it against SQLite (the default) or PostgreSQL:

    python scripts/basic_example.py
    DATABASE_URL=postgresql://user:password@localhost:5432/app python scripts/basic_example.py

It drops the ``users`` table at the start and at the end, so it can be run repeatedly.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from dataflow import AsyncLocalRuntime, DataFlow, Field, WorkflowBuilder


def default_url() -> str:
    return f"sqlite:///{Path(tempfile.gettempdir()) / 'dataflow_basic_example.db'}"


async def main() -> None:
    db = DataFlow(os.environ.get("DATABASE_URL") or default_url())
    print(f"backend: {db.dialect}")

    @db.model
    class User:
        id: int
        name: str
        email: str = Field(unique=True)
        age: int | None = None
        active: bool = True

    runtime = AsyncLocalRuntime()
    try:
        await db.drop_tables()
        await db.create_tables()

        # Create a user, then read it back through a connection.
        workflow = WorkflowBuilder()
        workflow.add_node("UserCreateNode", "create", {"name": "Alice", "email": "alice@example.com", "age": 30})
        workflow.add_node("UserReadNode", "read", {})
        workflow.add_connection("create", "id", "read", "id")
        results, _ = await runtime.execute_workflow_async(workflow.build())
        print(f"created: {results['create']}")
        print(f"read: {results['read']}")

        # More users, a count, and a filtered list.
        workflow = WorkflowBuilder()
        workflow.add_node("UserCreateNode", "bob", {"name": "Bob", "email": "bob@example.com", "age": 25})
        workflow.add_node("UserCreateNode", "carol", {"name": "Carol", "email": "carol@example.com", "active": False})
        workflow.add_node("UserCountNode", "count", {})
        workflow.add_node(
            "UserListNode", "adults", {"filter": {"age": {"$gte": 18}, "active": True}, "order_by": "name"}
        )
        results, _ = await runtime.execute_workflow_async(workflow.build())
        print(f"count: {results['count']['count']}")
        print(f"active adults: {[u['name'] for u in results['adults']['records']]}")

        # Upsert by the unique email: the first call updates Alice, the second creates Dave.
        for email, name in (("alice@example.com", "Alice Smith"), ("dave@example.com", "Dave")):
            workflow = WorkflowBuilder()
            workflow.add_node(
                "UserUpsertNode",
                "upsert",
                {
                    "where": {"email": email},
                    "conflict_on": ["email"],
                    "update": {"name": name},
                    "create": {"name": name, "email": email},
                },
            )
            results, _ = await runtime.execute_workflow_async(workflow.build())
            out = results["upsert"]
            # (Ids are not printed: on PostgreSQL an upsert that updates still consumes a sequence value.)
            print(f"upsert {email}: {out['action']} (name={out['record']['name']})")

        # Bulk create 1000 rows in one transaction.
        rows = [{"name": f"user{i}", "email": f"user{i}@example.com", "age": 20 + i % 50} for i in range(1000)]
        workflow = WorkflowBuilder()
        workflow.add_node("UserBulkCreateNode", "bulk", {"records": rows})
        workflow.add_node("UserCountNode", "total", {})
        workflow.add_node("UserCountNode", "over_60", {"filter": {"age": {"$gt": 60}}})
        results, _ = await runtime.execute_workflow_async(workflow.build())
        print(f"bulk created: {results['bulk']['created']}")
        print(f"total users: {results['total']['count']}")
        print(f"users over 60: {results['over_60']['count']}")
    finally:
        await db.drop_tables()
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
