"""Read replicas against a real streaming replica (``pg_basebackup -R``) of the test server.

Which server served a read is proven, not assumed: with WAL replay paused on the replica, a row
written on the primary by another connection is visible only on the primary.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from _postgres import ReplicaServer
from _replicahelp import Servers

from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    ReplicaConfigurationError,
    ReplicasUnavailableWarning,
)

REPLICA = pytest.mark.postgresql_only(reason="streaming replication is a PostgreSQL server feature")


@pytest.fixture
def servers(postgres_url: str, replica_running: ReplicaServer) -> Iterator[Servers]:
    replica_running.wait_for_replay()  # the new database exists on the replica
    found = Servers(postgres_url, replica_running)
    yield found
    if replica_running.running:
        found.resume_replay()


@pytest_asyncio.fixture
async def db(servers: Servers) -> AsyncIterator[DataFlow]:
    db = DataFlow(servers.primary_url, read_replicas=[servers.replica_url], replica_retry_interval=0.2)

    @db.model
    class Note:
        id: int
        text: str

    await db.create_tables()
    servers.primary_sql("INSERT INTO notes (text) VALUES ('seed')")
    servers.replica.wait_for_replay()
    try:
        yield db
    finally:
        await db.close()


async def texts(db: DataFlow) -> list[str]:
    workflow = db.workflow().add_node("NoteListNode", "list", {"order_by": ["id"]})
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return [record["text"] for record in results["list"]["records"]]


async def write(db: DataFlow, text: str) -> None:
    workflow = db.workflow().add_node("NoteCreateNode", "create", {"text": text})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())


def reads(db: DataFlow) -> tuple[int, int]:
    metrics = db.get_replica_metrics()
    return metrics["primary_reads"], metrics["replicas"][0]["reads"]


@REPLICA
async def test_reads_go_to_the_replica_and_writes_to_the_primary(db: DataFlow, servers: Servers) -> None:
    assert await texts(db) == ["seed"]
    assert reads(db) == (0, 1)
    servers.pause_replay()
    servers.primary_sql("INSERT INTO notes (text) VALUES ('not replayed')")  # another client's write
    assert await texts(db) == ["seed"]  # served by the paused replica: proof of where it ran
    servers.resume_replay()
    servers.replica.wait_for_replay()
    assert await texts(db) == ["seed", "not replayed"]
    assert reads(db) == (0, 3)


@REPLICA
async def test_a_read_after_a_write_sees_the_write(db: DataFlow, servers: Servers) -> None:
    servers.pause_replay()
    await write(db, "mine")
    assert await texts(db) == ["seed", "mine"]  # the replica has not replayed it: the primary answers
    assert reads(db) == (1, 0)
    servers.resume_replay()
    servers.replica.wait_for_replay()
    assert await texts(db) == ["seed", "mine"]
    assert reads(db) == (1, 1)  # replayed past the write: back on the replica


@REPLICA
@pytest.mark.parametrize(
    ("node", "params"),
    [
        ("NoteBulkCreateNode", {"records": [{"text": "mine"}]}),
        ("NoteUpdateNode", {"filter": {"text": "seed"}, "fields": {"text": "mine"}}),
        ("NoteBulkUpsertNode", {"records": [{"id": 1, "text": "mine"}]}),
    ],
)
async def test_writes_in_their_own_transaction_are_read_back(
    db: DataFlow, servers: Servers, node: str, params: dict[str, Any]
) -> None:
    servers.pause_replay()
    workflow = db.workflow().add_node(node, "write", params)
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    assert "mine" in await texts(db)
    assert reads(db) == (1, 0)


@REPLICA
async def test_reads_inside_a_transaction_stay_on_the_primary(db: DataFlow) -> None:
    async with db.transaction():
        await write(db, "in tx")
        assert await texts(db) == ["seed", "in tx"]  # uncommitted: only the transaction's connection sees it
    assert reads(db) == (0, 0)  # neither routed to a replica nor counted as a routed primary read


@REPLICA
async def test_a_replica_lagging_beyond_the_bound_is_skipped(servers: Servers) -> None:
    db = DataFlow(servers.primary_url, read_replicas=[servers.replica_url], max_replica_lag=0.3)
    db.model(type("Note", (), {"__annotations__": {"id": int, "text": str}}))
    try:
        await db.create_tables()
        servers.replica.wait_for_replay()
        assert await texts(db) == []
        servers.pause_replay()
        servers.primary_sql("INSERT INTO notes (text) VALUES ('late')")
        time.sleep(1.2)  # the replica falls behind by more than max_replica_lag (and its lag is re-measured)
        assert await texts(db) == ["late"]
        assert reads(db) == (1, 1)
    finally:
        await db.close()


@REPLICA
async def test_stopping_the_replica_loses_no_read(db: DataFlow, servers: Servers) -> None:
    assert await texts(db) == ["seed"]
    servers.replica.stop()
    with pytest.warns(ReplicasUnavailableWarning, match="DF-520"):
        for _ in range(5):
            assert await texts(db) == ["seed"]
    metrics = db.get_replica_metrics()
    assert metrics["primary_reads"] == 5 and metrics["replicas"][0]["up"] is False
    assert metrics["replicas"][0]["failures"] >= 1
    assert metrics["replicas"][0]["last_error"].startswith("ConnectionLostError: DF-511")
    servers.replica.start()
    time.sleep(0.3)  # past replica_retry_interval
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReplicasUnavailableWarning)
        assert await texts(db) == ["seed"]
    assert db.get_replica_metrics()["replicas"][0]["reads"] == 2


@REPLICA
async def test_closing_the_instance_closes_the_replica_pools(servers: Servers) -> None:
    db = DataFlow(servers.primary_url, read_replicas=[servers.replica_url])
    db.model(type("Note", (), {"__annotations__": {"id": int, "text": str}}))
    await db.create_tables()
    servers.replica.wait_for_replay()
    await texts(db)
    with psycopg.connect(servers.replica_url, autocommit=True) as conn:
        before = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    await db.close()
    with psycopg.connect(servers.replica_url, autocommit=True) as conn:
        deadline = time.monotonic() + 5
        while True:
            after = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if after == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert before is not None and before[0] >= 1 and after == (0,)


def test_replicas_on_sqlite_are_df_810(tmp_path: Any) -> None:
    with pytest.raises(ReplicaConfigurationError, match="DF-810") as info:
        DataFlow(f"sqlite:///{tmp_path}/app.db", read_replicas=[f"sqlite:///{tmp_path}/copy.db"])
    assert "streaming replication" in str(info.value)


@pytest.mark.parametrize(
    ("replicas", "options", "says"),
    [
        ("postgresql://u:secret@replica:5432/app", {}, "must be a list of URLs"),
        (["sqlite:///copy.db"], {}, "is not a postgresql URL"),
        (["postgresql://u:secret@primary:5432/app"], {}, "is the primary itself"),
        (["postgresql://u:secret@replica:5432/app"], {"max_replica_lag": -1}, "max_replica_lag must be"),
        (["postgresql://u:secret@replica:5432/app"], {"replica_retry_interval": "5"}, "replica_retry_interval"),
    ],
)
def test_bad_replica_settings_are_df_810(replicas: Any, options: dict[str, Any], says: str) -> None:
    with pytest.raises(ReplicaConfigurationError, match="DF-810") as info:
        DataFlow("postgresql://u:secret@primary:5432/app", read_replicas=replicas, **options)
    assert says in str(info.value) and "secret" not in str(info.value)
