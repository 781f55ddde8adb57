"""The results table (terminal and Markdown) and the JSON document."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from typing import Any


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MiB":
        return f"{value:.2f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.1f}"


def _per_op(stats: dict[str, Any] | None, row: dict[str, Any]) -> str:
    if stats is None:
        return "-"
    if row["unit"] != "ms" or row["ops"] <= 1:
        return "-"
    return f"{stats['median'] / row['ops'] * 1000:,.1f}"


def rows_for_table(data: dict[str, Any]) -> list[list[str]]:
    """Table rows: backend, workload, DataFlow median [min-max], raw median [min-max], µs/op, ratio, target, status."""
    out = []
    for r in data["results"]:
        df, raw = r["df"], r["raw"]
        unit = r["unit"]
        df_cell = f"{_num(df['median'], unit)} [{_num(df['min'], unit)}–{_num(df['max'], unit)}]"
        raw_cell = (f"{_num(raw['median'], unit)} [{_num(raw['min'], unit)}–{_num(raw['max'], unit)}]"
                    if raw else "-")
        per_op = f"{_per_op(df, r)} / {_per_op(raw, r)}" if unit == "ms" and r["ops"] > 1 else "-"
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "-"
        out.append([r["backend"], r["title"], unit, df_cell, raw_cell, per_op, ratio, r["target"] or "-",
                    r["status"]])
    return out


HEADERS = ["backend", "workload", "unit", "DataFlow median [min–max]", "raw median [min–max]",
           "µs/op DataFlow / raw", "DataFlow/raw", "target", "status"]


def text_table(data: dict[str, Any]) -> str:
    rows = [HEADERS] + rows_for_table(data)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(data: dict[str, Any]) -> str:
    rows = rows_for_table(data)
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 4 + ["---"] * 2) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def summary(data: dict[str, Any]) -> dict[str, int]:
    counts = {"PASS": 0, "MISS": 0, "INFO": 0}
    for r in data["results"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def machine() -> dict[str, Any]:
    """A description of the machine and software the run used."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "sqlite": __import__("sqlite3").sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }
    for name in ("aiosqlite", "asyncpg", "pytest", "pytest_asyncio"):
        try:
            from importlib.metadata import version

            info[name] = version(name.replace("_", "-"))
        except Exception:
            info[name] = None
    info["argv"] = " ".join(["python -m benchmarks"] + sys.argv[1:])
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
