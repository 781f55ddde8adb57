"""Transaction monitoring: measurements of ended transactions, a view of the open ones, and the
detectors of deadlocks, race conditions and slow statements (with their OpenTelemetry export)."""

from .._nodes import register_builtin
from ._detector_nodes import DeadlockDetectorNode, PerformanceAnomalyNode, RaceConditionDetectorNode
from ._detectors import DeadlockDetector, PerformanceAnomalyDetector, RaceConditionDetector
from ._monitor import TransactionMonitor
from ._nodes import TransactionMetricsNode, TransactionMonitorNode, transaction_metrics
from ._otel import MetricsExport, export_metrics
from ._watch import Watch, watch

for _node in (
    TransactionMetricsNode,
    TransactionMonitorNode,
    DeadlockDetectorNode,
    RaceConditionDetectorNode,
    PerformanceAnomalyNode,
):
    register_builtin(_node)
del _node

__all__ = [
    "DeadlockDetector",
    "DeadlockDetectorNode",
    "MetricsExport",
    "PerformanceAnomalyDetector",
    "PerformanceAnomalyNode",
    "RaceConditionDetector",
    "RaceConditionDetectorNode",
    "TransactionMetricsNode",
    "TransactionMonitor",
    "TransactionMonitorNode",
    "Watch",
    "export_metrics",
    "transaction_metrics",
    "watch",
]
