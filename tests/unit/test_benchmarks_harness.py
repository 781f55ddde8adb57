"""Smoke tests of the benchmark harness: one tiny iteration of every workload on SQLite.

They check that each workload runs both sides (DataFlow and the raw driver) and produces a
well-formed row, not how fast anything is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import coldstart, isolation, migrations, report, workerdb  # noqa: E402
from benchmarks._backends import make_target, postgres_url_from_env  # noqa: E402
from benchmarks._harness import Result, Stats, alternate  # noqa: E402
from benchmarks.workloads import Sizes, Suite  # noqa: E402

INPROC = {"create_async", "create_sync", "read_by_id", "list_filter", "count_filter", "count_filter_cached",
          "memory_list", "memory_stream", "bulk_create_5", "upsert", "workflow_5_nodes", "cleanup_pools"}


@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file"])
def test_every_inprocess_workload_runs_both_sides(backend: str, tmp_path: Path) -> None:
    results = Suite(make_target(backend, tmp_path), Sizes.tiny(), log=lambda _: None).all()
    errors = {"error_full", "error_minimal", "error_disabled"} if backend == "sqlite-memory" else set()
    assert {r.workload for r in results} == INPROC | errors
    for r in results:
        assert r.backend == backend
        assert r.df.median >= 0 and r.raw is not None and r.raw.median >= 0
        assert r.status in {"PASS", "MISS", "INFO"}
        json.dumps(r.to_json())


def test_isolation_projects_pass_under_pytest(tmp_path: Path) -> None:
    rows = isolation.measure(make_target("sqlite-file", tmp_path), tests=2, repeats=1, warmup=False,
                             log=lambda _: None)
    assert [r.workload for r in rows] == ["isolation_raw_function", "isolation_raw_session"]
    assert rows[0].target == "<= 1.3x raw"


def test_isolation_project_uses_the_documented_fixture(tmp_path: Path) -> None:
    project = isolation.write_project(tmp_path, "dataflow", "sqlite-file", 3)
    assert 'pytest_plugins = ["dataflow.testing"]' in (project / "conftest.py").read_text()
    assert (project / "test_module.py").read_text().count("(dataflow_isolated)") == 3


def test_coldstart_rows(tmp_path: Path) -> None:
    rows = coldstart.measure(make_target("sqlite-file", tmp_path), repeats=1, log=lambda _: None)
    assert [r.workload for r in rows] == ["import", "init_model", "first_operation"]
    assert rows[0].absolute and rows[0].limit == 100.0
    assert rows[2].absolute and rows[2].limit == 30.0


@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file"])
def test_migration_rows(backend: str, tmp_path: Path) -> None:
    rows = migrations.measure(make_target(backend, tmp_path), repeats=1, warmup=False, log=lambda _: None)
    assert [r.workload for r in rows] == ["migrate_10_revisions", "migration_tests_10_revisions"]
    assert rows[0].raw is not None and rows[0].limit == migrations.MIGRATE
    assert rows[1].absolute and rows[1].limit == migrations.TESTS_MS and rows[1].raw is None


def test_alternate_alternates_and_ratio_status() -> None:
    calls: list[str] = []
    df_ms, raw_ms = alternate(lambda: calls.append("d") or 0.002, lambda: calls.append("r") or 0.001,
                              repeats=3, warmup=False)
    assert calls == ["d", "r", "r", "d", "d", "r"]
    result = Result("x", "x", "sqlite-file", "ms", 1, Stats.of(df_ms), Stats.of(raw_ms), "raw", "<= 1.5x raw",
                    1.5).finish()
    assert result.ratio == pytest.approx(2.0) and result.status == "MISS"
    absolute = Result("y", "y", "sqlite-file", "ms", 1, Stats.of([50.0]), None, "-", "< 100 ms", 100.0,
                      absolute=True).finish()
    assert absolute.status == "PASS" and absolute.ratio is None


def test_report_tables_have_one_row_per_result() -> None:
    data = {"results": [Result("x", "title", "sqlite-file", "ms", 10, Stats.of([2.0]), Stats.of([1.0]), "raw",
                               "<= 1.5x raw", 1.5).finish().to_json()]}
    assert len(report.text_table(data).splitlines()) == 3
    assert "| sqlite-file | title | ms |" in report.markdown_table(data)


def test_postgres_url_from_env() -> None:
    assert postgres_url_from_env({}) is None
    assert postgres_url_from_env({"DATABASE_URL": "sqlite:///x.db"}) is None
    assert postgres_url_from_env({"DATABASE_URL": "postgresql+asyncpg://u@h:1/d"}) == "postgresql://u@h:1/d"
    assert postgres_url_from_env({"DATAFLOW_BENCH_POSTGRES_URL": "postgresql://a@b:2/c",
                                  "DATABASE_URL": "postgresql://x@y:3/z"}) == "postgresql://a@b:2/c"
    assert postgres_url_from_env({"PGHOST": "localhost", "PGPORT": "5433", "PGUSER": "me",
                                  "PGPASSWORD": "p w", "PGDATABASE": "db"}) == "postgresql://me:p%20w@localhost:5433/db"


def test_worker_database_rows_run_both_sides_on_sqlite_files(tmp_path: Path) -> None:
    rows = workerdb.measure_per_run(make_target("sqlite-file", tmp_path), repeats=1, warmup=False)
    assert [r.workload for r in rows] == ["workerdb_build_and_clone", "workerdb_clone", "workerdb_reuse"]
    for r in rows:
        assert r.df.median > 0 and r.raw is not None and r.status == "INFO"
        json.dumps(r.to_json())
    assert workerdb.measure(make_target("sqlite-memory", tmp_path / "memory")) == []
