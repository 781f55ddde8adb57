"""The charts of the Performance page, drawn from ``benchmarks/results/latest.json`` with matplotlib.

``python -m benchmarks.plots`` (and every ``python -m benchmarks`` that writes ``latest.json``)
writes one PNG per chart into ``benchmarks/results/plots/``, next to the JSON;
``docs/performance-plots`` links to that folder so the page shows them. :func:`charts` says which
charts a JSON has data for without importing matplotlib (the docs generator and the tests use it);
:func:`write_all` draws them. Each chart has one panel per backend with DataFlow and the raw driver
(and SQLAlchemy Core where the rows have it) on the same axes; an axis is logarithmic when its
values span more than a factor of 20.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .scaling import series

HERE = Path(__file__).resolve().parent
LATEST = HERE / "results" / "latest.json"
PLOTS = HERE / "results" / "plots"
BACKEND_ORDER = ("sqlite-memory", "sqlite-file", "postgresql")
LOG_SPAN = 20.0


@dataclass(frozen=True)
class Line:
    """One line of a panel: a series' rows and which side of them (``df``, ``raw`` or ``peer``)."""

    label: str
    series: str
    side: str
    style: str


@dataclass(frozen=True)
class Chart:
    """One PNG: its file name, title, axis labels, lines, and how a row becomes a y value."""

    name: str
    title: str
    xlabel: str
    ylabel: str
    lines: tuple[Line, ...]
    per_op: bool = False  # divide the median by the row's ops (time of one operation)

    @property
    def file(self) -> str:
        return f"{self.name}.png"


CHARTS = (
    Chart("bulk_create", "Bulk create: time per batch", "rows per batch", "ms per batch", (
        Line("DataFlow BulkCreateNode", "bulk_create", "df", "o-"),
        Line("raw executemany", "bulk_create", "raw", "s--"),
        Line("raw COPY (PostgreSQL)", "bulk_create_copy", "raw", "^:"),
        Line("SQLAlchemy Core", "bulk_create", "peer", "d-."),
    )),
    Chart("list_all", "List every row of the table", "rows in the table", "ms per list", (
        Line("DataFlow ListNode", "list_all", "df", "o-"),
        Line("raw fetch + dicts", "list_all", "raw", "s--"),
    ), per_op=True),
    Chart("count", "Count with a filter", "rows in the table", "ms per count", (
        Line("DataFlow CountNode", "count", "df", "o-"),
        Line("raw SELECT COUNT(*)", "count", "raw", "s--"),
    ), per_op=True),
    Chart("memory", "Peak traced memory of reading the whole table", "rows in the table", "MiB (tracemalloc peak)", (
        Line("DataFlow ListNode", "memory_list", "df", "o-"),
        Line("DataFlow db.stream (batches of 1,000)", "memory_stream", "df", "v-"),
        Line("raw fetch (driver rows)", "memory_list", "raw", "s--"),
    )),
    Chart("cleanup_pools", "cleanup_all_pools()", "open pools (one DataFlow instance each)", "ms", (
        Line("DataFlow cleanup_all_pools()", "cleanup_pools", "df", "o-"),
        Line("raw close() of each pool", "cleanup_pools", "raw", "s--"),
    )),
    Chart("per_test", "Per-test cost of an isolated test", "tests in the run", "ms per test", (
        Line("dataflow_isolated", "per_test:raw_function", "df", "o-"),
        Line("raw function-scoped rollback fixture", "per_test:raw_function", "raw", "s--"),
        Line("raw session connection + rollback", "per_test:raw_session", "raw", "^:"),
        Line("dataflow_isolated_session", "per_test:session_raw_session", "df", "v-"),
    )),
)
COLDSTART = Chart("coldstart", "Cold start in a fresh interpreter", "", "ms", ())
COLDSTART_ROWS = ("import", "init_model", "first_operation")


def _points(data: dict[str, Any], chart: Chart, line: Line, backend: str) -> list[tuple[int, float]]:
    rows = series(data).get((backend, line.series), [])
    points = []
    for row in rows:
        stats = row.get(line.side)
        if stats:
            value = stats["median"] / row["ops"] if chart.per_op else stats["median"]
            points.append((row["extra"]["n"], value))
    return points if len(points) >= 2 else []


def backends(data: dict[str, Any]) -> list[str]:
    present = {r["backend"] for r in data["results"]}
    return [b for b in BACKEND_ORDER if b in present]


def charts(data: dict[str, Any]) -> list[Chart]:
    """The charts ``data`` has data for (a curve needs two points or more), in page order."""
    out = [c for c in CHARTS if any(_points(data, c, c.lines[0], b) for b in backends(data))]
    if any(r["workload"] in COLDSTART_ROWS for r in data["results"]):
        out.append(COLDSTART)
    return out


def _draw_curves(plt: Any, ticker: Any, data: dict[str, Any], chart: Chart) -> Any:
    panels = [b for b in backends(data) if _points(data, chart, chart.lines[0], b)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, backend in zip(axes[0], panels, strict=True):
        xs: list[float] = []
        ys: list[float] = []
        for line in chart.lines:
            points = _points(data, chart, line, backend)
            if points:
                x, y = zip(*points, strict=True)
                ax.plot(x, y, line.style, label=line.label, markersize=4)
                xs += x
                ys += y
        for axis, values in ((ax.xaxis, xs), (ax.yaxis, ys)):
            low = min(v for v in values if v > 0) if any(v > 0 for v in values) else 0
            if low and max(values) / low > LOG_SPAN:
                (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
                axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.10g}"))
                axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(backend, fontsize=10)
        ax.set_xlabel(chart.xlabel)
        ax.set_ylabel(chart.ylabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(chart.title)
    return fig


def _draw_coldstart(plt: Any, data: dict[str, Any]) -> Any:
    panels = backends(data)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, backend in zip(axes[0], panels, strict=True):
        rows = {r["workload"]: r for r in data["results"] if r["backend"] == backend}
        names = [n for n in COLDSTART_ROWS if n in rows]
        positions = range(len(names))
        ax.bar([p - 0.2 for p in positions], [rows[n]["df"]["median"] for n in names], 0.4, label="DataFlow")
        ax.bar([p + 0.2 for p in positions], [rows[n]["raw"]["median"] if rows[n]["raw"] else 0 for n in names],
               0.4, label="raw driver")
        ax.set_xticks(list(positions), [n.replace("_", " ") for n in names], fontsize=8)
        ax.set_title(backend, fontsize=10)
        ax.set_ylabel("ms (median)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Cold start: import dataflow, DataFlow() + one model, first operation")
    return fig


def write_all(data: dict[str, Any], folder: Path = PLOTS) -> list[Path]:
    """Draw every chart of :func:`charts` into ``folder``; remove PNGs of charts ``data`` has no data for."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - nox -s bench installs it
        raise SystemExit("benchmarks.plots needs matplotlib (nox -s bench installs it)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in charts(data):
        fig = _draw_coldstart(plt, data) if chart is COLDSTART else _draw_curves(plt, ticker, data, chart)
        fig.tight_layout()
        path = folder / chart.file
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    for stale in set(folder.glob("*.png")) - set(written):
        stale.unlink()
    return written


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else LATEST
    for written in write_all(json.loads(source.read_text())):
        print(written)
