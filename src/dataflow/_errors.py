"""Every exception DataFlow raises, one class per ``DF-`` code.

Hierarchy::

    DataFlowError
    ├── ValidationError          1xx/2xx, DF-305..308: bad models, parameters, filters, tenants
    ├── RecordError              3xx: not found, constraint violations
    ├── WorkflowError            4xx: workflow build and execution
    ├── DatabaseConnectionError  5xx: connections, pools, event loops
    ├── TransactionError         6xx
    ├── TestingError             7xx: the pytest plugin (leaks, escaped writes, seed data)
    ├── ConfigurationError       8xx
    └── MigrationError           9xx: migration files, history, targets and operations
    DataFlowWarning (UserWarning): StalePoolWarning, ReplicasUnavailableWarning, LoopReuseWarning

Messages are plain text (no colour codes) and never contain a password.
"""

from __future__ import annotations

from ._error_base import DataFlowError, format_message
from ._errors_database import (  # re-exported: every error has one import path
    AuthenticationError,
    ChangeCaptureOutdatedError,
    ChangeFeedExistsError,
    ChangeFeedNotFoundError,
    ConnectionLostError,
    DatabaseConnectionError,
    DatabaseError,
    DatabaseLockedError,
    DatabaseNotFoundError,
    EventLoopClosedError,
    InvalidSagaError,
    InvalidTransactionOptionError,
    LogicalDecodingUnavailableError,
    PoolClosedError,
    PoolTimeoutError,
    SerializationFailureError,
    ServerUnavailableError,
    TooManyConnectionsError,
    TransactionError,
    TransactionTimeoutError,
    TwoPhaseCommitError,
    TwoPhaseCommitUnavailableError,
    WrongEventLoopError,
)
from ._errors_tooling import (  # re-exported
    BackendMarkerError,
    CacheAuthenticationWarning,
    CacheBackendConfigurationError,
    CacheBackendNotInstalledError,
    CacheRejectedWarning,
    CacheUnavailableWarning,
    ConfigurationError,
    DataFlowWarning,
    EscapedWritesError,
    GatewayConfigurationError,
    GatewayWithoutAuthWarning,
    InvalidMeterProviderError,
    InvalidMigrationHistoryError,
    InvalidMigrationTargetError,
    InvalidModelOptionError,
    InvalidTaskError,
    InvalidTenantOptionError,
    InvalidURLError,
    IsolationModeError,
    LoopReuseWarning,
    MigrationChecksumError,
    MigrationError,
    MigrationFailedError,
    MultipleHeadsError,
    OpenTelemetryUnavailableError,
    ReplicaConfigurationError,
    ReplicasUnavailableWarning,
    ResourceLeakError,
    RowSecurityBypassedError,
    RowSecurityUnsupportedError,
    SeedError,
    StalePoolWarning,
    TaskNotStoppedError,
    TestDatabaseOptionsError,
    TestingError,
    UnsupportedMigrationOperationError,
)

__all__ = [
    "AmbiguousNodeTypeError", "AuthenticationError", "BackendMarkerError", "CacheAuthenticationWarning",
    "CacheBackendConfigurationError", "CacheBackendNotInstalledError", "CacheRejectedWarning",
    "CacheUnavailableWarning", "ChangeCaptureOutdatedError",
    "ChangeFeedExistsError", "ChangeFeedNotFoundError", "ConfigurationError", "ConnectionLostError",
    "ConnectionPathError", "ConstraintViolationError", "DanglingConnectionError", "DataFlowError", "DataFlowWarning",
    "DatabaseConnectionError", "DatabaseError", "DatabaseLockedError", "DatabaseNotFoundError",
    "DuplicateNodeIdError", "EscapedWritesError", "EventLoopClosedError", "GatewayConfigurationError",
    "GatewayWithoutAuthWarning", "InvalidCaptureParameterError", "InvalidConditionError",
    "InvalidConflictTargetError", "InvalidFilterError", "InvalidMigrationHistoryError",
    "InvalidMigrationTargetError", "InvalidModelError", "InvalidParameterError", "InvalidSagaError",
    "InvalidTaskError", "InvalidTransactionOptionError", "IsolationModeError", "InvalidURLError",
    "LogicalDecodingUnavailableError",
    "LoopReuseWarning", "MigrationChecksumError", "MigrationError", "MigrationFailedError", "MissingFieldError",
    "MultipleHeadsError", "MultipleRecordsError", "NodeExecutionError", "PoolClosedError", "PoolTimeoutError",
    "RecordError", "RecordNotFoundError", "ReplicaConfigurationError", "ReplicasUnavailableWarning",
    "ResourceLeakError", "SchemaMismatchError", "SeedError", "SerializationFailureError", "ServerUnavailableError",
    "StalePoolWarning", "TaskNotStoppedError", "TestDatabaseOptionsError", "TestingError",
    "TooManyConnectionsError", "TransactionError", "TransactionTimeoutError", "TwoPhaseCommitError",
    "TwoPhaseCommitUnavailableError", "TypeMismatchError", "UniqueViolationError", "UnknownFieldError",
    "UnknownNodeIdError", "UnknownNodeTypeError", "UnknownOperatorError", "UnknownSourceTableError",
    "UnsupportedMigrationOperationError", "ValidationError", "WorkflowCycleError", "WorkflowError",
    "WrongEventLoopError", "format_message",
    "InvalidTenantError", "InvalidTenantOptionError", "RowSecurityBypassedError", "RowSecurityUnsupportedError",
    "TenantConflictError", "TenantMismatchError", "TenantRequiredError",
]
__all__ += [  # monitoring
    "InvalidMeterProviderError", "InvalidMonitorOptionError", "MonitoredDatabaseError", "OpenTelemetryUnavailableError",
]
__all__ += [  # soft delete and versioned rows
    "DeletedRecordConflictError", "InvalidModelOptionError", "ManagedFieldError", "RowOptionNotEnabledError",
    "StaleRecordError",
]


