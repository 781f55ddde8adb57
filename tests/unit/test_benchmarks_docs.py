"""docs/performance.md is generated from benchmarks/results/latest.json and must match it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import docs  # noqa: E402

LATEST = REPO / "benchmarks" / "results" / "latest.json"
MIGRATIONS = REPO / "benchmarks" / "results" / "migrations.json"
WORKERDB = REPO / "benchmarks" / "results" / "workerdb.json"
PAGE = REPO / "docs" / "performance.md"


def test_performance_page_matches_latest_results() -> None:
    latest = json.loads(LATEST.read_text())
    expected = docs.render(latest, docs.migrations_data(latest, MIGRATIONS), docs.workerdb_data(latest, WORKERDB))
    assert PAGE.read_text() == expected, "docs/performance.md is stale: run python -m benchmarks.docs"


def test_every_result_row_is_on_the_page() -> None:
    page = PAGE.read_text()
    for source in (LATEST, MIGRATIONS, WORKERDB):
        for row in json.loads(source.read_text())["results"]:
            assert f"| {row['backend']} | {row['title']} |" in page
            assert row["status"] in {"PASS", "MISS", "INFO"}


def test_the_migration_rows_cover_every_backend() -> None:
    latest = json.loads(LATEST.read_text())
    section = docs.migrations_data(latest, MIGRATIONS)
    rows = [r for r in (section or latest)["results"] if r["workload"].startswith("migrat")]
    assert {(r["backend"], r["workload"]) for r in rows} == {
        (backend, workload) for backend in ("sqlite-memory", "sqlite-file", "postgresql")
        for workload in ("migrate_10_revisions", "migration_tests_10_revisions")
    }


def test_the_worker_database_rows_cover_both_file_backends() -> None:
    latest = json.loads(LATEST.read_text())
    section = docs.workerdb_data(latest, WORKERDB)
    rows = [r for r in (section or latest)["results"] if r["workload"].startswith("workerdb")]
    assert {(r["backend"], r["workload"]) for r in rows} == {
        (backend, workload) for backend in ("sqlite-file", "postgresql")
        for workload in ("workerdb_build_and_clone", "workerdb_clone", "workerdb_reuse", "workerdb_per_test_xdist")
    }


def test_every_chart_on_the_page_is_a_checked_in_plot_of_the_json() -> None:
    from benchmarks import plots

    latest = json.loads(LATEST.read_text())
    page = PAGE.read_text()
    files = {chart.file for chart in plots.charts(latest)}
    for name in files:
        assert f"]({docs.PLOTS_LINK}/{name})" in page
        assert (plots.PLOTS / name).is_file(), f"{name} is missing: run python -m benchmarks.plots"
        assert (PAGE.parent / docs.PLOTS_LINK / name).is_file(), "docs/performance-plots must link to the plots"
    assert {p.name for p in plots.PLOTS.glob("*.png")} == files, "stale plots: run python -m benchmarks.plots"
    for name in files:  # a drawn chart, not an empty file
        assert (plots.PLOTS / name).stat().st_size > 1000
