"""Helpers shared by the testing-support tests (imported as a top-level module)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from _subprocess import DEV_ONLY_PLUGINS, child_env

from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

PYTHON = sys.executable

def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without the outer pytest run's variables, plus ``extra``."""
    return child_env(**extra)


def run_script(code: str, *, timeout: float = 20, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (no pytest imported) and return the finished process."""
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else clean_env(),
        cwd=cwd,
    )


def pg_query(admin_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement through the admin URL (psycopg, synchronous, its own connection)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(sql, params or None).fetchall()


def pg_backends(admin_url: str, database: str) -> int:
    """Client connections currently open on ``database`` (pg_stat_activity)."""
    rows = pg_query(
        admin_url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
        database,
    )
    return int(rows[0][0])


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


INNER_INI = f"""
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
addopts = -p dataflow.testing -p no:cacheprovider {" ".join(DEV_ONLY_PLUGINS)}
"""


class Item:
    """The model most tests here use."""

    id: int
    name: str


def make_db(url: str, **kwargs: Any) -> DataFlow:
    """A DataFlow on ``url`` with ``Item`` registered."""
    db = DataFlow(url, **kwargs)
    db.model(Item)
    return db


async def run_nodes(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Run a workflow of ``(operation, node_id, params)`` nodes of ``db``'s Item model."""
    wf = WorkflowBuilder()
    for operation, node_id, params in nodes:
        wf.add_node(db.nodes[f"Item{operation}Node"], node_id, params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(wf.build())
    return results


async def touch(db: DataFlow) -> int:
    """Use ``db`` once (opens the running loop's pool); return the Item count."""
    return int((await run_nodes(db, ("Count", "count", {})))["count"]["count"])


async def insert(db: DataFlow, item_id: int, name: str = "x") -> dict[str, Any]:
    return (await run_nodes(db, ("Create", "create", {"id": item_id, "name": name})))["create"]
