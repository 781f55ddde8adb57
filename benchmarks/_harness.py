"""Timing primitives: alternating DataFlow/raw repeats, statistics, PASS/MISS rows."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

Side = Callable[[], float]
"""One timed run: does its own untimed setup, returns the elapsed seconds of the timed part."""


@dataclass
class Stats:
    """Summary of the repeats of one side, in milliseconds (or the row's unit)."""

    median: float
    min: float
    max: float
    samples: list[float]

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        return cls(statistics.median(samples), min(samples), max(samples), [round(s, 4) for s in samples])


@dataclass
class Result:
    """One row of the results table."""

    workload: str  # stable id, e.g. "create_async"
    title: str  # what is measured, for people
    backend: str
    unit: str  # "ms" (per repeat), "ms/test", "MiB"
    ops: int  # operations per repeat (1 for one-shot items)
    df: Stats
    raw: Stats | None
    raw_label: str  # what the raw side does
    target: str  # human-readable target, "" for information only
    limit: float | None = None  # ratio limit (or absolute limit when absolute=True)
    absolute: bool = False  # limit applies to df.median itself, not to the ratio
    status: str = "INFO"  # PASS / MISS / INFO
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self) -> Result:
        if self.raw is not None and self.raw.median > 0:
            self.ratio = self.df.median / self.raw.median
        if self.limit is None:
            self.status = "INFO"
        elif self.absolute:
            self.status = "PASS" if self.df.median <= self.limit else "MISS"
        else:
            self.status = "PASS" if self.ratio is not None and self.ratio <= self.limit else "MISS"
        return self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("df", "raw"):
            if data[key] is not None:
                data[key] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in data[key].items()}
        if self.ratio is not None:
            data["ratio"] = round(self.ratio, 4)
        return data


def alternate(df: Side, raw: Side | None, *, repeats: int, warmup: bool = True) -> tuple[list[float], list[float]]:
    """Run both sides ``repeats`` times, alternating which goes first; return ms samples."""
    if warmup:
        df()
        if raw is not None:
            raw()
    df_ms: list[float] = []
    raw_ms: list[float] = []
    for i in range(repeats):
        order = [(df, df_ms), (raw, raw_ms)]
        if i % 2:
            order.reverse()
        for side, out in order:
            if side is not None:
                out.append(side() * 1000.0)
    return df_ms, raw_ms


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
