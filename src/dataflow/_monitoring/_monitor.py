"""What transactions are open right now, how long they have run and how long they have been idle,
and the alerts for those over a threshold (what TransactionMonitorNode reports).

DataFlow's own open blocks are known on both backends; on PostgreSQL the monitor also reads
``pg_stat_activity``, which shows every session of the database, other processes' included.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._executor import ExecutionContext

if TYPE_CHECKING:
    from .._dataflow import DataFlow

__all__ = ["TransactionMonitor", "scan"]

logger = logging.getLogger("dataflow")


@dataclass(frozen=True)
class _Thresholds:
    long_running: float
    idle: float


def _alerts(rows: list[dict[str, Any]], limits: _Thresholds) -> list[dict[str, Any]]:
    alerts = []
    for row in rows:
        if row["age_s"] >= limits.long_running:
            alerts.append({**row, "alert": "long_running", "threshold_s": limits.long_running})
        if row["state"] == "idle in transaction" and row["idle_s"] >= limits.idle:
            alerts.append({**row, "alert": "idle_in_transaction", "threshold_s": limits.idle})
    return alerts


async def scan(context: ExecutionContext) -> list[dict[str, Any]]:
    """The open transactions of ``context``'s database: DataFlow's own blocks, and on PostgreSQL
    every session's transaction from ``pg_stat_activity``."""
    now = time.monotonic()
    rows: list[dict[str, Any]] = []
    for tx in list(context.open_transactions):
        if tx.state.value != "active":
            continue
        idle_since = tx.shared.idle_since
        rows.append(
            {
                "source": "dataflow",
                "database": context.url.redacted,
                "session": tx.connection.session,
                "state": "active" if idle_since is None else "idle in transaction",
                "age_s": round(now - tx.started, 3),
                "idle_s": 0.0 if idle_since is None else round(now - idle_since, 3),
                "isolation_level": tx.isolation.name if tx.isolation is not None else None,
                "workflow": tx.workflow,
                "models": sorted(tx.models),
                "query": None,
            }
        )
    sql = context.backend.activity_query()
    if sql is not None:
        own = {row["session"]: row for row in rows}
        async with context.connection() as connection:
            for session, state, age, idle, query in await connection.fetch(sql):
                if session in own:  # DataFlow's own block: add what the server says it runs
                    own[session]["query"] = query
                    continue
                rows.append(
                    {
                        "source": "pg_stat_activity",
                        "database": context.url.redacted,
                        "session": int(session),
                        "state": str(state),
                        "age_s": round(float(age), 3),
                        "idle_s": round(float(idle), 3) if state == "idle in transaction" else 0.0,
                        "isolation_level": None,
                        "workflow": None,
                        "models": [],
                        "query": query,
                    }
                )
    return rows


class TransactionMonitor:
    """Long-running and idle-in-transaction transactions of one or more instances.

    Args:
        *databases: The DataFlow instances to watch.
        long_running_threshold: Seconds after which an open transaction is an alert.
        idle_threshold: Seconds a transaction may sit idle (no statement running) before an alert.
        log_alerts: Log each alert as a warning on the ``dataflow`` logger when it is found.
    """

    def __init__(
        self,
        *databases: DataFlow | ExecutionContext,
        long_running_threshold: float = 30.0,
        idle_threshold: float = 10.0,
        log_alerts: bool = False,
    ) -> None:
        self.contexts = [db if isinstance(db, ExecutionContext) else db.execution_context for db in databases]
        self.limits = _Thresholds(long_running_threshold, idle_threshold)
        self.log_alerts = log_alerts

    async def check(self) -> dict[str, Any]:
        """``{"transactions": [...], "alerts": [...], "count": n}`` for the databases watched."""
        rows: list[dict[str, Any]] = []
        for context in self.contexts:
            rows.extend(await scan(context))
        alerts = _alerts(rows, self.limits)
        if self.log_alerts:
            for alert in alerts:
                logger.warning(
                    "DataFlow: %s transaction on %s: open %.1fs, idle %.1fs (threshold %.1fs)%s",
                    alert["alert"].replace("_", " "),
                    alert["database"],
                    alert["age_s"],
                    alert["idle_s"],
                    alert["threshold_s"],
                    f": {alert['query']}" if alert["query"] else "",
                )
        return {"transactions": rows, "alerts": alerts, "count": len(rows)}
