"""DataFlow: an async, workflow-based database library for SQLite and PostgreSQL, built to be tested.

```python
from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

db = DataFlow("sqlite:///app.db")

@db.model
class User:
    id: int
    name: str

workflow = WorkflowBuilder()
workflow.add_node("UserCreateNode", "create", {"name": "Alice"})
results, run_id = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
```

The drivers (aiosqlite, asyncpg) are imported on first use, so importing this package is cheap.
"""

from ._catalog import CATALOG, ErrorInfo
from ._cdc import (
    ChangeDataCaptureNode,
    ChangeEvent,
    ChangeFeed,
    ChangePosition,
    FeedStatus,
    change_feed_status,
)
from ._dataflow import DataFlow
from ._distributed import DistributedTransactionManagerNode, TwoPhaseCommit
from ._enhancer import ErrorEnhancer, ErrorEnhancerConfig, PerformanceMode
from ._errors import (
    AmbiguousNodeTypeError,
    AuthenticationError,
    ChangeCaptureOutdatedError,
    ChangeFeedExistsError,
    ChangeFeedNotFoundError,
    ConfigurationError,
    ConnectionLostError,
    ConnectionPathError,
    ConstraintViolationError,
    DanglingConnectionError,
    DatabaseConnectionError,
    DatabaseError,
    DatabaseLockedError,
    DatabaseNotFoundError,
    DataFlowError,
    DataFlowWarning,
    DuplicateNodeIdError,
    EventLoopClosedError,
    InvalidCaptureParameterError,
    InvalidConditionError,
    InvalidConflictTargetError,
    InvalidFilterError,
    InvalidMigrationHistoryError,
    InvalidMigrationTargetError,
    InvalidModelError,
    InvalidParameterError,
    InvalidSagaError,
    InvalidTransactionOptionError,
    InvalidURLError,
    LogicalDecodingUnavailableError,
    MigrationChecksumError,
    MigrationError,
    MigrationFailedError,
    MissingFieldError,
    MultipleHeadsError,
    MultipleRecordsError,
    NodeExecutionError,
    PoolClosedError,
    PoolTimeoutError,
    RecordError,
    RecordNotFoundError,
    ReplicaConfigurationError,
    ReplicasUnavailableWarning,
    ResourceLeakError,
    SchemaMismatchError,
    SerializationFailureError,
    ServerUnavailableError,
    StalePoolWarning,
    TooManyConnectionsError,
    TransactionError,
    TransactionTimeoutError,
    TwoPhaseCommitError,
    TwoPhaseCommitUnavailableError,
    TypeMismatchError,
    UniqueViolationError,
    UnknownFieldError,
    UnknownNodeIdError,
    UnknownNodeTypeError,
    UnknownOperatorError,
    UnknownSourceTableError,
    UnsupportedMigrationOperationError,
    ValidationError,
    WorkflowCycleError,
    WorkflowError,
    WrongEventLoopError,
)
from ._migrations import MigrationPlan, Migrations, RevisionStatus
from ._model import Field, FieldSpec, ModelSpec
from ._monitoring import (
    TransactionMetricsNode,
    TransactionMonitor,
    TransactionMonitorNode,
    transaction_metrics,
)
from ._nodes import Node, NodeSpec, OutputSpec, ParamSpec, SwitchNode, TransactionContextNode
from ._query_cache import QueryCache
from ._routing import QueryRouterNode
from ._runtime import AsyncLocalRuntime, LocalRuntime
from ._sagas import SagaCoordinator, SagaCoordinatorNode, SagaResult
from ._schema_cache import SchemaCache
from ._transaction import Transaction, TransactionState
from ._tx_options import IsolationLevel, TransactionOptions
from ._version import __version__
from ._workflow import Workflow, WorkflowBuilder
from .platform import Inspector

__all__ = [
    "CATALOG",
    "AmbiguousNodeTypeError",
    "AsyncLocalRuntime",
    "AuthenticationError",
    "ChangeCaptureOutdatedError",
    "ChangeDataCaptureNode",
    "ChangeEvent",
    "ChangeFeed",
    "ChangeFeedExistsError",
    "ChangeFeedNotFoundError",
    "ChangePosition",
    "ConfigurationError",
    "ConnectionLostError",
    "ConnectionPathError",
    "ConstraintViolationError",
    "DanglingConnectionError",
    "DataFlow",
    "DataFlowError",
    "DataFlowWarning",
    "DatabaseConnectionError",
    "DatabaseError",
    "DatabaseLockedError",
    "DatabaseNotFoundError",
    "DistributedTransactionManagerNode",
    "DuplicateNodeIdError",
    "ErrorEnhancer",
    "ErrorEnhancerConfig",
    "ErrorInfo",
    "EventLoopClosedError",
    "FeedStatus",
    "Field",
    "FieldSpec",
    "Inspector",
    "InvalidCaptureParameterError",
    "InvalidConditionError",
    "InvalidConflictTargetError",
    "InvalidFilterError",
    "InvalidMigrationHistoryError",
    "InvalidMigrationTargetError",
    "InvalidModelError",
    "InvalidParameterError",
    "InvalidSagaError",
    "InvalidTransactionOptionError",
    "InvalidURLError",
    "IsolationLevel",
    "LocalRuntime",
    "LogicalDecodingUnavailableError",
    "MigrationChecksumError",
    "MigrationError",
    "MigrationFailedError",
    "MigrationPlan",
    "Migrations",
    "MissingFieldError",
    "ModelSpec",
    "MultipleHeadsError",
    "MultipleRecordsError",
    "Node",
    "NodeExecutionError",
    "NodeSpec",
    "OutputSpec",
    "ParamSpec",
    "PerformanceMode",
    "PoolClosedError",
    "PoolTimeoutError",
    "RecordError",
    "RecordNotFoundError",
    "ResourceLeakError",
    "RevisionStatus",
    "QueryCache",
    "QueryRouterNode",
    "SagaCoordinator",
    "SagaCoordinatorNode",
    "SagaResult",
    "SchemaCache",
    "SchemaMismatchError",
    "SerializationFailureError",
    "ServerUnavailableError",
    "ReplicaConfigurationError",
    "ReplicasUnavailableWarning",
    "StalePoolWarning",
    "SwitchNode",
    "TooManyConnectionsError",
    "Transaction",
    "TransactionContextNode",
    "TransactionError",
    "TransactionMetricsNode",
    "TransactionMonitor",
    "TransactionMonitorNode",
    "TransactionOptions",
    "TransactionState",
    "TransactionTimeoutError",
    "TwoPhaseCommit",
    "TwoPhaseCommitError",
    "TwoPhaseCommitUnavailableError",
    "TypeMismatchError",
    "UniqueViolationError",
    "UnknownFieldError",
    "UnknownNodeIdError",
    "UnknownNodeTypeError",
    "UnknownOperatorError",
    "UnknownSourceTableError",
    "UnsupportedMigrationOperationError",
    "ValidationError",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowCycleError",
    "WorkflowError",
    "WrongEventLoopError",
    "transaction_metrics",
    "__version__",
    "change_feed_status",
]
