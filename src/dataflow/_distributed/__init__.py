"""Work on several databases: two-phase commit, and the node that picks 2PC or a saga."""

from .._nodes import register_builtin
from ._node import DistributedTransactionManagerNode
from ._twophase import LOG_TABLE, TwoPhaseCommit

register_builtin(DistributedTransactionManagerNode)

__all__ = ["LOG_TABLE", "DistributedTransactionManagerNode", "TwoPhaseCommit"]
