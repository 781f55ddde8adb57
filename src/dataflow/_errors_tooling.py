"""Errors and warnings of the services around the queries: the testing support (7xx), configuration
(8xx), migrations (9xx), and ``DataFlowWarning``. Import them from ``dataflow._errors``, which
re-exports them."""

from __future__ import annotations

from typing import ClassVar

from ._error_base import DataFlowError, format_message

__all__ = [
    "BackendMarkerError", "CacheAuthenticationWarning", "CacheBackendConfigurationError",
    "CacheBackendNotInstalledError", "CacheRejectedWarning", "CacheUnavailableWarning", "ConfigurationError",
    "DataFlowWarning", "EscapedWritesError", "InvalidModelOptionError",
    "GatewayConfigurationError", "GatewayWithoutAuthWarning", "InvalidMigrationHistoryError",
    "InvalidMigrationTargetError", "InvalidTaskError", "IsolationModeError", "InvalidURLError", "LoopReuseWarning",
    "MigrationChecksumError", "MigrationError", "MigrationFailedError", "MultipleHeadsError",
    "ReplicaConfigurationError", "ReplicasUnavailableWarning", "ResourceLeakError", "SeedError",
    "StalePoolWarning", "TaskNotStoppedError", "TestDatabaseOptionsError", "TestingError",
    "UnsupportedMigrationOperationError",
    "InvalidTenantOptionError", "RowSecurityBypassedError", "RowSecurityUnsupportedError",
]
__all__ += ["InvalidMeterProviderError", "OpenTelemetryUnavailableError"]  # monitoring


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


class IsolationModeError(ConfigurationError):
    """DF-827: a test that requests ``dataflow_isolated_session`` does not run on the session loop."""
    code = "DF-827"


class InvalidTaskError(ConfigurationError):
    """DF-805: ``TaskTracker.track()`` given something that is not a task."""
    code = "DF-805"


class InvalidURLError(ConfigurationError):
    """DF-801: a malformed or unsupported database URL."""
    code = "DF-801"


class ReplicaConfigurationError(ConfigurationError):
    """DF-810: an invalid ``read_replicas``, ``max_replica_lag`` or ``replica_retry_interval``."""
    code = "DF-810"


class OpenTelemetryUnavailableError(ConfigurationError):
    """DF-823: ``export_metrics()`` without the OpenTelemetry SDK installed (the ``otel`` extra)."""
    code = "DF-823"


class InvalidMeterProviderError(ConfigurationError):
    """DF-824: ``export_metrics(meter_provider=...)`` given something that is not a MeterProvider."""
    code = "DF-824"


class GatewayConfigurationError(ConfigurationError):
    """DF-812: ``create_gateway_api()`` cannot build the application."""
    code = "DF-812"


class InvalidModelOptionError(ConfigurationError):
    """DF-817: ``soft_delete`` / ``versioned`` is not a bool, or the model declares the field it adds."""

    code = "DF-817"


class CacheBackendConfigurationError(ConfigurationError):
    """DF-820: an invalid ``cache_backend`` (not ``"memory"`` or a Redis URL, or one that cannot work)."""
    code = "DF-820"


class CacheBackendNotInstalledError(ConfigurationError):
    """DF-821: ``cache_backend`` names a Redis server but redis-py (the ``redis`` extra) is not installed."""
    code = "DF-821"


class InvalidTenantOptionError(ConfigurationError):
    """DF-813: ``@db.model(tenant=...)`` names no usable tenant field."""
    code = "DF-813"


class RowSecurityUnsupportedError(ConfigurationError):
    """DF-814: ``tenant_rls=True`` on a backend without row-level security (SQLite)."""
    code = "DF-814"


class RowSecurityBypassedError(ConfigurationError):
    """DF-815: ``tenant_rls=True`` but the connected role bypasses row-level security."""
    code = "DF-815"


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


class CacheUnavailableWarning(DataFlowWarning):
    """DF-521: the Redis query cache is unreachable; reads went to the database."""
    code = "DF-521"


class CacheAuthenticationWarning(DataFlowWarning):
    """DF-522: the Redis query cache refused the URL's credentials; reads went to the database."""
    code = "DF-522"


class CacheRejectedWarning(DataFlowWarning):
    """DF-523: the Redis query cache refused a command (ACL, memory, read-only); reads went to the database."""
    code = "DF-523"


class GatewayWithoutAuthWarning(DataFlowWarning):
    """DF-811: a gateway that refuses every request (no ``auth=``) or accepts every one (``auth=None``)."""
    code = "DF-811"


class LoopReuseWarning(DataFlowWarning):
    """DF-703: an instance nobody closed is used from a second event loop."""
    code = "DF-703"
