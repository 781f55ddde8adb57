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
PAGE = REPO / "docs" / "performance.md"


def test_performance_page_matches_latest_results() -> None:
    expected = docs.render(json.loads(LATEST.read_text()))
    assert PAGE.read_text() == expected, "docs/performance.md is stale: run python -m benchmarks.docs"


def test_every_result_row_is_on_the_page() -> None:
    data = json.loads(LATEST.read_text())
    page = PAGE.read_text()
    for row in data["results"]:
        assert f"| {row['backend']} | {row['title']} |" in page
        assert row["status"] in {"PASS", "MISS", "INFO"}
