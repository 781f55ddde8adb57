"""Change data capture on SQLite and PostgreSQL: feeds, the node, resuming, and a consumer restarted halfway.

Every test runs on both backends against real databases (PostgreSQL through a logical replication
slot on the throwaway server, which runs with ``wal_level=logical``; SQLite through triggers).
"""

from __future__ import annotations

import asyncio
import pickle
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from _subprocess import child_env

import dataflow
from dataflow import AsyncLocalRuntime, ChangeEvent, ChangeFeed, ChangePosition, DataFlow, WorkflowBuilder

sys.path.insert(0, str(Path(__file__).parent))
from _cdc_consumer import declare  # noqa: E402

CONSUMER = Path(__file__).with_name("_cdc_consumer.py")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[DataFlow]:
    instance = DataFlow(database_url)
    declare(instance)
    await instance.create_tables()
    try:
        yield instance
    finally:
        await drop_feeds(instance)
        await instance.close()


async def drop_feeds(db: DataFlow) -> None:
    """Drop every feed the test made: a PostgreSQL slot outlives its database's tables otherwise."""
    for status in await dataflow.change_feed_status(db):
        if not status.abandoned:
            await db.change_feed("customers", name=status.name).drop()


async def run(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    workflow = db.workflow()
    for node in nodes:
        workflow.add_node(*node)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


async def create(db: DataFlow, name: str, tier: int = 0) -> int:
    results = await run(db, ("CustomerCreateNode", "c", {"name": name, "tier": tier}))
    return int(results["c"]["id"])


def summary(events: list[ChangeEvent]) -> list[tuple[Any, ...]]:
    return [
        (
            e.operation,
            e.primary_key["id"],
            None if e.new is None else e.new["name"],
            None if e.old is None else e.old["name"],
        )
        for e in events
    ]


async def test_a_feed_delivers_committed_changes_in_commit_order_with_new_and_old_rows(db: DataFlow) -> None:
    feed = db.change_feed("customers", name="billing")
    assert isinstance(feed, ChangeFeed) and not await feed.exists()
    await feed.create()
    assert await feed.exists()
    ada = await create(db, "Ada")
    async with db.transaction():
        bob = await create(db, "Bob", tier=2)
        await run(
            db, ("CustomerUpdateNode", "u", {"filter": {"id": ada}, "fields": {"name": "Ada L.", "tier": 1}})
        )
        await run(db, ("CustomerDeleteNode", "d", {"id": bob}))
    events = await feed.read()
    assert summary(events) == [
        ("INSERT", ada, "Ada", None),
        ("INSERT", bob, "Bob", None),
        ("UPDATE", ada, "Ada L.", "Ada"),
        ("DELETE", bob, None, "Bob"),
    ]
    assert events[2].new == {"id": ada, "name": "Ada L.", "tier": 1}
    assert events[2].old == {"id": ada, "name": "Ada", "tier": 0}
    assert events[3].old == {"id": bob, "name": "Bob", "tier": 2}
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert len({e.position for e in events}) == 4
    assert all(e.table == "customers" for e in events)
    assert await feed.read() == events, "reading does not move the position"
    await feed.ack(events[1].position)
    assert summary(await feed.read()) == summary(events[2:])
    await feed.ack(events[-1])
    assert await feed.read() == []
    assert await feed.position() == events[-1].position
    await feed.ack(events[0].position)  # an older position changes nothing
    assert await feed.position() == events[-1].position
    assert ChangePosition.parse(str(events[-1].position)) == events[-1].position


async def test_a_rolled_back_transaction_delivers_nothing_and_an_ack_rolls_back_with_it(db: DataFlow) -> None:
    feed = db.change_feed("customers")
    await feed.create()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await create(db, "Ghost")
            raise RuntimeError("rolled back")
    kept = await create(db, "Kept")
    events = await feed.read()
    assert summary(events) == [("INSERT", kept, "Kept", None)]
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await feed.ack(events[0].position)
            raise RuntimeError("the consumer's work failed")
    assert await feed.read() == events, "the acknowledgement was rolled back with the transaction"


async def test_a_partly_acknowledged_transaction_resumes_inside_it_without_repeats(db: DataFlow) -> None:
    feed = db.change_feed("customers", name="partial")
    await feed.create()
    async with db.transaction():
        ids = [await create(db, f"c{n}") for n in range(5)]
    after = await create(db, "after")
    seen: list[ChangeEvent] = []
    while batch := await feed.read(2):
        seen += batch
        await feed.ack(batch[-1].position)
    assert [e.primary_key["id"] for e in seen] == [*ids, after]
    assert len({e.position for e in seen}) == 6


async def test_capture_operations_filter_and_count_the_rest_as_read(db: DataFlow) -> None:
    inserts = db.change_feed("customers", name="inserts", operations=["insert"])
    await inserts.create()
    ada = await create(db, "Ada")
    await run(db, ("CustomerUpdateNode", "u", {"filter": {"id": ada}, "fields": {"name": "Ada L."}}))
    await run(db, ("CustomerDeleteNode", "d", {"id": ada}))
    grace = await create(db, "Grace")
    events = await inserts.read()
    assert summary(events) == [("INSERT", ada, "Ada", None), ("INSERT", grace, "Grace", None)]
    await inserts.ack(events[-1])
    assert await inserts.read() == []


async def test_the_seed_node_with_an_unbound_builder_and_a_bound_one(db: DataFlow, database_url: str) -> None:
    other = DataFlow("sqlite:///:memory:")

    @other.model
    class Invoice:
        id: int
        total: float

    try:
        await db.change_feed("customers").create()
        ada = await create(db, "Ada")
        workflow = WorkflowBuilder()
        workflow.add_node(
            "ChangeDataCaptureNode",
            "cdc",
            {"source_table": "customers", "capture_operations": ["INSERT", "UPDATE", "DELETE"]},
        )
        built = workflow.build()
        results, _ = await AsyncLocalRuntime().execute_workflow_async(built)
        out = results["cdc"]
        assert out["count"] == 1
        assert out["events"][0]["operation"] == "INSERT" and out["events"][0]["new"]["name"] == "Ada"
        assert out["events"][0]["primary_key"] == {"id": ada}
        assert out["position"] == out["events"][0]["position"]
        results, _ = await AsyncLocalRuntime().execute_workflow_async(built)
        assert results["cdc"]["count"] == 0, "the node acknowledged what it returned"
        node_type = built.nodes[0].node_type
        assert pickle.loads(pickle.dumps(node_type)) is node_type is dataflow.nodes.ChangeDataCaptureNode

        twin = DataFlow(database_url)
        declare(twin)
        try:
            with pytest.raises(dataflow.UnknownSourceTableError, match="2 live DataFlow instances"):
                WorkflowBuilder().add_node(
                    "ChangeDataCaptureNode", "cdc", {"source_table": "customers"}
                ).build()
            bound = twin.workflow().add_node(
                "ChangeDataCaptureNode", "cdc", {"source_table": "Customer", "acknowledge": False, "limit": 5}
            )
            bound_type = bound.build().nodes[0].node_type
            assert bound_type is twin.node_type("ChangeDataCaptureNode") and bound_type is not node_type
            assert pickle.loads(pickle.dumps(bound_type)) is node_type
            await create(db, "Grace")
            results, _ = await AsyncLocalRuntime().execute_workflow_async(bound.build())
            assert [e["new"]["name"] for e in results["cdc"]["events"]] == ["Grace"]
            results, _ = await AsyncLocalRuntime().execute_workflow_async(bound.build())
            assert results["cdc"]["count"] == 1, "acknowledge=False leaves the position"
        finally:
            await twin.close()
    finally:
        await other.close()


async def test_stream_acknowledges_each_event_after_the_loop_body(db: DataFlow) -> None:
    feed = db.change_feed("customers", name="streamed")
    await feed.create()
    ids = [await create(db, f"s{n}") for n in range(3)]
    seen = []
    async for event in feed.stream(batch_size=2, poll_interval=0.01, idle_timeout=0.2):
        seen.append(event.primary_key["id"])
        if len(seen) == 2:
            break  # the second event was not acknowledged: its body did not finish
    assert seen == ids[:2]
    rest = [e.primary_key["id"] async for e in feed.stream(poll_interval=0.01, idle_timeout=0.2)]
    assert rest == ids[1:]


async def test_queue_handoff(db: DataFlow) -> None:
    feed = db.change_feed("customers", name="queued")
    await feed.create()
    queue: asyncio.Queue[ChangeEvent] = asyncio.Queue(maxsize=10)

    async def pump() -> None:
        async for event in feed.stream(poll_interval=0.01, idle_timeout=0.3):
            await queue.put(event)

    ada = await create(db, "Ada")
    await pump()
    assert summary([queue.get_nowait()]) == [("INSERT", ada, "Ada", None)]


async def test_a_column_change_needs_refresh_on_sqlite_and_nothing_on_postgresql(
    db: DataFlow, backend: str
) -> None:
    feed = db.change_feed("customers")
    await feed.create()
    async with db.connection() as connection:
        await connection.execute('ALTER TABLE "customers" ADD COLUMN "note" TEXT')
    ada = await create(db, "Ada")
    if backend == "sqlite":
        with pytest.raises(dataflow.ChangeCaptureOutdatedError, match="lists other columns"):
            await feed.read()
        await feed.refresh()
        grace = await create(db, "Grace")
        # the change made before refresh() was recorded by the old triggers: it is not lost
        assert summary(await feed.read()) == [("INSERT", ada, "Ada", None), ("INSERT", grace, "Grace", None)]
    else:
        assert summary(await feed.read()) == [("INSERT", ada, "Ada", None)]
    await feed.refresh()


async def test_feed_status_reports_retained_bytes_and_abandoned_slots(db: DataFlow, backend: str) -> None:
    feed = db.change_feed("customers", name="lagging")
    await feed.create()
    for n in range(20):
        await create(db, f"r{n}")
    await feed.read(1)  # a PostgreSQL read flushes the WAL first
    [status] = await dataflow.change_feed_status(db)
    assert status.name == "lagging" and status.source_table == "customers" and not status.abandoned
    assert status.retained_bytes > 0 and status.retained_bytes == await feed.retained_bytes()
    for n in range(20):
        await create(db, f"more{n}")
    await feed.read(1)
    assert await feed.retained_bytes() > status.retained_bytes, "unread changes keep more and more"
    events = await feed.read(100)
    await feed.ack(events[-1])
    await feed.read(1)
    if backend == "sqlite":  # acknowledged rows are deleted from dataflow_changes at once
        assert await feed.retained_bytes() == 0
    # (PostgreSQL frees the WAL when the slot's restart point next moves, at a running-transactions record)
    if backend == "postgresql":
        async with db.connection() as connection:
            await connection.execute("DELETE FROM dataflow_change_feeds WHERE name = 'lagging'")
        [orphan] = await dataflow.change_feed_status(db)
        assert (
            orphan.abandoned and orphan.name.startswith("dataflow_lagging_") and orphan.source_table is None
        )
        await feed.drop()  # drops the slot left without its feed
        assert await dataflow.change_feed_status(db) == []


# --- 1,000 changes, the consumer killed halfway ----------------------------------------------------


async def produce(
    db: DataFlow, rng: random.Random, count: int, live: dict[int, str], halfway: asyncio.Event | None = None
) -> list[tuple[str, int, str]]:
    """``count`` inserts, updates and deletes in transactions of 1 to 7; the changes in commit order.

    With ``halfway``, the second half waits for it: whatever the scheduling, some changes are
    still to be written when the test sets it.
    """
    expected: list[tuple[str, int, str]] = []
    while len(expected) < count:
        if halfway is not None and len(expected) >= count // 2:
            await halfway.wait()
        async with db.transaction():
            for _ in range(min(rng.randint(1, 7), count - len(expected))):
                op = rng.choice(["INSERT", "INSERT", "UPDATE", "DELETE"]) if live else "INSERT"
                if op == "INSERT":
                    name = f"n{len(expected)}"
                    key = await create(db, name)
                elif op == "UPDATE":
                    key = rng.choice(sorted(live))
                    name = f"{live[key]}+"
                    await run(
                        db, ("CustomerUpdateNode", "u", {"filter": {"id": key}, "fields": {"name": name}})
                    )
                else:
                    key = rng.choice(sorted(live))
                    name = live.pop(key)
                    await run(db, ("CustomerDeleteNode", "d", {"id": key}))
                if op != "DELETE":
                    live[key] = name
                expected.append((op, key, name))
    return expected


def start_consumer(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CONSUMER), url, "restart", "13"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def delivered(db: DataFlow) -> list[dict[str, Any]]:
    results = await run(db, ("DeliveryListNode", "l", {"order_by": ["id"], "limit": 10_000}))
    return list(results["l"]["records"])


async def wait_for(db: DataFlow, count: int, consumer: subprocess.Popen[str], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while (n := (await run(db, ("DeliveryCountNode", "n", {})))["n"]["count"]) < count:
        if consumer.poll() is not None:
            raise AssertionError(f"the consumer exited: {consumer.stdout.read() if consumer.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} of {count} changes delivered after {timeout} s")
        await asyncio.sleep(0.05)
    return int(n)


async def test_1000_changes_exactly_once_in_commit_order_across_a_killed_consumer(
    db: DataFlow, database_url: str
) -> None:
    """The consumer process is SIGKILLed while changes are still being written, then started again."""
    await db.change_feed("customers", name="restart").create()
    watcher = DataFlow(database_url)
    declare(watcher)
    rng = random.Random(17)
    live: dict[int, str] = {}
    consumer = start_consumer(database_url)
    try:
        killed = asyncio.Event()
        producing = asyncio.create_task(produce(db, rng, 1000, live, halfway=killed))
        killed_at = await wait_for(watcher, 150, consumer)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=30)
        killed.set()
        expected = await producing
        assert killed_at < len(expected), "the consumer was killed before it had delivered everything"
        consumer = start_consumer(database_url)
        assert await wait_for(watcher, len(expected), consumer) == len(expected)
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        rows = await delivered(watcher)
    finally:
        if consumer.poll() is None:
            consumer.send_signal(signal.SIGKILL)
            consumer.wait(timeout=30)
        if consumer.stdout is not None:
            consumer.stdout.close()
        await watcher.close()
    assert len(expected) == 1000
    assert [(r["operation"], r["customer_id"], r["name"]) for r in rows] == expected
    positions = [(r["commit_position"], r["change_index"]) for r in rows]
    assert positions == sorted(positions) and len(set(positions)) == 1000
    assert {op for op, _, _ in expected} == {"INSERT", "UPDATE", "DELETE"}


async def test_doctor_reports_abandoned_slots_and_lagging_feeds(
    db: DataFlow, database_url: str, backend: str
) -> None:
    from dataflow.cli._doctor_cdc import check_change_feeds
    from dataflow.cli.doctor import diagnose

    feed = db.change_feed("customers", name="forgotten")
    await feed.create()
    await create(db, "Ada")
    await feed.read(1)
    assert check_change_feeds(database_url) == []
    [lagging] = check_change_feeds(database_url, max_retained_bytes=0)
    assert (
        lagging.check == "change-feeds"
        and "change feed 'forgotten' of table 'customers' retains" in lagging.message
    )
    assert "db.change_feed('customers', name='forgotten').drop()" in lagging.fix
    assert lagging.url.endswith("/guide/change-data-capture/#abandoned-feeds")
    if backend == "postgresql":
        async with db.connection() as connection:
            await connection.execute("DELETE FROM dataflow_change_feeds WHERE name = 'forgotten'")
        result = await asyncio.to_thread(
            diagnose, Path(__file__).parent / "_cdc_consumer.py", database_url=database_url
        )
        [abandoned] = [f for f in result.findings if f.check == "change-feeds"]
        assert "belongs to no change feed any more" in abandoned.message
        assert "SELECT pg_drop_replication_slot('dataflow_forgotten_" in abandoned.fix
        await feed.drop()
        assert check_change_feeds(database_url, max_retained_bytes=0) == []
