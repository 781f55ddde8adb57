"""DeadlockDetectorNode, RaceConditionDetectorNode and PerformanceAnomalyNode: the detectors of
``_detectors`` as workflow nodes, for the databases a workflow uses (the bound ``db.workflow()``
instance, else the workflow's other nodes' databases, else every live DataFlow instance).

Each node watches its databases from its first run on (``watch(db)``); call ``watch(db)`` at
startup to have everything from the first statement on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._nodes import Node, NodeSpec, OutputSpec, ParamSpec
from .._types import FieldType
from ._detectors import (
    DeadlockDetector,
    PerformanceAnomalyDetector,
    RaceConditionDetector,
    check_count,
    check_flag,
    check_positive,
)
from ._nodes import MonitoringNode

__all__ = ["DeadlockDetectorNode", "PerformanceAnomalyNode", "RaceConditionDetectorNode"]


def _positive(name: str) -> Callable[[type[Node], Any], float]:
    return lambda cls, value: check_positive(value, name, cls.type_name)


def _flag(name: str) -> Callable[[type[Node], Any], bool]:
    return lambda cls, value: check_flag(value, name, cls.type_name)


_RESET = ParamSpec("reset", "Forget what was reported after reading it (default False).", check=_flag("reset"))


class DeadlockDetectorNode(MonitoringNode):
    """Deadlocks with what both transactions ran, the lock wait graph now (PostgreSQL) and the lock
    waits that gave up (SQLite's "database is locked")."""

    operation = "deadlock_detector"
    type_name = "DeadlockDetectorNode"
    spec = NodeSpec(
        (
            ParamSpec(
                "detection_threshold",
                "Seconds a session may wait for a lock before its wait is an alert (default 5).",
                check=_positive("detection_threshold"),
            ),
            _RESET,
        ),
        (
            OutputSpec("deadlocks", FieldType.INT, "Deadlocks (SQLSTATE 40P01) since the watch began."),
            OutputSpec("reports", FieldType.JSON, "Each deadlock: message, transactions (session, statements)."),
            OutputSpec("lock_waits", FieldType.JSON, "Who waits for whom now: sessions, queries, wait_s, mode."),
            OutputSpec("lock_graph", FieldType.BOOL, "Whether a lock wait graph was read (PostgreSQL)."),
            OutputSpec("cycles", FieldType.JSON, "Cycles in the wait graph now (sessions)."),
            OutputSpec("alerts", FieldType.JSON, "The waits of at least detection_threshold seconds."),
            OutputSpec("lock_wait_failures", FieldType.INT, "Statements that gave up waiting for a lock."),
            OutputSpec("lock_wait_events", FieldType.JSON, "Those failures: message, statements."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        detector = DeadlockDetector(*self.databases, detection_threshold=values.get("detection_threshold", 5.0))
        return await detector.check(reset=values.get("reset", False))


class RaceConditionDetectorNode(MonitoringNode):
    """Serialization failures, lost updates caught by versioned rows, and rows that different
    transactions wrote within ``window`` seconds of each other."""

    operation = "race_condition_detector"
    type_name = "RaceConditionDetectorNode"
    spec = NodeSpec(
        (
            ParamSpec(
                "monitoring_enabled",
                "Keep recording writes after this run (default True); False stops recording.",
                check=_flag("monitoring_enabled"),
            ),
            ParamSpec(
                "window",
                "Seconds within which two writers of one row are concurrent (default 1).",
                check=_positive("window"),
            ),
            _RESET,
        ),
        (
            OutputSpec("serialization_failures", FieldType.INT, "Serialization failures (DF-602)."),
            OutputSpec("lost_updates", FieldType.INT, "Writes of versioned rows that changed meanwhile (DF-310)."),
            OutputSpec("concurrent_writes", FieldType.JSON, "Rows with several writers in the window."),
            OutputSpec("events", FieldType.JSON, "The failures, with the statements of their transactions."),
            OutputSpec("count", FieldType.INT, "All of them together."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        detector = RaceConditionDetector(*self.databases, window=values.get("window", 1.0))
        out = detector.check(reset=values.get("reset", False))
        if not values.get("monitoring_enabled", True):
            for recorder in detector.watches:
                recorder.stop()
        return out


class PerformanceAnomalyNode(MonitoringNode):
    """Statements that ran much slower than their own rolling baseline of ``baseline_window`` seconds."""

    operation = "performance_anomaly"
    type_name = "PerformanceAnomalyNode"
    spec = NodeSpec(
        (
            ParamSpec(
                "baseline_window",
                "Seconds of earlier runs a statement's run is compared with (default 300).",
                check=_positive("baseline_window"),
            ),
            ParamSpec(
                "sensitivity",
                "Standard deviations above the baseline's mean for an outlier (default 3).",
                check=_positive("sensitivity"),
            ),
            ParamSpec(
                "min_samples",
                "Earlier runs needed before a run is judged (default 5).",
                check=lambda cls, value: check_count(value, "min_samples", cls.type_name),
            ),
            _RESET,
        ),
        (
            OutputSpec("outliers", FieldType.JSON, "Slowest first: statement, duration_ms, baseline_mean_ms, ratio."),
            OutputSpec("operations", FieldType.JSON, "Per statement: runs, mean_ms, p95_ms, max_ms."),
            OutputSpec("count", FieldType.INT, "How many outliers."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        detector = PerformanceAnomalyDetector(
            *self.databases,
            baseline_window=values.get("baseline_window", 300.0),
            sensitivity=values.get("sensitivity", 3.0),
            min_samples=values.get("min_samples", 5),
        )
        return detector.check(reset=values.get("reset", False))
