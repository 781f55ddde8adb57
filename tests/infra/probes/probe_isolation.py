"""Probe run by tests/infra/test_postgres_fixtures.py in a child pytest (``-n 2``).

Every test checks that its database is empty, writes to it, and appends one JSON record
(worker, backend, database URL, admin URL) to ``$DATAFLOW_PROBE_RECORD/<worker>.jsonl``. The parent
test reads the records to check per-test freshness, per-worker isolation and cleanup.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import asyncpg
import pytest


def _record(**fields: str) -> None:
    record_dir = Path(os.environ["DATAFLOW_PROBE_RECORD"])
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with (record_dir / f"{worker}.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"worker": worker, **fields}) + "\n")


@pytest.mark.parametrize("round_", range(6))
async def test_fresh_database(
    round_: int, backend: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        assert not path.exists(), f"{path} exists before the test wrote anything"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE probe (n INTEGER)")
            conn.execute("INSERT INTO probe VALUES (?)", (round_,))
        conn.close()
        _record(backend=backend, url=database_url, admin_url="")
        return
    admin_url = request.getfixturevalue("postgres_server").admin_url
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables == 0, f"{database_url} already has {tables} tables"
        await conn.execute("CREATE TABLE probe (n INTEGER)")
        await conn.execute("INSERT INTO probe VALUES ($1)", round_)
    finally:
        await conn.close()
    _record(backend=backend, url=database_url, admin_url=admin_url)


@pytest.mark.postgresql_only(reason="probe: checks that only the postgresql variant is generated")
def test_postgresql_only(backend: str) -> None:
    assert backend == "postgresql"


@pytest.mark.sqlite_only
def test_sqlite_only(backend: str) -> None:
    """Probe: the docstring is the reason, only the sqlite variant is generated."""
    assert backend == "sqlite"
