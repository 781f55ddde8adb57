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
from ._dataflow import DataFlow
from ._enhancer import ErrorEnhancer, ErrorEnhancerConfig, PerformanceMode
from ._errors import (
    AmbiguousNodeTypeError,
    AuthenticationError,
    BackendMarkerError,
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
    InvalidConditionError,
    InvalidConflictTargetError,
    InvalidFilterError,
    InvalidMigrationHistoryError,
    InvalidMigrationTargetError,
    InvalidModelError,
    InvalidParameterError,
    InvalidTaskError,
    InvalidURLError,
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
    ResourceLeakError,
    SchemaMismatchError,
    ServerUnavailableError,
    StalePoolWarning,
    TaskNotStoppedError,
    TestDatabaseOptionsError,
    TooManyConnectionsError,
    TransactionError,
    TypeMismatchError,
    UniqueViolationError,
    UnknownFieldError,
    UnknownNodeIdError,
    UnknownNodeTypeError,
    UnknownOperatorError,
    UnsupportedMigrationOperationError,
    ValidationError,
    WorkflowCycleError,
    WorkflowError,
    WrongEventLoopError,
)
from ._migrations import MigrationPlan, Migrations, RevisionStatus
from ._model import Field, FieldSpec, ModelSpec
from ._nodes import Node, NodeSpec, OutputSpec, ParamSpec, SwitchNode
from ._runtime import AsyncLocalRuntime, LocalRuntime
from ._schema_cache import SchemaCache
from ._transaction import Transaction, TransactionState
from ._version import __version__
from ._workflow import Workflow, WorkflowBuilder
from .platform import Inspector

__all__ = [
    "CATALOG",
    "AmbiguousNodeTypeError",
    "AsyncLocalRuntime",
    "AuthenticationError",
    "ConfigurationError",
    "TestDatabaseOptionsError",
    "TaskNotStoppedError",
    "InvalidTaskError",
    "BackendMarkerError",
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
    "DuplicateNodeIdError",
    "ErrorEnhancer",
    "ErrorEnhancerConfig",
    "ErrorInfo",
    "EventLoopClosedError",
    "Field",
    "FieldSpec",
    "Inspector",
    "InvalidConditionError",
    "InvalidConflictTargetError",
    "InvalidFilterError",
    "InvalidMigrationHistoryError",
    "InvalidMigrationTargetError",
    "InvalidModelError",
    "InvalidParameterError",
    "InvalidURLError",
    "LocalRuntime",
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
    "SchemaCache",
    "SchemaMismatchError",
    "ServerUnavailableError",
    "StalePoolWarning",
    "SwitchNode",
    "TooManyConnectionsError",
    "Transaction",
    "TransactionError",
    "TransactionState",
    "TypeMismatchError",
    "UniqueViolationError",
    "UnknownFieldError",
    "UnknownNodeIdError",
    "UnknownNodeTypeError",
    "UnknownOperatorError",
    "UnsupportedMigrationOperationError",
    "ValidationError",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowCycleError",
    "WorkflowError",
    "WrongEventLoopError",
    "__version__",
]
