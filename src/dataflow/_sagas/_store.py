"""The saga table: each saga's definition and status (``dataflow_sagas``) and the log of every step
and compensation it ran (``dataflow_saga_log``), in the database the coordinator keeps them in.

The log is what a new process recovers from: a step recorded ``done`` ran and committed; a step
recorded ``started`` without ``done`` ran on another database and may or may not have committed
(its compensation runs anyway, so compensations must tolerate an effect that is not there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._dialects import TableDDL

if TYPE_CHECKING:
    from .._executor import ExecutionContext

__all__ = ["LOG_TABLE", "SAGA_TABLE", "LogEntry", "SagaRecord", "SagaStore"]

SAGA_TABLE = "dataflow_sagas"
LOG_TABLE = "dataflow_saga_log"

_DDL = TableDDL(
    SAGA_TABLE,
    (
        f'CREATE TABLE IF NOT EXISTS "{SAGA_TABLE}" ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, '
        '"status" TEXT NOT NULL, "definition" TEXT NOT NULL, "error" TEXT, "created_at" TEXT NOT NULL, '
        '"updated_at" TEXT NOT NULL)',
        f'CREATE TABLE IF NOT EXISTS "{LOG_TABLE}" ("saga_id" TEXT NOT NULL, "seq" INTEGER NOT NULL, '
        '"step" TEXT NOT NULL, "action" TEXT NOT NULL, "status" TEXT NOT NULL, "output" TEXT, "error" TEXT, '
        '"at" TEXT NOT NULL, PRIMARY KEY ("saga_id", "seq"))',
    ),
    (SAGA_TABLE, LOG_TABLE),
)

#: Statuses of a saga that is not finished (recover() picks these up).
UNFINISHED = ("running", "compensating", "failed")


@dataclass(frozen=True)
class SagaRecord:
    """A row of ``dataflow_sagas``."""

    saga_id: str
    name: str
    status: str
    definition: list[dict[str, Any]]
    error: str | None


@dataclass(frozen=True)
class LogEntry:
    """A row of ``dataflow_saga_log``: ``action`` is ``forward`` or ``compensate``; ``status`` is
    ``started``, ``done``, ``failed`` or ``skipped``."""

    step: str
    action: str
    status: str
    output: Any
    error: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SagaStore:
    """Reads and writes the saga tables through an execution context (inside its current
    transaction when there is one, so a step and its log entry commit together)."""

    def __init__(self, context: ExecutionContext) -> None:
        self.context = context
        self._ready = False

    async def _run(self, sql: str, *values: Any) -> list[Any]:
        async with self.context.connection() as connection:
            if not self._ready:
                await connection.backend.create_table(connection, _DDL)
                self._ready = True
            params = connection.backend.params()
            text = sql.format(*(params.add(value) for value in values))
            return list(await connection.fetch(text, params.values))

    async def create(self, saga_id: str, name: str, steps: list[dict[str, Any]]) -> None:
        now = _now()
        await self._run(
            f'INSERT INTO "{SAGA_TABLE}" ("id", "name", "status", "definition", "created_at", "updated_at") '
            "VALUES ({}, {}, 'running', {}, {}, {})",
            saga_id,
            name,
            json.dumps(steps),
            now,
            now,
        )

    async def set_status(self, saga_id: str, status: str, error: str | None = None) -> None:
        await self._run(
            f'UPDATE "{SAGA_TABLE}" SET "status" = {{}}, "error" = {{}}, "updated_at" = {{}} WHERE "id" = {{}}',
            status,
            error,
            _now(),
            saga_id,
        )

    async def log(
        self, saga_id: str, step: str, action: str, status: str, output: Any = None, error: str | None = None
    ) -> None:
        await self._run(
            f'INSERT INTO "{LOG_TABLE}" ("saga_id", "seq", "step", "action", "status", "output", "error", "at") '
            f'SELECT {{}}, COALESCE(MAX("seq"), 0) + 1, {{}}, {{}}, {{}}, {{}}, {{}}, {{}} FROM "{LOG_TABLE}" '
            'WHERE "saga_id" = {}',
            saga_id,
            step,
            action,
            status,
            None if output is None else json.dumps(output, default=str),
            error,
            _now(),
            saga_id,
        )

    async def saga(self, saga_id: str) -> SagaRecord | None:
        rows = await self._run(
            f'SELECT "id", "name", "status", "definition", "error" FROM "{SAGA_TABLE}" WHERE "id" = {{}}', saga_id
        )
        return _record(rows[0]) if rows else None

    async def unfinished(self) -> list[SagaRecord]:
        rows = await self._run(
            f'SELECT "id", "name", "status", "definition", "error" FROM "{SAGA_TABLE}" '
            'WHERE "status" IN ({}, {}, {}) ORDER BY "created_at", "id"',
            *UNFINISHED,
        )
        return [_record(row) for row in rows]

    async def entries(self, saga_id: str) -> list[LogEntry]:
        rows = await self._run(
            f'SELECT "step", "action", "status", "output", "error" FROM "{LOG_TABLE}" WHERE "saga_id" = {{}} '
            'ORDER BY "seq"',
            saga_id,
        )
        return [
            LogEntry(str(step), str(action), str(status), None if output is None else json.loads(output), error)
            for step, action, status, output, error in rows
        ]


def _record(row: Any) -> SagaRecord:
    saga_id, name, status, steps, error = row
    return SagaRecord(str(saga_id), str(name), str(status), json.loads(steps), error)
