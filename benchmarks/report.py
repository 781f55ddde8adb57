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


def _cell(stats: dict[str, Any] | None, unit: str) -> str:
    if not stats:
        return "-"
    return f"{_num(stats['median'], unit)} [{_num(stats['min'], unit)}–{_num(stats['max'], unit)}]"


def has_peer(data: dict[str, Any]) -> bool:
    """True when a row of ``data`` has the peer column (SQLAlchemy Core)."""
    return any(r.get("peer") for r in data["results"])


def headers(data: dict[str, Any]) -> list[str]:
    """The table's columns; the peer's two only when a row of ``data`` has them."""
    if not has_peer(data):
        return HEADERS
    return HEADERS[:5] + PEER_HEADERS[:1] + HEADERS[5:7] + PEER_HEADERS[1:] + HEADERS[7:]


def rows_for_table(data: dict[str, Any]) -> list[list[str]]:
    """Table rows: backend, workload, DataFlow median [min-max], raw median [min-max], (SQLAlchemy
    median [min-max],) µs/op, ratio, (ratio to SQLAlchemy,) target, status."""
    peer = has_peer(data)
    out = []
    for r in data["results"]:
        df, raw = r["df"], r["raw"]
        unit = r["unit"]
        per_op = f"{_per_op(df, r)} / {_per_op(raw, r)}" if unit == "ms" and r["ops"] > 1 else "-"
        ratio = f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "-"
        row = [r["backend"], r["title"], unit, _cell(df, unit), _cell(raw, unit), per_op, ratio]
        if peer:
            peer_ratio = f"{r['peer_ratio']:.2f}x" if r.get("peer_ratio") is not None else "-"
            row[5:5] = [_cell(r.get("peer"), unit)]
            row.append(peer_ratio)
        out.append(row + [r["target"] or "-", r["status"]])
    return out


HEADERS = ["backend", "workload", "unit", "DataFlow median [min–max]", "raw median [min–max]",
           "µs/op DataFlow / raw", "DataFlow/raw", "target", "status"]
PEER_HEADERS = ["SQLAlchemy Core median [min–max]", "DataFlow/SQLAlchemy"]


def text_table(data: dict[str, Any]) -> str:
    rows = [headers(data)] + rows_for_table(data)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(data: dict[str, Any]) -> str:
    rows = rows_for_table(data)
    head = headers(data)
    align = ["---"] * 3 + ["---:"] * (len(head) - 5) + ["---"] * 2
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
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
