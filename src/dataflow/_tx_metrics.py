"""Measurements of one DataFlow instance's transactions: counts, outcomes, retries and durations,
in total, per model and per workflow (what TransactionMetricsNode reports).

Every outermost ``db.transaction()`` block (a TransactionContextNode's included) is recorded when it
ends. Durations are kept in bounded windows and the per-workflow table is bounded too, so nothing
grows for the life of the process.
"""

from __future__ import annotations

import contextvars
import math
from collections import OrderedDict, deque
from typing import Any, Protocol

__all__ = ["WORKFLOW", "Labelled", "TransactionMetrics", "workflow_label"]


class Labelled(Protocol):
    """What the runtimes put in :data:`WORKFLOW`: a workflow, which names itself by its label."""

    @property
    def label(self) -> str: ...


#: The workflow the running task executes (set by the runtimes). Its label is read only when a
#: transaction starts, so a run without one never builds it.
WORKFLOW: contextvars.ContextVar[Labelled | None] = contextvars.ContextVar("dataflow_workflow", default=None)


def workflow_label() -> str | None:
    """The label of the workflow the running task executes, or ``None`` outside a run."""
    workflow = WORKFLOW.get()
    return None if workflow is None else workflow.label


#: Durations kept per group for the percentiles.
WINDOW = 10_000
#: Workflows kept (least recently used ones are dropped first).
MAX_WORKFLOWS = 256


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class _Group:
    """The counters and the duration window of one group (all, one model, one workflow)."""

    __slots__ = ("count", "commits", "rollbacks", "failures", "prepared", "retries", "durations")

    def __init__(self) -> None:
        self.count = self.commits = self.rollbacks = self.failures = self.prepared = self.retries = 0
        self.durations: deque[float] = deque(maxlen=WINDOW)

    def add(self, outcome: str, duration: float, retried: bool) -> None:
        self.count += 1
        if outcome == "committed":
            self.commits += 1
        elif outcome == "rolled back":
            self.rollbacks += 1
        elif outcome == "prepared":
            self.prepared += 1
        else:
            self.failures += 1
        self.retries += int(retried)
        self.durations.append(duration)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.durations)
        millis = {
            name: round(_percentile(ordered, fraction) * 1000, 3) if ordered else None
            for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        }
        millis["mean"] = round(sum(ordered) / len(ordered) * 1000, 3) if ordered else None
        return {
            "count": self.count,
            "commits": self.commits,
            "rollbacks": self.rollbacks,
            "failures": self.failures,
            "prepared": self.prepared,
            "retries": self.retries,
            "duration_ms": millis,
        }


class TransactionMetrics:
    """The transaction measurements of one DataFlow instance (``db.transaction_metrics``)."""

    def __init__(self) -> None:
        self._all = _Group()
        self._models: dict[str, _Group] = {}
        self._workflows: OrderedDict[str, _Group] = OrderedDict()

    def record(
        self, *, outcome: str, duration: float, retried: bool, models: set[str], workflow: str | None
    ) -> None:
        """Count one ended transaction.

        Args:
            outcome: ``committed``, ``rolled back``, ``prepared`` or ``failed`` (COMMIT itself failed).
            duration: Seconds from BEGIN to its end.
            retried: True when the block is run again (a serialization failure or deadlock).
            models: The models whose nodes ran inside it.
            workflow: The label of the workflow that ran it, if any.
        """
        self._all.add(outcome, duration, retried)
        for model in models:
            self._models.setdefault(model, _Group()).add(outcome, duration, retried)
        if workflow is not None:
            group = self._workflows.pop(workflow, None) or _Group()
            self._workflows[workflow] = group
            group.add(outcome, duration, retried)
            while len(self._workflows) > MAX_WORKFLOWS:
                self._workflows.popitem(last=False)

    def snapshot(self, *, model: str | None = None, workflow: str | None = None) -> dict[str, Any]:
        """The measurements so far: the totals, ``by_model`` and ``by_workflow`` (only the one
        ``model`` / ``workflow`` when given)."""
        models = {name: group.as_dict() for name, group in sorted(self._models.items()) if model in (None, name)}
        flows = {name: group.as_dict() for name, group in self._workflows.items() if workflow in (None, name)}
        return {**self._all.as_dict(), "by_model": models, "by_workflow": flows}

    def reset(self) -> None:
        """Forget every measurement."""
        self.__init__()  # type: ignore[misc]
