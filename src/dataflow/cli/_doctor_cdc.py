"""``dataflow doctor --database-url``: change feeds that hold data on the server for nobody.

A PostgreSQL replication slot keeps write-ahead log from its position on until it is read, so a feed
whose consumer stopped for good, or a DataFlow slot whose feed row is gone, fills the server's disk.
"""

from __future__ import annotations

from pathlib import Path

from .._cdc import FeedStatus, change_feed_status
from .._dataflow import DataFlow
from .._dialects import parse_url
from .._errors import DataFlowError
from .._loops import run_blocking
from ._findings import Finding

__all__ = ["RETAINED_LIMIT", "check_change_feeds"]

#: A feed that retains more than this is reported.
RETAINED_LIMIT = 256 * 1024 * 1024


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


def check_change_feeds(url_text: str | None, *, max_retained_bytes: int = RETAINED_LIMIT) -> list[Finding]:
    """Abandoned DataFlow slots and feeds retaining more than ``max_retained_bytes``, at ``url_text``."""
    if not url_text:
        return []
    try:
        url = parse_url(url_text)
    except DataFlowError:
        return []  # the database-url check reports it
    if url.path_style and (url.is_memory or not Path(url.database).exists()):
        return []  # nothing to look at, and doctor never creates a database file

    async def collect() -> list[FeedStatus]:
        db = DataFlow(url_text, test_mode=False, pool_min_size=1, pool_max_size=1)
        try:
            return await change_feed_status(db)
        finally:
            await db.close()

    try:
        statuses = run_blocking(collect)
    except (DataFlowError, OSError):
        return []  # unreachable or refused: the database-url check reports what it can
    findings = []
    for status in statuses:
        if status.abandoned:
            findings.append(
                Finding(
                    "change-feeds",
                    None,
                    None,
                    f"the replication slot {status.name!r} belongs to no change feed any more and keeps "
                    f"{_size(status.retained_bytes)} of write-ahead log on the server, growing with every write.",
                    f"drop it: SELECT pg_drop_replication_slot('{status.name}'); (or await feed.drop() on the "
                    "feed of that name).",
                )
            )
        elif status.retained_bytes > max_retained_bytes:
            findings.append(
                Finding(
                    "change-feeds",
                    None,
                    None,
                    f"change feed {status.name!r} of table {status.source_table!r} retains "
                    f"{_size(status.retained_bytes)} its consumer has not acknowledged (position {status.position}).",
                    f"start its consumer again, or drop the feed if it is retired: await "
                    f"db.change_feed({status.source_table!r}, name={status.name!r}).drop().",
                )
            )
    return findings
