"""The commit probe of the escaped-writes check (``SessionProbe``): a commit anywhere on the database
is seen, a rolled-back isolation is not, and the table markers are read only after a commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ts_helpers import make_db, run_nodes

from dataflow import DataFlow
from dataflow._dialects import backend_for, parse_url
from dataflow.testing._escapes import EscapeWatch, SessionProbe


async def _create(db: DataFlow, item_id: int) -> None:
    await run_nodes(db, ("Create", "c", {"id": item_id, "name": f"item {item_id}"}))


async def _quiet_after(db: DataFlow, probe: SessionProbe, action: Callable[[], Awaitable[None]]) -> bool:
    """Whether the probe says "unchanged" after ``action``. On PostgreSQL transaction ids are shared
    by the whole server, so a commit of another test at the same time makes it answer "maybe": a
    few attempts, one of which runs alone."""
    for _ in range(20):
        async with db.connection() as connection:
            await probe.unchanged(connection)
        await action()
        async with db.connection() as connection:
            if await probe.unchanged(connection):
                return True
    return False


async def test_a_commit_is_seen_and_a_rollback_is_not(database_url: str) -> None:
    db = make_db(database_url, test_mode=True)
    other = make_db(database_url, test_mode=True)  # a second instance: its own connection
    probe = SessionProbe(database_url)

    async def rolled_back() -> None:
        async with db.isolated():
            await _create(db, 1)

    async def nothing() -> None:
        pass

    try:
        await db.create_tables()
        async with db.connection() as connection:
            assert not await probe.unchanged(connection)  # the first look knows nothing
        assert await _quiet_after(db, probe, nothing)
        assert await _quiet_after(db, probe, rolled_back)  # rolled back: nothing committed
        await _create(other, 2)
        async with db.connection() as connection:
            assert not await probe.unchanged(connection)  # the other instance committed
    finally:
        probe.close()
        await other.close()
        await db.close()


async def test_the_watch_reads_the_tables_only_after_a_commit(database_url: str) -> None:
    db = make_db(database_url, test_mode=True)
    probe = SessionProbe(database_url)
    try:
        await db.create_tables()
        first = EscapeWatch(db, database_url, probe)
        await first.start()
        assert probe.baseline == {"items": (0, 0)}
        await first.check("t1")
        second = EscapeWatch(db, database_url, probe)
        for _ in range(20):  # PostgreSQL: a commit of another test at the same time reads the tables
            probe.baseline = {"items": (7, 7)}  # a stale baseline is kept while nothing commits
            await second.start()
            if second.before == {"items": (7, 7)}:
                break
        assert second.before == {"items": (7, 7)}
        await _create(db, 1)  # committed between start and check: an escaped write
        lines = await second.escaped()
        assert lines and lines[0].startswith("table 'items':"), lines
        assert probe.baseline is not None and probe.baseline["items"][0] == 1
    finally:
        probe.close()
        await db.close()


async def test_row_marks_follow_tables_created_and_dropped_through_another_connection(database_url: str) -> None:
    """The marks are read again whenever the schema changed (SQLite keeps its table list per
    connection with the schema version it was read at)."""
    db = make_db(database_url, test_mode=True)
    other = make_db(database_url, test_mode=True)
    editor = backend_for(parse_url(database_url)).editor

    async def marks() -> dict[str, tuple[int, int]]:
        async with db.connection() as connection:
            return await editor.row_marks(connection)

    try:
        await db.create_tables()
        first = await marks()
        assert await marks() == first  # read twice, nothing changed in between
        async with other.connection() as connection:
            await connection.execute('CREATE TABLE "marks_extra" ("n" INTEGER)')
            await connection.execute('INSERT INTO "marks_extra" ("n") VALUES (1)')
            await connection.execute('INSERT INTO "marks_extra" ("n") VALUES (2)')
        second = await marks()
        assert set(second) == set(first) | {"marks_extra"}
        assert second["marks_extra"][0] == 2
        async with other.connection() as connection:
            await connection.execute('DROP TABLE "marks_extra"')
        assert await marks() == first
    finally:
        await other.close()
        await db.close()


async def test_the_probe_aside_answers_while_an_isolation_rolls_back(database_url: str) -> None:
    """``probe_aside`` (the session-loop mode) asks on a pool connection outside the isolation while
    its ROLLBACK runs: the isolation's own transaction is not a commit, another instance's is."""
    db = make_db(database_url, test_mode=True)
    other = make_db(database_url, test_mode=True)
    probe = SessionProbe(database_url)
    watch = EscapeWatch(db, database_url, probe)
    # Only a probe that runs a statement is worth a second connection (PostgreSQL's).
    assert watch.probes_aside is (parse_url(database_url).dialect == "postgresql")

    async def rolled_back_with_the_probe_in_flight() -> bool | None:
        isolation = db.isolated()
        await isolation.__aenter__()
        await _create(db, 1)
        probing = asyncio.create_task(watch.probe_aside())
        await isolation.__aexit__(None, None, None)
        return await probing

    try:
        await db.create_tables()
        assert await watch.probe_aside() is False  # the first look knows nothing
        for _ in range(20):  # PostgreSQL: another test's commit at the same time answers "maybe"
            if await rolled_back_with_the_probe_in_flight():
                break
        else:
            raise AssertionError("a rolled-back isolation was taken for a commit")
        await _create(other, 2)
        assert await rolled_back_with_the_probe_in_flight() is False  # the other instance committed
    finally:
        probe.close()
        await other.close()
        await db.close()
