"""A PostgreSQL connection's session is reset on its way back to the pool only when code outside
DataFlow ran SQL on it (``db.connection()``): DataFlow's own statements change no session state,
and asyncpg's reset query is a round trip per release."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from _dfhelp import define_user, node

from dataflow import DataFlow

PG_ONLY = (
    "asyncpg's pool resets a connection's session (settings, LISTEN, advisory locks) when it is "
    "released; an aiosqlite connection has no such reset"
)
pytestmark = pytest.mark.postgresql_only(reason=PG_ONLY)


@pytest.fixture
async def one_connection_db(database_url: str) -> AsyncIterator[DataFlow]:
    """A DataFlow whose pool holds one connection: every lease gets the same session."""
    instance = DataFlow(database_url, pool_min_size=1, pool_max_size=1)
    try:
        yield instance
    finally:
        await instance.close()


@pytest.fixture
def reset_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every reset query the pools ask asyncpg for (the query is sent right after)."""
    asked: list[str] = []
    original = asyncpg.Connection.get_reset_query

    def spy(self: asyncpg.Connection) -> str:
        query = original(self)
        asked.append(query)
        return query

    monkeypatch.setattr(asyncpg.Connection, "get_reset_query", spy)
    return asked


async def application_name(db: DataFlow) -> str:
    async with db.connection() as connection:
        rows = await connection.fetch("SELECT current_setting('application_name')")
    return str(rows[0][0])


async def test_a_setting_made_through_db_connection_does_not_reach_the_next_lease(
    one_connection_db: DataFlow,
) -> None:
    db = one_connection_db
    async with db.connection() as connection:
        await connection.execute("SET application_name = 'left behind'")
        assert (await connection.fetch("SHOW application_name"))[0][0] == "left behind"
    assert await application_name(db) != "left behind"


async def test_an_advisory_lock_taken_through_db_connection_is_released_with_it(
    one_connection_db: DataFlow, database_url: str
) -> None:
    async with one_connection_db.connection() as connection:
        await connection.execute("SELECT pg_advisory_lock(4242)")
    other = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock(4242)") is True
    finally:
        await other.close()


async def test_dataflow_operations_release_without_a_reset_round_trip(
    one_connection_db: DataFlow, reset_queries: list[str]
) -> None:
    define_user(one_connection_db)
    await node("UserCreateNode", {"name": "Ada", "email": "ada@example.com"})
    for _ in range(3):
        await node("UserListNode", {})
    async with one_connection_db.transaction():
        await node("UserCountNode", {})
    assert reset_queries == []
    async with one_connection_db.connection() as connection:
        await connection.fetch("SELECT 1")
    assert len(reset_queries) == 1 and "RESET ALL" in reset_queries[0]


async def test_a_transaction_left_open_is_still_rolled_back_on_release(one_connection_db: DataFlow) -> None:
    db = one_connection_db
    async with db.connection() as connection:
        await connection.execute("BEGIN")
        await connection.execute("SET LOCAL application_name = 'in a transaction'")
    # SET LOCAL lasts as long as the transaction: still open, the setting would still show.
    assert await application_name(db) != "in a transaction"
