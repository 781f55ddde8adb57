"""Transaction monitoring: measurements of ended transactions and a view of the open ones."""

from .._nodes import register_builtin
from ._monitor import TransactionMonitor
from ._nodes import TransactionMetricsNode, TransactionMonitorNode, transaction_metrics

register_builtin(TransactionMetricsNode)
register_builtin(TransactionMonitorNode)

__all__ = ["TransactionMetricsNode", "TransactionMonitor", "TransactionMonitorNode", "transaction_metrics"]
