"""How a backend reports replication positions: what read routing needs to know about replicas.

A position is an integer that grows with every write the primary commits (PostgreSQL: the WAL
LSN). Reads that must see an earlier write go to a replica only once it has replayed past it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["PostgresReplication", "ReplicaStatus", "Replication"]


class Connection(Protocol):
    """The part of a backend connection this module uses (``_base.Connection`` has it)."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...


@dataclass(frozen=True)
class ReplicaStatus:
    """What a replica reports about itself."""

    #: The primary position the replica has replayed up to.
    replayed: int
    #: Seconds behind the primary (0.0 when it has replayed all it received).
    lag_seconds: float
    #: Whether the server is a replica at all (in recovery).
    in_recovery: bool


class Replication:
    """Replication positions for one backend (PostgreSQL streaming replication)."""

    async def write_position(self, primary: Connection) -> int:
        """The primary's current position (every commit so far is at or before it)."""
        raise NotImplementedError

    async def status(self, replica: Connection) -> ReplicaStatus:
        """The replica's replayed position and lag."""
        raise NotImplementedError


def _lsn(text: str | None) -> int:
    """``"16/B374D848"`` -> an integer that orders like the LSN."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class PostgresReplication(Replication):
    """WAL positions: ``pg_current_wal_insert_lsn()`` on the primary, ``pg_last_wal_replay_lsn()`` on
    replicas. The insert position covers every commit record so far; ``pg_current_wal_lsn()`` (the
    written position) can lag behind it with ``synchronous_commit=off``."""

    async def write_position(self, primary: Connection) -> int:
        rows = await primary.fetch("SELECT pg_current_wal_insert_lsn()::text")
        return _lsn(rows[0][0])

    async def status(self, replica: Connection) -> ReplicaStatus:
        # Idle replicas have replayed all they received: their lag is 0, not the time since the
        # last transaction.
        rows = await replica.fetch(
            "SELECT pg_last_wal_replay_lsn()::text, pg_is_in_recovery(), "
            "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8"
        )
        replayed, in_recovery, lag = rows[0]
        return ReplicaStatus(_lsn(replayed), float(lag or 0.0), bool(in_recovery))
