"""Timing primitives: alternating DataFlow/raw repeats, statistics, PASS/MISS rows."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    peer: Stats | None = None  # the peer library (SQLAlchemy Core) doing the same work, same run
    peer_label: str = ""  # what the peer side does
    peer_ratio: float | None = None  # DataFlow's median / the peer's median

    def finish(self) -> Result:
        if self.raw is not None and self.raw.median > 0:
            self.ratio = self.df.median / self.raw.median
        if self.peer is not None and self.peer.median > 0:
            self.peer_ratio = self.df.median / self.peer.median
        if self.limit is None:
            self.status = "INFO"
        elif self.absolute:
            self.status = "PASS" if self.df.median <= self.limit else "MISS"
        else:
            self.status = "PASS" if self.ratio is not None and self.ratio <= self.limit else "MISS"
        return self

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("df", "raw", "peer"):
            if data[key] is not None:
                data[key] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in data[key].items()}
        for key in ("ratio", "peer_ratio"):
            if data[key] is not None:
                data[key] = round(data[key], 4)
        return data


def alternate(df: Side, raw: Side | None, *, repeats: int, warmup: bool = True) -> tuple[list[float], list[float]]:
    """Run both sides ``repeats`` times, alternating which goes first; return ms samples."""
    df_ms, raw_ms, _ = alternate3(df, raw, None, repeats=repeats, warmup=warmup)
    return df_ms, raw_ms


def alternate3(df: Side, raw: Side | None, peer: Side | None, *, repeats: int,
               warmup: bool = True) -> tuple[list[float], list[float], list[float]]:
    """Like :func:`alternate` with a third side: DataFlow, raw, peer on even repeats, the reverse
    order on odd ones (so no side always runs first or last)."""
    sides: list[tuple[Side | None, list[float]]] = [(df, []), (raw, []), (peer, [])]
    if warmup:
        for side, _ in sides:
            if side is not None:
                side()
    for i in range(repeats):
        for side, out in (reversed(sides) if i % 2 else sides):
            if side is not None:
                out.append(side() * 1000.0)
    return sides[0][1], sides[1][1], sides[2][1]


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def one_cpu(backend: str) -> Iterator[int | None]:
    """Run a SQLite backend's in-process workloads with this thread (and the threads it starts) on one CPU.

    aiosqlite runs every statement on a worker thread. Whether a statement's two thread hand-offs
    cross CPUs is decided by the scheduler per connection, once: a crossing costs an idle-CPU wake-up
    (about 50 µs each way on this VM, against 20 µs for the whole statement on one CPU), so unpinned
    runs gave either side 40 or 150 µs per statement by chance. On one CPU every connection, the raw
    driver's and DataFlow's, gets the same hand-off and the ratio measures DataFlow's own work.
    PostgreSQL is left alone: asyncpg starts no threads and the server needs the other CPU.
    Yields the CPU, or ``None`` when nothing was pinned.
    """
    if not backend.startswith("sqlite") or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)
