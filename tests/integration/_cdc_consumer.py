"""A change feed consumer run as a real process by ``test_cdc.py`` (killed and restarted there).

``python _cdc_consumer.py URL FEED BATCH``: reads the feed of ``customers`` in batches and, for each
batch, writes one ``deliveries`` row per event and acknowledges the batch in the same transaction,
so a kill at any point leaves either both or neither. Runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from dataflow import AsyncLocalRuntime, DataFlow


def declare(db: DataFlow) -> None:
    """The models of the restart test (the producer declares the same)."""

    @db.model
    class Customer:
        id: int
        name: str
        tier: int = 0

    @db.model
    class Delivery:
        id: int
        commit_position: int
        change_index: int
        operation: str
        customer_id: int
        name: str | None = None


async def main(url: str, feed_name: str, batch: int) -> None:
    db = DataFlow(url)
    declare(db)
    feed = db.change_feed("customers", name=feed_name)
    runtime = AsyncLocalRuntime()
    print("consumer started", flush=True)
    while True:
        events = await feed.read(batch)
        if not events:
            await asyncio.sleep(0.02)
            continue
        records = [
            {
                "commit_position": e.position.commit,
                "change_index": e.position.index,
                "operation": e.operation,
                "customer_id": e.primary_key["id"],
                "name": (e.new or e.old or {}).get("name"),
            }
            for e in events
        ]
        async with db.transaction():
            workflow = db.workflow()
            workflow.add_node("DeliveryBulkCreateNode", "deliver", {"records": records})
            await runtime.execute_workflow_async(workflow.build())
            await feed.ack(events[-1].position)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
