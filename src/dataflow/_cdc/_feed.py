"""ChangeFeed: one named consumer of a table's committed changes, resumable from its acknowledged position.

The feed's position lives in the database (``dataflow_change_feeds``), written by :meth:`ChangeFeed.ack`
on the connection DataFlow would use now: inside ``db.transaction()`` the acknowledgement commits or
rolls back with the consumer's own writes, which makes "handled once" exact. How changes are captured
and read back is the backend's :class:`~dataflow._dialects.ChangeCapture`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._errors import (
    ChangeCaptureOutdatedError,
    ChangeFeedExistsError,
    ChangeFeedNotFoundError,
    DatabaseError,
    UnknownSourceTableError,
)
from .._model import ModelSpec
from ._events import (
    OPERATIONS,
    ChangeEvent,
    ChangePosition,
    check_feed_name,
    check_limit,
    check_operations,
    read_event,
)

if TYPE_CHECKING:
    from .._dialects import Connection
    from .._executor import ExecutionContext
    from .._query import Statements

__all__ = ["FEEDS_TABLE", "ChangeFeed", "default_feed_name", "feed_positions", "find_model"]

#: One row per feed: its source table and acknowledged position.
FEEDS_TABLE = "dataflow_change_feeds"
_FEEDS_DDL = (
    f'CREATE TABLE IF NOT EXISTS "{FEEDS_TABLE}" ("name" VARCHAR(63) PRIMARY KEY, '
    '"source_table" TEXT NOT NULL, "commit_position" BIGINT NOT NULL, "change_index" BIGINT NOT NULL)'
)


def find_model(models: dict[str, ModelSpec], source: Any) -> ModelSpec | None:
    """The model that ``source`` (a model class, its name or its table name) names, or ``None``."""
    if isinstance(source, type):
        source = source.__name__
    for spec in models.values():
        if source in (spec.name, spec.table):
            return spec
    return None


def _tuple(position: ChangePosition) -> tuple[int, int]:
    return (position.commit, position.index)


def default_feed_name(table: str) -> str:
    """The feed name used when none is given: the table name as a feed name (``customers``)."""
    name = re.sub(r"[^a-z0-9_]", "_", table.lower())
    return (name if name[:1].isalpha() else f"t_{name}")[:40]


async def feed_positions(connection: Connection) -> dict[str, tuple[str, ChangePosition]] | None:
    """Every feed of the database: name -> (source table, acknowledged position); ``None`` without feeds."""
    if not await _feeds_table_exists(connection):
        return None
    rows = await connection.fetch(
        f'SELECT "name", "source_table", "commit_position", "change_index" FROM "{FEEDS_TABLE}" ORDER BY "name"'
    )
    return {str(r[0]): (str(r[1]), ChangePosition(int(r[2]), int(r[3]))) for r in rows}


async def _feeds_table_exists(connection: Connection) -> bool:
    return bool(await connection.backend.describe_columns(connection, FEEDS_TABLE))


class ChangeFeed:
    """The committed changes of one table, read in commit order by one named consumer.

    Get one with ``db.change_feed("customers", name="billing")``. Create it once (``await feed.create()``),
    then ``read()`` / ``ack()`` or ``async for event in feed.stream()``; ``drop()`` it when the consumer
    is retired, since on PostgreSQL its replication slot keeps write-ahead log until it is read.

    Args:
        context: The instance's execution context.
        model: The source table's model.
        ensure_table: Creates the model's table if it does not exist.
        name: The feed's name, unique in the database (default: the table name).
        operations: The operations delivered (default all three); changes of other operations count as
            delivered.
    """

    def __init__(
        self,
        context: ExecutionContext,
        model: ModelSpec,
        ensure_table: Callable[[], Awaitable[None]],
        *,
        name: str | None = None,
        operations: Iterable[str] | None = None,
    ) -> None:
        self.model = model
        self.name = check_feed_name(default_feed_name(model.table) if name is None else name)
        self.operations = check_operations(
            OPERATIONS if operations is None else operations, {"feed": self.name}
        )
        self._context = context
        self._ensure_table = ensure_table
        self._capture = context.backend.change_capture
        self._types = {f.name: f.kind for f in model.fields.values()}

    @classmethod
    def of(
        cls,
        context: ExecutionContext,
        models: dict[str, ModelSpec],
        statements: dict[str, Statements],
        source: Any,
        *,
        name: str | None = None,
        operations: Iterable[str] | None = None,
    ) -> ChangeFeed:
        """The feed of the model ``source`` names among ``models`` (DF-410 when none does)."""
        spec = find_model(models, source)
        if spec is None:
            known = ", ".join(sorted(s.table for s in models.values())) or "none"
            shown = source.__name__ if isinstance(source, type) else source
            raise UnknownSourceTableError(
                f"No model of this DataFlow instance is {shown!r:.60}; its tables: {known}. Pass a model class, "
                "name or table name declared with @db.model.",
                context={"table": str(shown)},
            )
        ddl = statements[spec.name].table_ddl
        return cls(
            context, spec, lambda: context.ensure_table(spec.name, ddl), name=name, operations=operations
        )

    @property
    def source_table(self) -> str:
        """The table whose changes this feed delivers."""
        return self.model.table

    def __repr__(self) -> str:
        return f"ChangeFeed({self.source_table!r}, name={self.name!r})"

    def _context_info(self, **extra: Any) -> dict[str, Any]:
        return {"feed": self.name, "table": self.source_table, **extra}

    async def _row(self, connection: Connection) -> tuple[str, ChangePosition] | None:
        if connection.tx_depth:  # a failing SELECT would abort the caller's transaction: look first
            if not await _feeds_table_exists(connection):
                return None
            return await self._select_row(connection)
        # Outside a transaction a failed statement changes nothing: read at once (every read() starts
        # here), and look for the table only when the read fails.
        try:
            return await self._select_row(connection)
        except DatabaseError:
            if await _feeds_table_exists(connection):
                raise
            return None

    async def _select_row(self, connection: Connection) -> tuple[str, ChangePosition] | None:
        params = connection.backend.params()
        rows = await connection.fetch(
            f'SELECT "source_table", "commit_position", "change_index" FROM "{FEEDS_TABLE}" '
            f'WHERE "name" = {params.add(self.name)}',
            params.values,
        )
        return (str(rows[0][0]), ChangePosition(int(rows[0][1]), int(rows[0][2]))) if rows else None

    async def _position(self, connection: Connection) -> ChangePosition:
        row = await self._row(connection)
        if row is None:
            raise ChangeFeedNotFoundError(
                f"Change feed {self.name!r} of table {self.source_table!r} does not exist; create it once with "
                f"await db.change_feed({self.source_table!r}, name={self.name!r}).create().",
                context=self._context_info(),
            )
        return row[1]

    # --- lifecycle ------------------------------------------------------------------------------

    async def exists(self) -> bool:
        """True once :meth:`create` made the feed (and until :meth:`drop`)."""
        async with self._context.connection() as connection:
            return await self._row(connection) is not None

    async def create(self) -> None:
        """Start capturing: changes committed from now on are delivered.

        Raises:
            ChangeFeedExistsError: DF-514, the feed (or its replication slot) exists.
            LogicalDecodingUnavailableError: DF-513, PostgreSQL without ``wal_level=logical``.
            TransactionError: DF-601, on PostgreSQL inside a transaction (slots are made outside one).
        """
        async with self._context.connection() as connection:
            await self._capture.check(connection)
        await self._ensure_table()
        async with self._context.connection() as connection:
            await connection.execute(_FEEDS_DDL)
            existing = await self._row(connection)
            if existing is not None:
                raise self._exists(f"for table {existing[0]!r}")
            await self._capture.install(connection, self.source_table)
            start = await self._capture.create_slot(connection, self.name)
            if start is None:
                raise self._exists("as a PostgreSQL replication slot without its feed row")
            params = connection.backend.params()
            values = ", ".join(params.add(v) for v in (self.name, self.source_table, start[0], start[1]))
            await connection.execute(
                f'INSERT INTO "{FEEDS_TABLE}" ("name", "source_table", "commit_position", "change_index") '
                f"VALUES ({values})",
                params.values,
            )

    def _exists(self, how: str) -> ChangeFeedExistsError:
        return ChangeFeedExistsError(
            f"Change feed {self.name!r} already exists {how}; use it as it is, or await feed.drop() first "
            "to start over from now.",
            context=self._context_info(),
        )

    async def drop(self) -> None:
        """Stop capturing for this feed and forget its position (and its replication slot).

        Raises:
            ChangeFeedNotFoundError: DF-515, there is no such feed.
        """
        async with self._context.connection() as connection:
            row = await self._row(connection)
            slot_dropped = await self._capture.drop_slot(connection, self.name)
            if row is None:
                if slot_dropped and await _feeds_table_exists(connection):
                    return  # a slot left without its row: dropping it is what was asked
                await self._position(connection)
            params = connection.backend.params()
            await connection.execute(
                f'DELETE FROM "{FEEDS_TABLE}" WHERE "name" = {params.add(self.name)}', params.values
            )
            remaining = await feed_positions(connection) or {}
            if not any(table == self.source_table for table, _ in remaining.values()):
                await self._capture.uninstall(connection, self.source_table)

    async def refresh(self) -> None:
        """Recreate the capture of the source table after its columns changed (SQLite's triggers).

        Raises:
            ChangeFeedNotFoundError: DF-515, there is no such feed.
        """
        async with self._context.transaction():
            async with self._context.connection() as connection:
                await self._position(connection)
                await self._capture.install(connection, self.source_table)

    # --- reading --------------------------------------------------------------------------------

    async def position(self) -> ChangePosition:
        """The last acknowledged position (where the next read starts)."""
        async with self._context.connection() as connection:
            return await self._position(connection)

    async def read(self, limit: int = 100) -> list[ChangeEvent]:
        """Up to ``limit`` committed changes after the acknowledged position, in commit order.

        Reading does not move the position: the same changes come back until :meth:`ack`.

        Raises:
            ChangeFeedNotFoundError: DF-515. ChangeCaptureOutdatedError: DF-516 (SQLite, after a
            column change: run :meth:`refresh`). InvalidCaptureParameterError: DF-411 (``limit``).
        """
        limit = check_limit(limit)
        async with self._context.connection() as connection:
            after = await self._position(connection)
            reason = await self._capture.outdated(connection, self.source_table)
            if reason is not None:
                raise ChangeCaptureOutdatedError(
                    f"Change feed {self.name!r} cannot read table {self.source_table!r}: {reason}. "
                    f"Run await db.change_feed({self.source_table!r}, name={self.name!r}).refresh().",
                    context=self._context_info(),
                )
            changes = await self._capture.fetch(
                connection,
                self.name,
                self.source_table,
                (after.commit, after.index),
                self.operations,
                self._types,
                limit,
            )
        key, table = self.model.primary_key.name, self.source_table
        return [
            read_event(
                c.operation, table, {key: (c.new if c.new is not None else c.old or {}).get(key)}, c.new, c.old,
                c.commit, c.index,
            )
            for c in changes
        ]

    async def ack(self, position: ChangePosition | ChangeEvent | str) -> None:
        """Acknowledge every change up to ``position``: they are not delivered again.

        Runs on the connection DataFlow would use now, so inside ``db.transaction()`` it commits with
        the consumer's writes. Acknowledging an older position than the current one changes nothing.
        """
        if isinstance(position, ChangeEvent):
            position = position.position
        elif isinstance(position, str):
            position = ChangePosition.parse(position)
        async with self._context.connection() as connection:
            while True:  # compare-and-set: a concurrent ack of a later position wins
                current = await self._position(connection)
                if position <= current:
                    return
                params = connection.backend.params()
                values = [
                    params.add(v) for v in (position.commit, position.index, self.name, *_tuple(current))
                ]
                changed = await connection.execute(
                    f'UPDATE "{FEEDS_TABLE}" SET "commit_position" = {values[0]}, "change_index" = {values[1]} '
                    f'WHERE "name" = {values[2]} AND "commit_position" = {values[3]} AND "change_index" = {values[4]}',
                    params.values,
                )
                if changed:
                    break
            params = connection.backend.params()
            rows = await connection.fetch(
                f'SELECT MIN("commit_position") FROM "{FEEDS_TABLE}" WHERE "source_table" = '
                f"{params.add(self.source_table)}",
                params.values,
            )
            if rows and rows[0][0] is not None:
                await self._capture.prune(connection, self.source_table, (int(rows[0][0]), 0))

    async def retained_bytes(self) -> int:
        """Bytes the database keeps for changes this feed has not acknowledged (PostgreSQL: WAL)."""
        async with self._context.connection() as connection:
            after = await self._position(connection)
            return await self._capture.retained_bytes(
                connection, self.name, self.source_table, (after.commit, after.index)
            )

    async def stream(
        self,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.5,
        ack: bool = True,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[ChangeEvent]:
        """``async for event in feed.stream():`` — changes as they commit, forever or until idle.

        Args:
            batch_size: Changes read at a time.
            poll_interval: Seconds to wait before reading again when there was nothing new.
            ack: Acknowledge each event when the loop asks for the next one, i.e. after its body
                handled it (a consumer stopped in the middle gets that event again).
            idle_timeout: Stop after this many seconds without a change (``None``: never).
        """
        check_limit(batch_size, "batch_size")
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while True:
            events = await self.read(batch_size)
            if not events:
                if idle_timeout is not None and loop.time() - idle_since >= idle_timeout:
                    return
                await asyncio.sleep(poll_interval)
                continue
            for event in events:
                yield event
                if ack:
                    await self.ack(event.position)
            idle_since = loop.time()
