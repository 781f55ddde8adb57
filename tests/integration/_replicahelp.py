"""What the replica tests share: the test database on the primary and on its streaming replica."""

from __future__ import annotations

from typing import Any

import psycopg
from _postgres import ReplicaServer


class Servers:
    """The test database on the primary, and the same database on the replica."""

    def __init__(self, primary_url: str, replica: ReplicaServer) -> None:
        self.primary_url = primary_url
        self.replica = replica
        self.replica_url = replica.url(primary_url)

    def primary_sql(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            cursor = conn.execute(sql, args)
            return cursor.fetchall() if cursor.description else []

    def replica_sql(self, sql: str) -> None:
        with psycopg.connect(self.replica_url, autocommit=True) as conn:
            conn.execute(sql)

    def pause_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.replica_sql("SELECT pg_wal_replay_resume()")
