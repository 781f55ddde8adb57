"""The scaling curves of the benchmarks and the charts drawn from them (tiny sizes, SQLite).

They check that every curve gets its points on both sides and which charts the page shows, not how
fast anything is. Drawing the PNGs needs matplotlib, which only ``nox -s bench`` installs; the page
test (test_benchmarks_docs.py) checks that every chart on the page is a checked-in PNG.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import docs, plots, scaling  # noqa: E402
from benchmarks._backends import make_target  # noqa: E402
from benchmarks._harness import Result, Stats  # noqa: E402
from benchmarks.workloads import Sizes  # noqa: E402


def test_scaling_rows_complete_the_curves_of_the_main_rows(tmp_path: Path) -> None:
    target = make_target("sqlite-memory", tmp_path)
    sizes = Sizes.tiny()
    rows = [r.to_json() for r in scaling.measure(target, sizes, log=lambda _: None, per_test=False)]
    assert {r["workload"] for r in rows} == {
        *(f"scale_{s}_{n}" for s in ("list_all", "count") for n in sizes.scale_rows),
        *(f"scale_memory_{s}_{n}" for s in ("list", "stream") for n in sizes.scale_rows if n != sizes.memory_rows),
        *(f"scale_bulk_create_{n}" for n in sizes.scale_rows if n not in sizes.bulk),
        *(f"scale_cleanup_pools_{n}" for n in sizes.scale_pools if n != sizes.pools),
    }
    for r in rows:
        assert r["status"] == "INFO" and r["raw"]["median"] > 0 and r["df"]["median"] > 0
    # The main rows of a series (Suite, test_benchmarks_harness.py) carry the same series keys; here
    # the scaling rows alone: list and count at every size, the others where the main rows are not.
    data = {"results": rows}
    curves = scaling.series(data)
    sizes_of = {key: [r["extra"]["n"] for r in value] for key, value in curves.items()}
    assert sizes_of[("sqlite-memory", "list_all")] == list(sizes.scale_rows)
    assert sizes_of[("sqlite-memory", "memory_stream")] == [n for n in sizes.scale_rows if n != sizes.memory_rows]
    assert sizes_of[("sqlite-memory", "bulk_create")] == [n for n in sizes.scale_rows if n not in sizes.bulk]
    assert sizes_of[("sqlite-memory", "cleanup_pools")] == [n for n in sizes.scale_pools if n != sizes.pools]
    assert [c.name for c in plots.charts(data)] == ["bulk_create", "list_all", "count", "memory"]  # 1 pool point
    main = Result("cleanup_pools", "c", "sqlite-memory", "ms", 2, Stats.of([1.0]), Stats.of([1.0]), "raw", "", None,
                  extra={"series": "cleanup_pools", "n": sizes.pools}).finish().to_json()
    assert "cleanup_pools" in [c.name for c in plots.charts({"results": [*rows, main]})]


def test_per_test_points_are_relabelled_information_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(target: object, *, tests: int, **_: object) -> list[Result]:
        return [Result(f"isolation_{v}", "t", "sqlite-file", "ms/test", tests, Stats.of([2.0]), Stats.of([1.0]),
                       "raw", "<= 1.3x raw", 1.3).finish() for v in ("raw_function", "raw_session")]

    monkeypatch.setattr(scaling.isolation, "measure", fake)
    rows = scaling._per_test(make_target("sqlite-memory"), 100, Sizes.tiny(), log=lambda _: None)
    assert [r.workload for r in rows] == ["scale_per_test_100_raw_function", "scale_per_test_100_raw_session"]
    assert all(r.status == "INFO" and r.limit is None and r.extra["n"] == 100 for r in rows)
    data = {"results": [r.to_json() for r in rows]}
    assert set(scaling.series(data)) == {("sqlite-file", "per_test:raw_function"),
                                        ("sqlite-file", "per_test:raw_session")}


def test_a_curve_needs_two_points_and_the_page_shows_each_chart() -> None:
    def row(workload: str, n: int, series: str) -> dict[str, object]:
        return Result(workload, f"{workload} title", "postgresql", "ms", 1, Stats.of([n / 10]), Stats.of([n / 20]),
                      "raw", "", None, extra={"series": series, "n": n}).finish().to_json()

    one = {"results": [row("bulk_create_1000", 1000, "bulk_create")]}
    assert plots.charts(one) == []
    two = {"results": [*one["results"], row("scale_bulk_create_100000", 100_000, "bulk_create")]}
    assert [c.file for c in plots.charts(two)] == ["bulk_create.png"]
    section = docs.render_scaling(two)
    assert f"]({docs.PLOTS_LINK}/bulk_create.png)" in section
    assert "| postgresql | scale_bulk_create_100000 title |" in section
    assert "| postgresql | bulk_create_1000 title |" not in section  # a main row stays in the main table
    json.dumps(two)


def test_the_claims_section_states_what_the_rows_measured() -> None:
    schema = Result("schema_cache_off", "t", "sqlite-file", "ms", 10, Stats.of([10.0]), Stats.of([2.0]), "raw", "",
                    None, extra={"cache_on": {"median": 1.0, "min": 1.0, "max": 1.0}}).finish().to_json()
    error = Result("error_full", "e", "sqlite-file", "ms/error", 5, Stats.of([0.012]), Stats.of([0.0003]), "raw",
                   "<= 5 ms per error", 5.0, absolute=True).finish().to_json()
    first = Result("first_operation", "f", "sqlite-file", "ms", 1, Stats.of([4.5]), None, "-", "", None).finish()
    section = docs.render_claims({"results": [schema, error, first.to_json()]})
    assert "100 µs per create with the cache, 1,000 µs without: 90% less time per operation with the cache" in section
    assert "table creation included: 4.5 ms" in section
    assert "| sqlite-file | error enhancement, full mode: < 5 ms per error | 12.0 µs per error" in section
    assert docs.render_claims({"results": [first.to_json()]}) == ""
