"""SQL blocks: executed on each backend, in a fresh, empty database."""

from __future__ import annotations

import asyncio
import re
import sqlite3

from ..grammar import Classified


def run_sql(c: Classified, backend: str, database_url: str) -> list[str]:
    block = c.block
    try:
        if backend == "sqlite":
            path = re.sub(r"^sqlite:///", "", database_url)
            with sqlite3.connect(path) as conn:
                conn.executescript(block.content)
        else:
            asyncio.run(_run_pg(database_url, block.content))
    except Exception as exc:  # noqa: BLE001 - the driver's error is the report
        return [f"{block.label}: {type(exc).__name__}: {exc}"]
    return []


async def _run_pg(url: str, sql: str) -> None:
    import asyncpg

    url = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()