class ValidationError(DataFlowError):
    """A model, node parameter, filter or table definition is invalid (all but DF-106 before any SQL runs)."""


class MissingFieldError(ValidationError):
    """DF-101: a required field has no value."""

    code = "DF-101"


class UnknownFieldError(ValidationError):
    """DF-102: a field name the model does not declare."""

    code = "DF-102"


class TypeMismatchError(ValidationError):
    """DF-103: a value does not match the field's declared type."""

    code = "DF-103"


class InvalidModelError(ValidationError):
    """DF-104: the class given to ``@db.model`` cannot be a model."""

    code = "DF-104"


class InvalidParameterError(ValidationError):
    """DF-105: a node parameter that the node does not accept, or of the wrong type."""

    code = "DF-105"


class SchemaMismatchError(ValidationError):
    """DF-106: an existing table lacks a model column or stores one with another type."""

    code = "DF-106"


class UnknownOperatorError(ValidationError):
    """DF-201: a filter operator that DataFlow does not support."""

    code = "DF-201"


class InvalidFilterError(ValidationError):
    """DF-202: a filter of the wrong shape."""

    code = "DF-202"


class InvalidConflictTargetError(ValidationError):
    """DF-305: ``conflict_on`` is not the primary key or a unique field/constraint."""

    code = "DF-305"


class TenantRequiredError(ValidationError):
    """DF-306: a tenant-scoped model is used with no tenant set."""

    code = "DF-306"


class TenantMismatchError(ValidationError):
    """DF-307: a value names another tenant than the current one."""

    code = "DF-307"


class InvalidTenantError(ValidationError):
    """DF-308: a tenant id that is not a non-empty str."""

    code = "DF-308"


class RecordError(DataFlowError):
    """A record-level failure: not found, or a constraint the database enforces."""


class RecordNotFoundError(RecordError):
    """DF-301: no record matched."""

    code = "DF-301"


class UniqueViolationError(RecordError):
    """DF-302: a duplicate value for the primary key or a unique field."""

    code = "DF-302"


class ConstraintViolationError(RecordError):
    """DF-303: another constraint (such as NOT NULL) was violated."""

    code = "DF-303"


class MultipleRecordsError(RecordError):
    """DF-304: a single-record node matched more than one record."""

    code = "DF-304"


class StaleRecordError(RecordError):
    """DF-310: an update or delete named the version it read, and the record changed since."""

    code = "DF-310"


class DeletedRecordConflictError(RecordError):
    """DF-311: an upsert's primary key belongs to a soft-deleted record."""

    code = "DF-311"


class WorkflowError(DataFlowError):
    """A workflow could not be built or executed."""


class UnknownNodeTypeError(WorkflowError):
    """DF-401: ``add_node`` names an unknown node type."""

    code = "DF-401"


class AmbiguousNodeTypeError(WorkflowError):
    """DF-407: an unbound builder names a node type that several live instances declare."""

    code = "DF-407"


class UnknownSourceTableError(WorkflowError):
    """DF-410: a change capture source table that no (single) live model declares."""

    code = "DF-410"


class InvalidCaptureParameterError(WorkflowError):
    """DF-411: an unsupported capture operation, feed name or limit."""

    code = "DF-411"


class InvalidConditionError(WorkflowError):
    """DF-408: a SwitchNode condition is not an allowed expression."""

    code = "DF-408"


class InvalidMonitorOptionError(WorkflowError):
    """DF-420: a monitoring node's threshold, window or flag of the wrong type or range."""

    code = "DF-420"


class MonitoredDatabaseError(WorkflowError):
    """DF-421: ``watch()`` or a monitoring class given something that is not a DataFlow instance."""

    code = "DF-421"


class UnknownNodeIdError(WorkflowError):
    """DF-409: a node id the workflow does not contain (asked of the Inspector)."""

    code = "DF-409"


class DuplicateNodeIdError(WorkflowError):
    """DF-402: two nodes share an id."""

    code = "DF-402"


class WorkflowCycleError(WorkflowError):
    """DF-403: the connections form a cycle."""

    code = "DF-403"


class DanglingConnectionError(WorkflowError):
    """DF-404: a connection names a node that is not in the workflow."""

    code = "DF-404"


class ConnectionPathError(WorkflowError):
    """DF-405: a connection's source path is missing from the source node's output."""

    code = "DF-405"


class TenantConflictError(WorkflowError):
    """DF-412: a workflow run names two different tenants."""

    code = "DF-412"


class NodeExecutionError(WorkflowError):
    """DF-406: a node failed with a non-DataFlow exception (chained as ``__cause__``)."""

    code = "DF-406"


class RowOptionNotEnabledError(WorkflowError):
    """DF-416: a soft delete or version parameter on a model declared without that option."""

    code = "DF-416"


class ManagedFieldError(WorkflowError):
    """DF-417: a node sets ``deleted_at`` or ``version``, which DataFlow maintains."""

    code = "DF-417"


# Tracebacks, pickles and the reference page name one module for every error, wherever it is defined.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "_"):
        _obj.__module__ = __name__
del _name, _obj

