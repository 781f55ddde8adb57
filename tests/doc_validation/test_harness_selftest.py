"""The harness must fail on drift: each fixture page breaks one rule and must fail with its page:line.

Each case runs the harness (test_doc_blocks.py) in a pytest subprocess on one page of the fixture site
tests/doc_validation/fixtures/site, reusing this session's PostgreSQL server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _subprocess import child_env

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE_CONFIG = HERE / "fixtures" / "site" / "mkdocs.yml"


def run_harness(page: str, admin_url: str, *extra: str, fork: bool = False) -> subprocess.CompletedProcess[str]:
    # CI=true: a missing PostgreSQL must fail the inner run, not skip it. A drift case runs a block or
    # two: starting the fork server would cost more than it saves (the good page runs through it).
    env = child_env(DATAFLOW_TEST_POSTGRES_URL=admin_url, CI="true", DOCVAL_FORK="1" if fork else "0")
    cmd = [sys.executable, "-m", "pytest", str(HERE / "test_doc_blocks.py"), "-p", "no:randomly", "-p", "no:xdist",
           "-p", "no:cacheprovider", "--docs-config", str(FIXTURE_CONFIG), "--docs-page", page, "-rA", *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


CASES = [
    pytest.param("bad_output.md", ["docs/bad_output.md:4: printed output differs from the #> comments",
                                   "-#> 5", "+#> 4"], id="changed-output"),
    pytest.param("bad_cli_output.md", ["docs/bad_cli_output.md:8: terminal output differs from a real run",
                                       "-No problems found.", "+1 problem found."], id="changed-cli-output"),
    pytest.param("bad_placeholder.md", ["docs/bad_placeholder.md:3: forbidden placeholder phrase 'coming soon'"],
                 id="forbidden-phrase"),
    pytest.param("bad_toplevel_await.md", ["docs/bad_toplevel_await.md:3: unclassified block (python)",
                                           "top-level await: pasted into a .py file this is a SyntaxError"],
                 id="top-level-await"),
    pytest.param("bad_lint.md", ["docs/bad_lint.md:3: ruff rejects the block",
                                 "docs/bad_lint.md:4:8: F401 [*] `json` imported but unused"], id="ruff-lint"),
    pytest.param("bad_format.md", ["docs/bad_format.md:3: black rejects the block", "+total = sum([1, 2])"],
                 id="format-check"),
    pytest.param("bad_workflow.md", ["docs/bad_workflow.md:3 [.github/workflows/tests.yml]: actionlint rejects",
                                     "docs/bad_workflow.md:7:"], id="workflow-block"),
    pytest.param("bad_raises.md", ["docs/bad_raises.md:3: the example raised",
                                   'File "docs/bad_raises.md", line 5 [example]', "KeyError: 'b'"],
                 id="unexpected-exception"),
    pytest.param("bad_crash.md", ["docs/bad_crash.md:6: the example did not finish (pytest exit 3"],
                 id="runner-crash"),
    pytest.param("bad_unclassified.md", ["docs/bad_unclassified.md:5: unclassified block (rust)",
                                         'unknown language "rust"'], id="unclassified-block"),
    pytest.param("bad_antipattern.md", ['docs/bad_antipattern.md:3: documented to fail (expect="fail") but it ran '
                                        "without an exception"], id="anti-pattern-passes"),
    pytest.param("bad_snippet.md", ["docs/bad_snippet.md:7: the block differs from examples/sample.py",
                                    "-print(url.split(\":\", 1)[0] in {\"sqlite\", \"postgresql\"})"],
                 id="snippet-drift"),
    pytest.param("bad_anchor.md", ["docs/bad_anchor.md:4: broken anchor 'good.md#no-such-section'",
                                   "Doc file 'bad_anchor.md' contains a link 'good.md#no-such-section'"],
                 id="broken-anchor"),
    pytest.param("bad_pg_only.md", ["docs/bad_pg_only.md:15 [test_dialect.py::test_written_for_sqlite_only]: failed",
                                    "FAILED tests/doc_validation/test_doc_blocks.py::test_block_runs["
                                    "docs/bad_pg_only.md:3 project=default-postgresql]",
                                    "PASSED tests/doc_validation/test_doc_blocks.py::test_block_runs["
                                    "docs/bad_pg_only.md:3 project=default-sqlite]"], id="fails-only-on-postgresql"),
]


@pytest.mark.parametrize(("page", "expected"), CASES)
def test_harness_fails_on_drift(page: str, expected: list[str], postgres_server: object) -> None:
    proc = run_harness(page, postgres_server.admin_url)  # type: ignore[attr-defined]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    for text in expected:
        assert text in output, f"missing {text!r} in:\n{output}"


def test_harness_passes_a_correct_page(postgres_server: object) -> None:
    """The good page (every action, both backends, expected failures) passes, so the cases above fail
    for their own reason."""
    proc = run_harness("good.md", postgres_server.admin_url, fork=True)  # type: ignore[attr-defined]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "expected failures confirmed: 4" in output, output
    assert "runs on postgresql: passed 7" in output, output
    assert "not run: docs/good.md:" in output and "needs a running web server" in output, output


def test_update_mode_rewrites_output(tmp_path: Path, postgres_server: object) -> None:
    """--update-docs rewrites a drifted #> comment in place; the page then passes."""
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "mkdocs.yml").write_text(FIXTURE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    page = site / "docs" / "page.md"
    page.write_text("# Page\n\n!!! note\n    ```python\n    print(2 + 2)\n    #> 5\n    ```\n", encoding="utf-8")
    env = child_env(DATAFLOW_TEST_POSTGRES_URL=postgres_server.admin_url)  # type: ignore[attr-defined]
    base = [sys.executable, "-m", "pytest", str(HERE / "test_doc_blocks.py"), "-p", "no:randomly", "-p", "no:xdist",
            "-p", "no:cacheprovider", "--docs-config", str(site / "mkdocs.yml"), "-k", "test_block_runs"]
    first = subprocess.run([*base, "--update-docs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert page.read_text(encoding="utf-8") == (
        "# Page\n\n!!! note\n    ```python\n    print(2 + 2)\n    #> 4\n    ```\n"
    )
    second = subprocess.run(base, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout + second.stderr
