"""The catalog entries of the monitoring nodes and the OpenTelemetry export (DF-420, DF-421,
DF-823, DF-824), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order.
"""

from __future__ import annotations

__all__ = ["MONITORING_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
MONITORING_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-420", "InvalidMonitorOptionError", "Invalid monitoring option",
        "A `DeadlockDetectorNode`, `RaceConditionDetectorNode` or `PerformanceAnomalyNode` option (or "
        "the same argument of `DeadlockDetector`, `RaceConditionDetector`, `PerformanceAnomalyDetector`) "
        "has the wrong type or range: a threshold or window that is not a positive number of seconds, a "
        "`sensitivity` that is not a positive number, a `min_samples` that is not an integer of 2 or more, "
        "a flag that is not True or False, or an event kind that `Watch.forget()` does not know.",
        'Pass seconds as a number above 0 (`"detection_threshold": 5.0`, `"baseline_window": 300`), '
        '`"sensitivity": 3.0`, `"min_samples": 5`, flags as True or False, and forget `deadlock`, '
        "`serialization_failure`, `lock_wait` or `lost_update` events.",
    ),
    (
        "DF-421", "MonitoredDatabaseError", "Not a DataFlow instance to monitor",
        "`watch()`, `export_metrics()` or a monitoring class (`DeadlockDetector`, `RaceConditionDetector`, "
        "`PerformanceAnomalyDetector`) was given something other than a DataFlow instance, such as its URL "
        "string or a model class.",
        "Pass the `DataFlow` object your models are declared on: `watch(db)`, `DeadlockDetector(db)`.",
    ),
    (
        "DF-823", "OpenTelemetryUnavailableError", "OpenTelemetry is not installed",
        "`export_metrics()` exports through the OpenTelemetry SDK, which DataFlow does not install by "
        "default (importing DataFlow never imports OpenTelemetry), and the SDK is not installed in this "
        "environment.",
        "Install the extra: `pip install 'dataflow[otel]'` (it brings `opentelemetry-api` and "
        "`opentelemetry-sdk`), then configure a `MeterProvider` with your exporter.",
    ),
    (
        "DF-824", "InvalidMeterProviderError", "Not an OpenTelemetry MeterProvider",
        "`export_metrics(meter_provider=...)` was given an object without a `get_meter()` method, such as "
        "a metric reader, an exporter or a meter, where it takes the `MeterProvider` that owns them.",
        "Build the provider from the reader and pass it: `provider = MeterProvider(metric_readers=[reader])`, "
        "then `export_metrics(db, meter_provider=provider)`; leave it out to use the global provider.",
    ),
]
