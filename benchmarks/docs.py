"""Generate ``docs/performance.md`` from ``benchmarks/results/latest.json`` (the migration and
worker-database sections come from the same run when it has those rows, else from
``benchmarks/results/migrations.json`` / ``workerdb.json``, measured on their own with ``--skip``).

``python -m benchmarks.docs`` writes the page; ``python -m benchmarks.docs --check`` exits 1 when
the page is not what the JSON produces (the unit tests run the same comparison). Never edit the
page by hand: change this generator or rerun ``python -m benchmarks``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .claims import SEED_ERRORS, SEED_SCHEMA_CACHE, schema_cache_claim
from .plots import charts
from .report import has_peer, markdown_table, summary

HERE = Path(__file__).resolve().parent
LATEST = HERE / "results" / "latest.json"
MIGRATIONS = HERE / "results" / "migrations.json"
WORKERDB = HERE / "results" / "workerdb.json"
PAGE = HERE.parent / "docs" / "performance.md"
PLOTS_LINK = "performance-plots"  # docs/performance-plots -> ../benchmarks/results/plots
SCALE = "scale_"
PEER_NOTE = """
A third column shows a peer doing the same work in the same alternation: SQLAlchemy 2.x Core
(`AsyncEngine` on the same driver, writes in `engine.begin()`, rows as dicts; `benchmarks/peer.py`),
for single create, read, list, count, bulk create and upsert. `DataFlow/SQLAlchemy` below 1 means
DataFlow took less time.
"""

TARGETS = """| what | target (median, DataFlow ÷ raw in the same run) |
|---|---|
| single operations (create, read, list, count, upsert, 5-node workflow) | ≤ 1.5× raw |
| bulk create (1,000 and 10,000 rows) | ≤ 1.2× `executemany`; on PostgreSQL also ≤ 1.2× `COPY` for 10,000 rows |
| per-test isolation (`dataflow_isolated`) | ≤ 1.3× a hand-made function-scoped rollback fixture |
| per-test isolation on the session loop (`dataflow_isolated_session`, 200 and 2,000 tests) \
| ≤ 1.3× a hand-made session-connection rollback fixture |
| `import dataflow` | < 100 ms |
| first operation, table creation included | < 30 ms on SQLite |
| `cleanup_all_pools()` of 100 pools | < 100 ms |"""


def render_migrations(data: dict[str, Any]) -> str:
    """The section of the migration rows (described by the JSON of the run that measured them)."""
    m = data["machine"]
    counts = summary(data)
    return f"""
## Migrations

What the migration engine and the plugin's migration tests cost, on a 10-revision history over three
tables (`benchmarks/migrations.py`). `db.migrate()` is compared with the same DDL run by hand, one
transaction and one version row per revision; the five ready-made tests
(`from dataflow.testing.migrations import *`) have an absolute target, so they stay cheap enough for
every suite. These rows come from the run `{m['argv']}` ({data['mode']}, {data['sizes']['repeats']}
repeats), {data['generated']}, load average {m.get('load_average_at_start')} at the start;
**{counts['PASS']} PASS, {counts['MISS']} MISS**.

{markdown_table(data)}
"""


def render_workerdb(data: dict[str, Any]) -> str:
    """The section of the worker-database rows (described by the JSON of the run that measured them)."""
    m = data["machine"]
    return f"""
## Worker databases

What the plugin's per-worker databases cost (`benchmarks/workerdb.py`): per run, building the
template and cloning the first worker, cloning each further worker, and a `--dataflow-reuse-db` run
that finds the schema unchanged, each compared with creating the database and its tables by hand;
per test, `dataflow_isolated` on reused worker databases under `-n 2`, compared with a hand-made
function-scoped rollback fixture under `-n 2`. These rows come from the run
`{m['argv']}` ({data['mode']}, {data['sizes']['repeats']} repeats), {data['generated']}, load average
{m.get('load_average_at_start')} at the start. They are for information (no target).

{markdown_table(data)}
"""


def _part(data: dict[str, Any], scale: bool) -> dict[str, Any]:
    """``data`` with only its scaling rows (``scale=True``) or only the others."""
    return dict(data, results=[r for r in data["results"] if r["workload"].startswith(SCALE) == scale])


def render_scaling(data: dict[str, Any]) -> str:
    """The charts drawn from ``data`` (``benchmarks/plots.py``) and the rows only the curves use."""
    images = "\n\n".join(f"![{c.title}]({PLOTS_LINK}/{c.file})" for c in charts(data))
    if not images:
        return ""
    rows = _part(data, True)
    table = f"\n\nThe points of the curves that the table above does not have:\n\n{markdown_table(rows)}\n" if rows[
        "results"] else "\n"
    return f"""
## How cost grows with work

Each chart is drawn from this run's JSON by `python -m benchmarks.plots` (DataFlow and the raw driver on
the same axes, one panel per backend; an axis is logarithmic when its values span more than 20×). The
points come from the rows above and from the scaling rows below (`benchmarks/scaling.py`; information,
no target).

