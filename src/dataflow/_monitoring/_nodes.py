"""TransactionMetricsNode and TransactionMonitorNode: the transaction measurements and the open
transactions of the databases a workflow uses (the bound ``db.workflow()`` instance, else the
workflow's other nodes' databases, else every live DataFlow instance)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .._errors import InvalidParameterError
from .._executor import ExecutionContext
from .._nodes import BuiltinNode, Node, NodeSpec, OutputSpec, ParamSpec
from .._types import FieldType
from ._monitor import TransactionMonitor

if TYPE_CHECKING:
    from .._dataflow import DataFlow

__all__ = ["MonitoringNode", "TransactionMetricsNode", "TransactionMonitorNode", "transaction_metrics"]


def _flag(cls: type[Node], value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(
            f"{cls.type_name} takes True or False here, got {value!r}.", context={"node_type": cls.type_name}
        )
    return value


def _seconds(cls: type[Node], value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidParameterError(
            f"{cls.type_name} takes a threshold in seconds (a number of 0 or more), got {value!r}.",
            context={"node_type": cls.type_name},
        )
    return float(value)


def _name(cls: type[Node], value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(
            f"{cls.type_name} takes a model or workflow name (a non-empty string), got {value!r}.",
            context={"node_type": cls.type_name},
        )
    return value


def transaction_metrics(
    *databases: DataFlow | ExecutionContext, model: str | None = None, workflow: str | None = None
) -> dict[str, Any]:
    """The transaction measurements of each instance, by its URL (password hidden): ``count``,
    ``commits``, ``rollbacks``, ``failures``, ``prepared``, ``retries``, ``duration_ms`` (p50, p95,
    p99, max, mean), ``by_model`` and ``by_workflow`` (a workflow's ``build(name=...)``, else its node ids)."""
    out = {}
    for db in databases:
        context = db if isinstance(db, ExecutionContext) else db.execution_context
        out[context.url.redacted] = context.metrics.snapshot(model=model, workflow=workflow)
    return out


class MonitoringNode(BuiltinNode):
    """The base of the monitoring nodes: they look at databases (the runtime sets ``databases``)."""

    uses_databases = True


class TransactionMetricsNode(MonitoringNode):
    """Counts, outcomes, retries and duration percentiles of the transactions so far, in total, per
    model and per workflow."""

    operation = "transaction_metrics"
    type_name = "TransactionMetricsNode"
    spec = NodeSpec(
        (
            ParamSpec("track_performance", "Include the duration percentiles (default True).", check=_flag),
            ParamSpec("model", "Only this model's row in by_model.", check=_name),
            ParamSpec("workflow", "Only this workflow's row in by_workflow.", check=_name),
            ParamSpec("reset", "Forget the measurements after reading them.", check=_flag),
        ),
        (
            OutputSpec("databases", FieldType.JSON, "URL (password hidden) -> that instance's measurements."),
            OutputSpec("count", FieldType.INT, "Transactions ended, over every database."),
            OutputSpec("commits", FieldType.INT, "Of which committed."),
            OutputSpec("rollbacks", FieldType.INT, "Of which rolled back."),
            OutputSpec("retries", FieldType.INT, "Of which run again after a serialization failure or deadlock."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        per_db = transaction_metrics(*self.databases, model=values.get("model"), workflow=values.get("workflow"))
        if not values.get("track_performance", True):
            for snapshot in per_db.values():
                snapshot.pop("duration_ms")
                for group in (*snapshot["by_model"].values(), *snapshot["by_workflow"].values()):
                    group.pop("duration_ms")
        if values.get("reset"):
            for context in self.databases:
                context.metrics.reset()
        totals = {key: sum(s[key] for s in per_db.values()) for key in ("count", "commits", "rollbacks", "retries")}
        return {"databases": per_db, **totals}


class TransactionMonitorNode(MonitoringNode):
    """The open transactions (DataFlow's own, and every session's on PostgreSQL) with alerts for the
    long-running and the idle-in-transaction ones."""

    operation = "transaction_monitor"
    type_name = "TransactionMonitorNode"
    spec = NodeSpec(
        (
            ParamSpec("real_time_alerts", "Also log each alert as a warning when it is found.", check=_flag),
            ParamSpec("long_running_threshold", "Seconds after which an open transaction is an alert (30).",
                      check=_seconds),
            ParamSpec("idle_threshold", "Seconds idle in a transaction before an alert (10).", check=_seconds),
        ),
        (
            OutputSpec("transactions", FieldType.JSON, "The open transactions: age_s, idle_s, state, query, ..."),
            OutputSpec("alerts", FieldType.JSON, "The ones over a threshold, with 'alert' and 'threshold_s'."),
            OutputSpec("count", FieldType.INT, "How many transactions are open."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        monitor = TransactionMonitor(
            *self.databases,
            long_running_threshold=values.get("long_running_threshold", 30.0),
            idle_threshold=values.get("idle_threshold", 10.0),
            log_alerts=values.get("real_time_alerts", False),
        )
        return await monitor.check()
