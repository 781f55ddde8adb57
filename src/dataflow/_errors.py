"""Every exception DataFlow raises, one class per ``DF-`` code.

Hierarchy::

    DataFlowError
    ├── ValidationError          1xx/2xx: bad models, parameters, filters (raised before any SQL)
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

from typing import ClassVar

from ._error_base import DataFlowError, format_message

__all__ = [
    "AmbiguousNodeTypeError", "AuthenticationError", "BackendMarkerError", "ChangeCaptureOutdatedError",
    "ChangeFeedExistsError", "ChangeFeedNotFoundError", "ConfigurationError", "ConnectionLostError",
    "ConnectionPathError", "ConstraintViolationError", "DanglingConnectionError", "DataFlowError", "DataFlowWarning",
    "DatabaseConnectionError", "DatabaseError", "DatabaseLockedError", "DatabaseNotFoundError",
    "DuplicateNodeIdError", "EscapedWritesError", "EventLoopClosedError", "GatewayConfigurationError",
    "GatewayWithoutAuthWarning", "InvalidCaptureParameterError", "InvalidConditionError",
    "InvalidConflictTargetError", "InvalidFilterError", "InvalidMigrationHistoryError",
    "InvalidMigrationTargetError", "InvalidModelError", "InvalidParameterError", "InvalidSagaError",
    "InvalidTaskError", "InvalidTransactionOptionError", "InvalidURLError", "LogicalDecodingUnavailableError",
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


class NodeExecutionError(WorkflowError):
    """DF-406: a node failed with a non-DataFlow exception (chained as ``__cause__``)."""

    code = "DF-406"


class DatabaseConnectionError(DataFlowError):
    """Connecting to the database, or using a pool or event loop, failed."""


class ServerUnavailableError(DatabaseConnectionError):
    """DF-501: connection refused; the message names the host and port."""
    code = "DF-501"


class AuthenticationError(DatabaseConnectionError):
    """DF-502: the server rejected the credentials."""
    code = "DF-502"


class DatabaseNotFoundError(DatabaseConnectionError):
    """DF-503: the database named in the URL does not exist."""
    code = "DF-503"


class PoolClosedError(DatabaseConnectionError):
    """DF-504: the DataFlow instance was closed and is still used."""
    code = "DF-504"


class EventLoopClosedError(DatabaseConnectionError):
    """DF-505: an operation on an event loop that is already closed."""
    code = "DF-505"


class WrongEventLoopError(DatabaseConnectionError):
    """DF-506: a connection or transaction used from a loop other than its own."""
    code = "DF-506"


class TooManyConnectionsError(DatabaseConnectionError):
    """DF-508: the server's ``max_connections`` is reached."""
    code = "DF-508"


class PoolTimeoutError(DatabaseConnectionError):
    """DF-509: no connection became free within ``pool_acquire_timeout``."""
    code = "DF-509"


class DatabaseLockedError(DatabaseConnectionError):
    """DF-510: SQLite's write lock was held past ``sqlite_busy_timeout``."""
    code = "DF-510"


class ConnectionLostError(DatabaseConnectionError):
    """DF-511: the server closed the connection during an operation."""
    code = "DF-511"


class DatabaseError(DataFlowError):
    """DF-512: a database error DataFlow does not translate more precisely."""
    code = "DF-512"


class LogicalDecodingUnavailableError(DatabaseError):
    """DF-513: PostgreSQL runs without ``wal_level=logical``."""

    code = "DF-513"


class ChangeFeedExistsError(DatabaseError):
    """DF-514: ``feed.create()`` for a feed that exists."""

    code = "DF-514"


class ChangeFeedNotFoundError(DatabaseError):
    """DF-515: a feed (or its replication slot) that does not exist."""

    code = "DF-515"


class ChangeCaptureOutdatedError(DatabaseError):
    """DF-516: SQLite capture triggers that no longer match the table."""

    code = "DF-516"


class TransactionError(DataFlowError):
    """DF-601: a transaction used in a way it does not support."""
    code = "DF-601"


class SerializationFailureError(TransactionError):
    """DF-602: the database rolled a transaction back (serialization failure or deadlock); retry it."""
    code = "DF-602"


class TransactionTimeoutError(TransactionError):
    """DF-603: a statement or lock wait outlasted the transaction's ``timeout``."""
    code = "DF-603"


