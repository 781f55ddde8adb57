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
from benchmarks._harness import Result, Stats, alternate, alternate3  # noqa: E402
from benchmarks.workloads import Sizes, Suite  # noqa: E402

INPROC = {"create_async", "create_sync", "schema_cache_off", "read_by_id", "list_filter", "count_filter",
          "count_filter_cached", "memory_list", "memory_stream", "bulk_create_5", "upsert", "workflow_5_nodes",
          "cleanup_pools"}
#: The rows with the SQLAlchemy Core column (benchmarks/peer.py).
PEER = {"create_async", "read_by_id", "list_filter", "count_filter", "bulk_create_5", "upsert"}


@pytest.mark.parametrize("backend", ["sqlite-memory", "sqlite-file"])
def test_every_inprocess_workload_runs_both_sides(backend: str, tmp_path: Path) -> None:
    results = Suite(make_target(backend, tmp_path), Sizes.tiny(), log=lambda _: None).all()
    errors = {"error_full", "error_minimal", "error_disabled"} if backend == "sqlite-memory" else set()
    cdc = {"cdc_read"} if backend == "sqlite-file" else set()  # a change feed needs a database file
    assert {r.workload for r in results} == INPROC | errors | cdc
    for r in results:
        assert r.backend == backend
        assert r.df.median >= 0 and r.raw is not None and r.raw.median >= 0
        assert r.status in {"PASS", "MISS", "INFO"}
        assert (r.peer is not None) == (r.workload in PEER), r.workload
        if r.peer is not None:
            assert r.peer.median > 0 and r.peer_label.startswith("SQLAlchemy 2.x Core")
            assert r.peer_ratio == pytest.approx(r.df.median / r.peer.median)
        json.dumps(r.to_json())
    series = {r.workload: (r.extra["series"], r.extra["n"]) for r in results if "series" in r.extra}
    assert series == {"memory_list": ("memory_list", 50), "memory_stream": ("memory_stream", 50),
                      "bulk_create_5": ("bulk_create", 5), "cleanup_pools": ("cleanup_pools", 2)}
    schema = next(r for r in results if r.workload == "schema_cache_off")
    assert schema.extra["cache_on"]["median"] > 0


def test_isolation_projects_pass_under_pytest(tmp_path: Path) -> None:
    rows = isolation.measure(make_target("sqlite-file", tmp_path), tests=2, repeats=1, warmup=False,
                             log=lambda _: None)
    assert [r.workload for r in rows] == ["isolation_raw_function", "isolation_raw_session",
                                          "isolation_session_raw_session"]
    assert rows[0].target == "<= 1.3x raw" and rows[2].target == "<= 1.3x raw"
    assert rows[1].limit is None


def test_isolation_session_project_uses_the_session_fixture(tmp_path: Path) -> None:
    project = isolation.write_project(tmp_path, "dataflow_session", "sqlite-file", 3)
    assert (project / "test_module.py").read_text().count("(dataflow_isolated_session)") == 3


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


def test_alternate3_rotates_the_three_sides() -> None:
    calls: list[str] = []
    df_ms, raw_ms, peer_ms = alternate3(lambda: calls.append("d") or 0.003, lambda: calls.append("r") or 0.001,
                                        lambda: calls.append("p") or 0.002, repeats=2, warmup=True)
    assert calls == ["d", "r", "p", "d", "r", "p", "p", "r", "d"]
    assert (df_ms, raw_ms, peer_ms) == ([3.0, 3.0], [1.0, 1.0], [2.0, 2.0])


def test_peer_columns_only_when_a_row_has_a_peer() -> None:
    plain = Result("x", "t", "sqlite-file", "ms", 1, Stats.of([2.0]), Stats.of([1.0]), "raw", "", None).finish()
    with_peer = Result("y", "u", "sqlite-file", "ms", 1, Stats.of([2.0]), Stats.of([1.0]), "raw", "", None,
                       peer=Stats.of([4.0]), peer_label="SQLAlchemy").finish()
    assert with_peer.peer_ratio == 0.5
    assert "SQLAlchemy" not in report.markdown_table({"results": [plain.to_json()]})
    table = report.markdown_table({"results": [plain.to_json(), with_peer.to_json()]})
    header, rule, first, second = table.splitlines()
    assert header.count("|") == rule.count("|") == first.count("|") == second.count("|")
    assert "DataFlow/SQLAlchemy" in header and "| 0.50x |" in second and "4.00 [4.00–4.00]" in second


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


def test_the_redis_cached_count_row_runs_both_sides(
    tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """count_filter_cached_redis: the Redis backend's hits against the raw driver, in the same run."""
    from benchmarks.cache import REDIS_ENV, cached_count

    monkeypatch.setenv(REDIS_ENV, redis_url)
    suite = Suite(make_target("sqlite-file", tmp_path), Sizes.tiny(), log=lambda _: None)
    suite.setup()
    try:
        cached_count(suite)
    finally:
        suite.teardown()
    rows = {r.workload: r for r in suite.results}
    assert set(rows) == {"count_filter_cached", "count_filter_cached_redis"}
    assert rows["count_filter_cached_redis"].raw is not None and rows["count_filter_cached_redis"].limit == 1.5
