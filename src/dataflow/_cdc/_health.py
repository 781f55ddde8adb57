"""What a database holds for change feeds: each feed's retained bytes, and abandoned slots.

``dataflow doctor --database-url`` reports feeds that retain more than a bound and PostgreSQL slots
that no feed owns any more (both keep write-ahead log on the server until dropped); the same
numbers are a metric (:func:`change_feed_status`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._feed import feed_positions

if TYPE_CHECKING:
    from .._dialects import Connection

__all__ = ["FeedHost", "FeedStatus", "change_feed_status"]


class FeedHost(Protocol):
    """What :func:`change_feed_status` needs: a DataFlow instance."""

    def connection(self) -> AbstractAsyncContextManager[Connection]: ...


@dataclass(frozen=True)
class FeedStatus:
    """One feed, or one capture slot no feed owns.

    Attributes:
        name: The feed's name; for an abandoned slot, the slot's name.
        source_table: The feed's table (``None`` for an abandoned slot).
        position: The acknowledged position as ``str(position)`` (``None`` for an abandoned slot).
        retained_bytes: What the database keeps because it is not acknowledged (PostgreSQL: WAL bytes).
        abandoned: True for a PostgreSQL replication slot without its feed.
    """

    name: str
    source_table: str | None
    position: str | None
    retained_bytes: int
    abandoned: bool = False


async def change_feed_status(db: FeedHost) -> list[FeedStatus]:
    """Every change feed of ``db``'s database with its retained bytes, then the abandoned slots.

    Example:
        ```python
        for status in await change_feed_status(db):
            print(status.name, status.retained_bytes)
        ```
    """
    async with db.connection() as connection:
        capture = connection.backend.change_capture
        feeds = await feed_positions(connection) or {}
        found = [
            FeedStatus(
                name,
                table,
                str(position),
                await capture.retained_bytes(connection, name, table, (position.commit, position.index)),
            )
            for name, (table, position) in feeds.items()
        ]
        orphans = await capture.orphans(connection, list(feeds))
    return found + [
        FeedStatus(slot, None, None, size, abandoned=True) for slot, size in sorted(orphans.items())
    ]