class InvalidTransactionOptionError(TransactionError):
    """DF-604: an isolation level, timeout or retry count a transaction does not accept."""
    code = "DF-604"


class InvalidSagaError(TransactionError):
    """DF-605: a saga's steps or compensations are not in the documented shape."""
    code = "DF-605"


class TwoPhaseCommitUnavailableError(TransactionError):
    """DF-606: a participant cannot prepare transactions (SQLite, max_prepared_transactions = 0)."""
    code = "DF-606"


class TwoPhaseCommitError(TransactionError):
    """DF-607: a two-phase commit failed (rolled back everywhere, or a commit left prepared)."""
    code = "DF-607"


class TestingError(DataFlowError):
    """Base class of the 7xx errors of the testing support (``dataflow.testing``)."""
    __test__ = False  # not a test class when a test module imports it


class ResourceLeakError(TestingError):
    """DF-701: a test left pools, connections or tasks open."""
    code = "DF-701"


class EscapedWritesError(TestingError):
    """DF-702: writes of an isolated test reached the database outside its isolation."""
    code = "DF-702"


class SeedError(TestingError):
    """DF-704: the dataflow_seed fixture is not an async loader, or the loader failed."""
    code = "DF-704"


class TaskNotStoppedError(ResourceLeakError):
    """DF-710: a tracked task kept running after it was cancelled."""
    code = "DF-710"


class ConfigurationError(DataFlowError):
    """DF-802: an invalid DataFlow setting."""
    code = "DF-802"


class TestDatabaseOptionsError(ConfigurationError):
    """DF-803: pytest options of the worker databases that exclude each other."""
    code = "DF-803"


class BackendMarkerError(ConfigurationError):
    """DF-804: a ``dataflow_backend`` marker without a known backend or a reason."""
    code = "DF-804"


class InvalidTaskError(ConfigurationError):
    """DF-805: ``TaskTracker.track()`` given something that is not a task."""
    code = "DF-805"


class InvalidURLError(ConfigurationError):
    """DF-801: a malformed or unsupported database URL."""
    code = "DF-801"


class ReplicaConfigurationError(ConfigurationError):
    """DF-810: an invalid ``read_replicas``, ``max_replica_lag`` or ``replica_retry_interval``."""
    code = "DF-810"


class GatewayConfigurationError(ConfigurationError):
    """DF-812: ``create_gateway_api()`` cannot build the application."""
    code = "DF-812"


class MigrationError(DataFlowError):
    """Base class of the 9xx migration errors."""


class MultipleHeadsError(MigrationError):
    """DF-901: the migration history forks into several heads."""
    code = "DF-901"


class MigrationChecksumError(MigrationError):
    """DF-902: the file of an applied revision was edited."""
    code = "DF-902"


class InvalidMigrationTargetError(MigrationError):
    """DF-903: a migrate/rollback target that is not a reachable revision."""

    code = "DF-903"


class UnsupportedMigrationOperationError(MigrationError):
    """DF-904: an operation DataFlow cannot carry out on the backend."""

    code = "DF-904"


class MigrationFailedError(MigrationError):
    """DF-905: an operation failed on the database; its revision was rolled back."""

    code = "DF-905"


class InvalidMigrationHistoryError(MigrationError):
    """DF-906: a migration file or the history it forms is broken."""

    code = "DF-906"


class DataFlowWarning(UserWarning):
    """Base class of DataFlow's warnings; carries a code and link like the errors."""

    code: ClassVar[str] = ""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def __str__(self) -> str:
        return format_message(self.code, self.detail)


class StalePoolWarning(DataFlowWarning):
    """DF-507: a pool outlived its event loop and was closed by DataFlow."""
    code = "DF-507"


class ReplicasUnavailableWarning(DataFlowWarning):
    """DF-520: no read replica answered; reads went to the primary."""
    code = "DF-520"


class GatewayWithoutAuthWarning(DataFlowWarning):
    """DF-811: a gateway that refuses every request (no ``auth=``) or accepts every one (``auth=None``)."""
    code = "DF-811"


class LoopReuseWarning(DataFlowWarning):
    """DF-703: an instance nobody closed is used from a second event loop."""
    code = "DF-703"
