"""Transaction and statement metrics exported through OpenTelemetry (the ``otel`` extra).

Nothing here imports OpenTelemetry until :func:`export_metrics` is called, so an application
without the extra pays nothing. The export reads DataFlow's own measurements when the SDK collects
(observable instruments) and records each statement's duration into a histogram as it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import InvalidMeterProviderError, OpenTelemetryUnavailableError
from .._version import __version__
from ._watch import Watch, watches

__all__ = ["MetricsExport", "export_metrics"]

#: Statement duration buckets, in seconds (0.5 ms to 10 s).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Transaction outcome -> the attribute value exported.
_OUTCOMES = {"commits": "committed", "rollbacks": "rolled_back", "failures": "failed", "prepared": "prepared"}
#: Recorder counter -> (instrument name, description).
_EVENTS = {
    "deadlocks": ("dataflow.deadlocks", "Deadlocks (PostgreSQL SQLSTATE 40P01)."),
    "serialization_failures": ("dataflow.serialization_failures", "Serialization failures (DF-602)."),
    "lock_wait_failures": ("dataflow.lock_wait_failures", "Statements that gave up waiting for a lock."),
    "lost_updates": ("dataflow.lost_updates", "Writes of versioned rows that changed meanwhile (DF-310)."),
}


def _verb(sql: str) -> str:
    """The statement's first keyword (``SELECT``, ``INSERT``, ...): a low-cardinality attribute."""
    head = sql.lstrip().split(None, 1)
    return head[0].upper() if head else ""


class MetricsExport:
    """What :func:`export_metrics` set up; :meth:`close` stops it (the instruments report nothing more).

    Attributes:
        watches: The recorders of the exported instances.
    """

    def __init__(self, meter: Any, recorders: list[Watch], observation: type) -> None:
        self.watches = recorders
        self._observation = observation
        self._closed = False
        histogram = {"unit": "s", "description": "Duration of each statement DataFlow ran."}
        try:  # buckets in seconds (OpenTelemetry API 1.23 and later take the advice)
            self._duration = meter.create_histogram(
                "dataflow.statement.duration", explicit_bucket_boundaries_advisory=BUCKETS, **histogram
            )
        except TypeError:
            self._duration = meter.create_histogram("dataflow.statement.duration", **histogram)
        meter.create_observable_counter(
            "dataflow.transactions",
            callbacks=[self._transactions],
            unit="{transaction}",
            description="Outermost transactions ended, by outcome.",
        )
        meter.create_observable_counter(
            "dataflow.transaction.retries",
            callbacks=[self._retries],
            unit="{transaction}",
            description="Transactions run again after a serialization failure or deadlock.",
        )
        meter.create_observable_up_down_counter(
            "dataflow.transactions.open",
            callbacks=[self._open],
            unit="{transaction}",
            description="Outermost transactions open now.",
        )
        for key, (name, description) in _EVENTS.items():
            meter.create_observable_counter(
                name, callbacks=[self._counter(key)], unit="{event}", description=description
            )
        for recorder in recorders:
            recorder.listeners.append(self._listener(recorder.database))

    def _listener(self, database: str) -> Any:
        def record(sql: str, seconds: float, model: str | None) -> None:
            if not self._closed:
                attributes = {"db.name": database, "db.operation": _verb(sql), "dataflow.model": model or ""}
                self._duration.record(seconds, attributes)

        return record

    def _live(self) -> Iterable[Watch]:
        if self._closed:
            return []
        return [recorder for recorder in self.watches if recorder.alive]

    def _transactions(self, options: Any) -> list[Any]:
        out = []
        for recorder in self._live():
            snapshot = recorder.context.metrics.snapshot()
            for key, outcome in _OUTCOMES.items():
                out.append(self._observation(snapshot[key], {"db.name": recorder.database, "outcome": outcome}))
        return out

    def _retries(self, options: Any) -> list[Any]:
        return [
            self._observation(r.context.metrics.snapshot()["retries"], {"db.name": r.database}) for r in self._live()
        ]

    def _open(self, options: Any) -> list[Any]:
        return [self._observation(len(r.context.open_transactions), {"db.name": r.database}) for r in self._live()]

    def _counter(self, key: str) -> Any:
        def observe(options: Any) -> list[Any]:
            return [self._observation(r.counts[key], {"db.name": r.database}) for r in self._live()]

        return observe

    def close(self) -> None:
        """Stop exporting: the histogram records nothing more and the counters report nothing."""
        self._closed = True


def export_metrics(*databases: Any, meter_provider: Any = None) -> MetricsExport:
    """Export the transaction and statement metrics of ``databases`` through OpenTelemetry.

    Instruments (each with the ``db.name`` attribute, the URL without its password):
    ``dataflow.statement.duration`` (histogram, s; ``db.operation``, ``dataflow.model``),
    ``dataflow.transactions`` (counter; ``outcome``), ``dataflow.transaction.retries``,
    ``dataflow.transactions.open``, ``dataflow.deadlocks``, ``dataflow.serialization_failures``,
    ``dataflow.lock_wait_failures`` and ``dataflow.lost_updates``.

    Args:
        *databases: The DataFlow instances to export (each is watched from now on: ``watch(db)``).
        meter_provider: The SDK ``MeterProvider`` to export through (default: the global one).

    Raises:
        OpenTelemetryUnavailableError: DF-823, OpenTelemetry is not installed.
        InvalidMeterProviderError: DF-824, ``meter_provider`` is not a ``MeterProvider``.
        MonitoredDatabaseError: DF-421, one of ``databases`` is not a DataFlow instance.
    """
    try:
        from opentelemetry import metrics
    except ImportError as exc:
        raise OpenTelemetryUnavailableError(
            f"export_metrics() needs OpenTelemetry, which is not installed ({exc}). Install it with "
            "pip install 'dataflow[otel]'.",
            context={"missing": "opentelemetry-api, opentelemetry-sdk"},
        ) from exc
    if meter_provider is not None and not callable(getattr(meter_provider, "get_meter", None)):
        raise InvalidMeterProviderError(
            f"export_metrics(meter_provider=...) takes an OpenTelemetry MeterProvider, got "
            f"{type(meter_provider).__name__}. Pass MeterProvider(metric_readers=[reader]), not the reader.",
            context={"got": type(meter_provider).__name__},
        )
    recorders = watches(databases)
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    meter = provider.get_meter("dataflow", __version__)
    return MetricsExport(meter, recorders, metrics.Observation)