{images}{table}"""


def render_claims(data: dict[str, Any]) -> str:
    """The seeds' performance claims next to what this run measured."""
    lines = []
    first = {r["backend"]: r["df"]["median"] for r in data["results"] if r["workload"] == "first_operation"}
    for row in data["results"]:
        if row["workload"] == "schema_cache_off":
            cold = (f"; the first operation of a fresh process, table creation included: "
                    f"{first[row['backend']]:,.1f} ms" if row["backend"] in first else "")
            lines.append(f"| {row['backend']} | {SEED_SCHEMA_CACHE} | {schema_cache_claim(row)}{cold} |")
    for row in data["results"]:
        mode = row["workload"].removeprefix("error_")
        if row["workload"].startswith("error_") and mode in SEED_ERRORS:
            lines.append(f"| {row['backend']} | error enhancement, {mode} mode: {SEED_ERRORS[mode]} | "
                         f"{row['df']['median'] * 1000:,.1f} µs per error raised by validation and printed "
                         f"(a plain `ValueError`: {row['raw']['median'] * 1000:,.1f} µs) |")
    if not lines:
        return ""
    return """
## The seeds' claims, measured

The documents DataFlow started from state these numbers; this run measured them (rows
`schema_cache_off` and `error_*` above).

| backend | claim | measured |
|---|---|---|
""" + "\n".join(lines) + "\n"


def render(
    data: dict[str, Any], migrations: dict[str, Any] | None = None, workerdb: dict[str, Any] | None = None
) -> str:
    m = data["machine"]
    counts = summary(data)
    pg = m.get("postgresql")
    pg_line = ""
    if pg:
        settings = ", ".join(f"{k}={v}" for k, v in pg["settings"].items())
        pg_line = f"- PostgreSQL {pg['version']} ({settings})\n"
    versions = (
        f"Python {m['python']}, SQLite {m['sqlite']}, aiosqlite {m['aiosqlite']}, asyncpg {m['asyncpg']}, "
        f"pytest {m['pytest']}, pytest-asyncio {m['pytest_asyncio']}"
    )
    load = (
        f"load average when the run started: {m.get('load_average_at_start')} "
        "(the machine is shared; that is why medians are used)"
    )
    peer_note = PEER_NOTE if has_peer(data) else ""
    notes = "".join(f"- {note}\n" for note in data.get("notes", []))
    misses = [r for r in data["results"] if r["status"] == "MISS"]
    miss_lines = "".join(
        f"- {r['backend']}: {r['title']} — {r['ratio']:.2f}× raw (target {r['target']})\n"
        if r.get("ratio") is not None and not r.get("absolute") else
        f"- {r['backend']}: {r['title']} — {r['df']['median']:.1f} {r['unit']} (target {r['target']})\n"
        for r in misses
    ) or "- none\n"
    return f"""# Performance

<!-- Generated by `python -m benchmarks.docs` from benchmarks/results/latest.json. Do not edit by hand. -->

DataFlow is measured against the raw drivers (aiosqlite, asyncpg) doing the same SQL work, in the
same process, alternating between the two, {data['sizes']['repeats']} timed repeats after a warm-up.
The tables show the **median** and the **min–max** of the repeats; the ratio is DataFlow's median
divided by the raw driver's median. Reproduce with `python -m benchmarks` (or `nox -s bench`); how
each workload is built is described in `benchmarks/README.md`.
{peer_note}
Result of this run: **{counts['PASS']} PASS, {counts['MISS']} MISS** ({counts['INFO']} rows are for information).

## Targets

{TARGETS}

## Machine

- {m['cpu']}, {m['nproc']} cores, {m['platform']}
- {versions}
{pg_line}- {load}
- run: `{m['argv']}` ({data['mode']}), {data['generated']}, {data['elapsed_s']} s
{notes}
## Results

Units: `ms` is the time of one repeat (all `ops` operations), `ms/test` the cost of one test,
`MiB` the peak of traced allocations.

{markdown_table(_part(data, False))}

## Targets missed in this run

{miss_lines}
Why they are missed and what the remaining cost is: see `benchmarks/README.md`, "Where the time goes".
""" + render_claims(data) + render_scaling(data) + (render_migrations(migrations) if migrations else "") + (
        render_workerdb(workerdb) if workerdb else "")


def _section_data(latest: dict[str, Any], prefix: str, source: Path) -> dict[str, Any] | None:
    """The rows a section shows: ``latest``'s own rows of the group when the run has them (a full
    run does; they are in the main table too), else the group's run of its own in ``source``."""
    rows = [r for r in latest["results"] if r["workload"].startswith(prefix)]
    if rows:
        return dict(latest, results=rows)
    if not source.exists():
        return None
    data: dict[str, Any] = json.loads(source.read_text())
    return data


def migrations_data(latest: dict[str, Any], source: Path = MIGRATIONS) -> dict[str, Any] | None:
    """The run the "Migrations" section shows (guides link to its anchor)."""
    return _section_data(latest, "migrat", source)


def workerdb_data(latest: dict[str, Any], source: Path = WORKERDB) -> dict[str, Any] | None:
    """The run the "Worker databases" section shows (guides link to its anchor)."""
    return _section_data(latest, "workerdb", source)


def write(path: Path = PAGE, source: Path = LATEST, migrations: Path = MIGRATIONS, workerdb: Path = WORKERDB) -> Path:
    data = json.loads(source.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data, migrations_data(data, migrations), workerdb_data(data, workerdb)))
    return path


def check(path: Path = PAGE, source: Path = LATEST, migrations: Path = MIGRATIONS, workerdb: Path = WORKERDB) -> bool:
    data = json.loads(source.read_text())
    expected = render(data, migrations_data(data, migrations), workerdb_data(data, workerdb))
    return path.exists() and path.read_text() == expected


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        ok = check()
        print("docs/performance.md matches results/latest.json" if ok else
              "docs/performance.md is out of date: run python -m benchmarks.docs")
        sys.exit(0 if ok else 1)
    print(write())
