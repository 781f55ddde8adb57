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
from ._errors import (
    AmbiguousNodeTypeError,
    AuthenticationError,
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
    InvalidConflictTargetError,
    InvalidFilterError,
    InvalidMigrationHistoryError,
    InvalidMigrationTargetError,
    InvalidModelError,
    InvalidParameterError,
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
    ServerUnavailableError,
    StalePoolWarning,
    TooManyConnectionsError,
    TransactionError,
    TypeMismatchError,
    UniqueViolationError,
    UnknownFieldError,
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
from ._nodes import Node, NodeSpec, OutputSpec, ParamSpec
from ._runtime import AsyncLocalRuntime, LocalRuntime
from ._transaction import Transaction, TransactionState
from ._version import __version__
from ._workflow import Workflow, WorkflowBuilder

__all__ = [
    "CATALOG",
    "AmbiguousNodeTypeError",
    "AsyncLocalRuntime",
    "AuthenticationError",
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
    "DuplicateNodeIdError",
    "ErrorInfo",
    "EventLoopClosedError",
    "Field",
    "FieldSpec",
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
    "PoolClosedError",
    "PoolTimeoutError",
    "RecordError",
    "RecordNotFoundError",
    "ResourceLeakError",
    "RevisionStatus",
    "ServerUnavailableError",
    "StalePoolWarning",
    "TooManyConnectionsError",
    "Transaction",
    "TransactionError",
    "TransactionState",
    "TypeMismatchError",
    "UniqueViolationError",
    "UnknownFieldError",
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
