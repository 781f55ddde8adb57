"""Change data capture's read cost: ``feed.read(n)`` of ``n`` committed inserts, as typed
``ChangeEvent``s, against the raw driver reading the same changes from the same source: on
PostgreSQL ``pg_logical_slot_peek_changes`` of a second ``test_decoding`` slot created at the same
moment (its text lines, not parsed), on SQLite a ``SELECT`` of the change table the feed's triggers
fill, each row's JSON loaded. Reads peek, so every
repetition reads the same changes. Not run on in-memory SQLite (each connection has its own database).
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .workloads import Suite

#: Parsing the changes into typed events costs Python per event; it must stay within this of the raw read.
CDC_READ = 3.0

_FEED = "bench_cdc"
_RAW_SLOT = "bench_cdc_raw"


def cdc_read(suite: Suite) -> None:
    """The ``cdc_read`` row: ``n`` insert events through a change feed, against the raw read."""
    if suite.t.backend == "sqlite-memory":
        return
    from dataflow import WorkflowBuilder

    from ._backends import DF_TABLE

    n = suite.sizes.creates
    db, rt = suite.db, suite.rt
    feed = db.change_feed(DF_TABLE, name=_FEED)
    raw: Any = None

    async def setup() -> Any:
        with contextlib.suppress(Exception):  # left over by an interrupted run
            await feed.drop()
        await feed.create()
        reader = await _raw_reader(suite)
        records = [{"name": f"cdc {i}", "email": f"cdc{i}@example.com", "age": i % 80} for i in range(n)]
        wf = WorkflowBuilder()
        wf.add_node("BenchUserBulkCreateNode", "b", {"records": records})
        await rt.execute_workflow_async(wf.build())
        return reader

    async def df_read() -> None:
        events = await feed.read(n)
        assert len(events) == n and events[-1].new is not None

    async def raw_read() -> None:
        rows = await raw.fetch()
        assert len(rows) >= n

    raw = suite.run(setup())
    try:
        suite.pair("cdc_read", f"change feed: read {n:,} insert events", n, suite.timed_async(df_read),
                   suite.timed_async(raw_read), raw.label, f"<= {CDC_READ}x raw", CDC_READ)
    finally:
        suite.run(_finish(feed, raw))


class _RawPostgres:
    """A second ``test_decoding`` slot, peeked with asyncpg (the text lines, not parsed)."""

    label = "pg_logical_slot_peek_changes(test_decoding)"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self) -> list[Any]:
        rows = await self.connection.fetch(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, NULL, 'include-xids', '0')", _RAW_SLOT
        )
        return [r for r in rows if r["data"].startswith("table ")]

    async def close(self) -> None:
        await self.connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", _RAW_SLOT
        )
        await self.connection.close()


class _RawSQLite:
    """The change table the feed's triggers write, read with aiosqlite (JSON text, not parsed)."""

    label = "SELECT ... FROM dataflow_changes ORDER BY id, json.loads(new_row)"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self) -> list[Any]:
        from ._backends import DF_TABLE

        rows = await self.connection.execute_fetchall(
            'SELECT "id", "operation", "new_row", "old_row" FROM "dataflow_changes" '
            'WHERE "table_name" = ? ORDER BY "id"',
            (DF_TABLE,),
        )
        return [(row[0], row[1], json.loads(row[2]) if row[2] else None) for row in rows]  # the rows as dicts

    async def close(self) -> None:
        await self.connection.close()


async def _raw_reader(suite: Suite) -> _RawPostgres | _RawSQLite:
    if suite.t.backend == "postgresql":
        import asyncpg

        connection = await asyncpg.connect(suite.t.raw_location)
        await connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", _RAW_SLOT
        )
        await connection.execute("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", _RAW_SLOT)
        return _RawPostgres(connection)
    import aiosqlite

    path = suite.t.df_url.removeprefix("sqlite:///")  # the feed's table lives in DataFlow's file
    return _RawSQLite(await aiosqlite.connect(path))


async def _finish(feed: Any, raw: Any) -> None:
    try:
        await feed.drop()
    finally:
        if raw is not None:
            await raw.close()
