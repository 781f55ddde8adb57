"""DeadlockDetector, RaceConditionDetector and PerformanceAnomalyDetector: what the recorder of
``watch(db)`` kept, read as reports (and, for deadlocks on PostgreSQL, the lock wait graph now).

The nodes of the same names (``DeadlockDetectorNode``, ...) run these classes for the databases a
workflow uses; from Python, build one with the DataFlow instances to look at and ``await check()``.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from .._errors import InvalidMonitorOptionError
from ._watch import Watch, watches

__all__ = [
    "DeadlockDetector",
    "PerformanceAnomalyDetector",
    "RaceConditionDetector",
    "check_count",
    "check_flag",
    "check_positive",
]


def check_positive(value: Any, name: str, where: str) -> float:
    """A number of seconds (or a factor) above 0, else DF-420."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidMonitorOptionError(
            f"{where} option {name!r} must be a number above 0, got {value!r:.60}.",
            context={"option": name, "value": repr(value)[:60], "where": where},
        )
    return float(value)


def check_count(value: Any, name: str, where: str) -> int:
    """An integer of 2 or more, else DF-420."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise InvalidMonitorOptionError(
            f"{where} option {name!r} must be an integer of 2 or more, got {value!r:.60}.",
            context={"option": name, "value": repr(value)[:60], "where": where},
        )
    return value


def check_flag(value: Any, name: str, where: str) -> bool:
    """True or False, else DF-420."""
    if not isinstance(value, bool):
        raise InvalidMonitorOptionError(
            f"{where} option {name!r} must be True or False, got {value!r:.60}.",
            context={"option": name, "value": repr(value)[:60], "where": where},
        )
    return value


def _cycles(edges: list[tuple[int, int]]) -> list[list[int]]:
    """The cycles of a wait graph (each once, starting at its smallest session)."""
    graph: dict[int, list[int]] = defaultdict(list)
    for waiter, blocker in edges:
        graph[waiter].append(blocker)
    found: set[tuple[int, ...]] = set()

    def walk(path: list[int]) -> None:
        for nxt in graph.get(path[-1], []):
            if nxt == path[0]:
                start = path.index(min(path))
                found.add(tuple(path[start:] + path[:start]))
            elif nxt not in path and nxt > path[0]:
                walk([*path, nxt])

    for node in sorted(graph):
        walk([node])
    return [list(cycle) for cycle in sorted(found)]


class DeadlockDetector:
    """Deadlocks (PostgreSQL SQLSTATE 40P01) with what both transactions ran, the lock wait graph now
    (PostgreSQL, from ``pg_locks`` / ``pg_blocking_pids()``) and the lock waits that gave up (SQLite's
    "database is locked", DF-510; a lock wait past a transaction's ``timeout``, DF-603).

    Args:
        *databases: The DataFlow instances to look at (each is watched from now on).
        detection_threshold: Seconds a session may wait for a lock before its wait is an alert.
    """

    WHERE = "DeadlockDetector"

    def __init__(self, *databases: Any, detection_threshold: float = 5.0) -> None:
        self.watches = watches(databases)
        self.detection_threshold = check_positive(detection_threshold, "detection_threshold", self.WHERE)

    async def lock_waits(self, recorder: Watch) -> list[dict[str, Any]] | None:
        """Who waits for whom on ``recorder``'s database right now (``None``: it has no lock table)."""
        context = recorder.context
        sql = context.backend.lock_waits_query()
        if sql is None:
            return None
        async with context.connection() as connection:
            rows = await connection.fetch(sql)
        waits = [
            {
                "database": recorder.database,
                "waiting_session": int(waiter),
                "waiting_query": waiting_query,
                "blocking_session": int(blocker),
                "blocking_query": blocking_query,
                "wait_s": round(float(waited or 0.0), 3),
                "lock_type": lock_type,
                "mode": mode,
            }
            for waiter, waiting_query, blocker, blocking_query, waited, lock_type, mode in rows
        ]
        recorder.seen_waiting.clear()
        for wait in waits:
            recorder.seen_waiting[wait["waiting_session"]] = wait["waiting_query"]
            recorder.seen_waiting[wait["blocking_session"]] = wait["blocking_query"]
        return waits

    async def check(self, *, reset: bool = False) -> dict[str, Any]:
        """``deadlocks`` (count), ``reports`` (each with ``transactions``: session, statements, the
        ``statement`` it was blocked in), ``lock_waits`` (the graph now), ``cycles``, ``alerts`` (waits
        of at least ``detection_threshold`` s) and ``lock_wait_failures``. ``reset``: forget the reports."""
        waits: list[dict[str, Any]] = []
        graph_read = False
        for recorder in self.watches:
            found = await self.lock_waits(recorder)
            if found is not None:
                graph_read = True
                waits.extend(found)
        edges = [(w["waiting_session"], w["blocking_session"]) for w in waits]
        reports = [dict(e) for r in self.watches for e in r.events if e["kind"] == "deadlock"]
        out = {
            "deadlocks": sum(r.counts["deadlocks"] for r in self.watches),
            "reports": reports,
            "lock_waits": waits,
            "lock_graph": graph_read,
            "cycles": _cycles(edges),
            "alerts": [w for w in waits if w["wait_s"] >= self.detection_threshold],
            "lock_wait_failures": sum(r.counts["lock_wait_failures"] for r in self.watches),
            "lock_wait_events": [dict(e) for r in self.watches for e in r.events if e["kind"] == "lock_wait"],
        }
        if reset:
            for recorder in self.watches:
                recorder.forget("deadlock", "lock_wait")
        return out


class RaceConditionDetector:
    """Serialization failures (DF-602), lost updates caught by versioned rows (DF-310), and rows that
    different transactions wrote within ``window`` seconds of each other.

    Args:
        *databases: The DataFlow instances to look at (each is watched from now on).
        window: Seconds within which two writers of the same row count as concurrent.
    """

    WHERE = "RaceConditionDetector"

    def __init__(self, *databases: Any, window: float = 1.0) -> None:
        self.watches = watches(databases)
        self.window = check_positive(window, "window", self.WHERE)

    def concurrent_writes(self) -> list[dict[str, Any]]:
        """Rows written by two or more transactions (or statements outside one) within the window."""
        found = []
        for recorder in self.watches:
            rows: dict[tuple[str, Any], list[tuple[str, float, str | None]]] = defaultdict(list)
            for model, row_id, writer, at, workflow in recorder.writes:
                rows[(model, row_id)].append((writer, at, workflow))
            for (model, row_id), writes in rows.items():
                writes.sort(key=lambda w: w[1])
                involved: set[int] = set()
                for i in range(1, len(writes)):
                    j = i - 1
                    while j >= 0 and writes[i][1] - writes[j][1] <= self.window:  # sorted: stop past the window
                        if writes[i][0] != writes[j][0]:
                            involved |= {i, j}
                        j -= 1
                if not involved:
                    continue
                found.append(
                    {
                        "database": recorder.database,
                        "model": model,
                        "id": row_id,
                        "writers": [
                            {"writer": writer, "at": at, "workflow": workflow}
                            for writer, at, workflow in (writes[k] for k in sorted(involved))
                        ],
                    }
                )
        return found

    def check(self, *, reset: bool = False) -> dict[str, Any]:
        """``serialization_failures``, ``lost_updates``, ``concurrent_writes``, ``events`` (each
        failure with the statements its transaction ran) and ``count`` (all three together)."""
        concurrent = self.concurrent_writes()
        events = [
            dict(e) for r in self.watches for e in r.events if e["kind"] in ("serialization_failure", "lost_update")
        ]
        failures = sum(r.counts["serialization_failures"] for r in self.watches)
        lost = sum(r.counts["lost_updates"] for r in self.watches)
        if reset:
            for recorder in self.watches:
                recorder.forget("serialization_failure", "lost_update")
                recorder.writes.clear()
        return {
            "serialization_failures": failures,
            "lost_updates": lost,
            "concurrent_writes": concurrent,
            "events": events,
            "count": failures + lost + len(concurrent),
        }


class PerformanceAnomalyDetector:
    """Statements that ran much slower than their own rolling baseline.

    A run of a statement (its SQL text, so one node operation is one statement) is an outlier when
    at least ``min_samples`` runs of it in the ``baseline_window`` seconds before it give a baseline,
    and it took longer than that baseline's mean plus ``sensitivity`` standard deviations and at
    least twice the mean.

    Args:
        *databases: The DataFlow instances to look at (each is watched from now on).
        baseline_window: Seconds of earlier runs a run is compared with.
        sensitivity: Standard deviations above the mean a run must be to be an outlier.
        min_samples: Earlier runs needed in the window before a run can be judged.
    """

    WHERE = "PerformanceAnomalyDetector"

    def __init__(
        self, *databases: Any, baseline_window: float = 300.0, sensitivity: float = 3.0, min_samples: int = 5
    ) -> None:
        self.watches = watches(databases)
        self.baseline_window = check_positive(baseline_window, "baseline_window", self.WHERE)
        self.sensitivity = check_positive(sensitivity, "sensitivity", self.WHERE)
        self.min_samples = check_count(min_samples, "min_samples", self.WHERE)

    def _outliers(self, database: str, sql: str, runs: list[tuple[float, float, str | None]]) -> list[dict[str, Any]]:
        found = []
        start = 0
        for i, (at, seconds, model) in enumerate(runs):
            while runs[start][0] < at - self.baseline_window:
                start += 1
            baseline = [s for _, s, _ in runs[start:i]]
            if len(baseline) < self.min_samples:
                continue
            mean = statistics.fmean(baseline)
            spread = statistics.pstdev(baseline)
            if seconds > mean + self.sensitivity * spread and seconds >= 2 * mean:
                found.append(
                    {
                        "database": database,
                        "statement": sql,
                        "model": model,
                        "at": at,
                        "duration_ms": round(seconds * 1000, 3),
                        "baseline_mean_ms": round(mean * 1000, 3),
                        "baseline_stdev_ms": round(spread * 1000, 3),
                        "baseline_samples": len(baseline),
                        "ratio": round(seconds / mean, 1) if mean > 0 else None,
                    }
                )
        return found

    def check(self, *, reset: bool = False) -> dict[str, Any]:
        """``outliers`` (slowest first: statement, duration_ms, baseline_mean_ms, ratio, ...),
        ``operations`` (per statement: runs, mean_ms, p95_ms, max_ms) and ``count``."""
        outliers: list[dict[str, Any]] = []
        operations: list[dict[str, Any]] = []
        for recorder in self.watches:
            for sql, kept in list(recorder.samples.items()):
                runs = list(kept)
                outliers.extend(self._outliers(recorder.database, sql, runs))
                durations = sorted(s for _, s, _ in runs)
                operations.append(
                    {
                        "database": recorder.database,
                        "statement": sql,
                        "model": runs[-1][2],
                        "runs": len(runs),
                        "mean_ms": round(statistics.fmean(durations) * 1000, 3),
                        "p95_ms": round(durations[max(0, math.ceil(0.95 * len(durations)) - 1)] * 1000, 3),
                        "max_ms": round(durations[-1] * 1000, 3),
                    }
                )
            if reset:
                recorder.samples.clear()
        outliers.sort(key=lambda o: -o["duration_ms"])
        return {"outliers": outliers, "operations": operations, "count": len(outliers)}
