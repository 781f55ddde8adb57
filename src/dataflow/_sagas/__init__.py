"""Sagas: steps with compensations, their state in a table, recovery after a crash."""

from .._nodes import register_builtin
from ._coordinator import SagaCoordinator, SagaResult
from ._definition import SagaStep
from ._node import SagaCoordinatorNode
from ._store import LOG_TABLE, SAGA_TABLE

register_builtin(SagaCoordinatorNode)

__all__ = ["LOG_TABLE", "SAGA_TABLE", "SagaCoordinator", "SagaCoordinatorNode", "SagaResult", "SagaStep"]
