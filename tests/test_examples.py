"""Run the example suites (``examples/``) with real pytest, once per backend.

The docs include these files verbatim, so this test is what keeps the shown code working. Each run
is a separate pytest process, exactly as a reader would start it from the repository root.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def expected_test_count() -> int:
    """The number of test functions in examples/test_*.py (none is parametrized)."""
    count = 0
    for path in sorted(EXAMPLES.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        count += sum(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
            for node in tree.body
        )
    return count


def example_env(database_url: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Do not let the outer run leak into the inner one (xdist worker id, current test).
        if not key.startswith(("PYTEST_", "DATABASE_URL"))
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def test_examples_pass(backend: str, database_url: str) -> None:
    # SQLite: DATABASE_URL unset, so the plugin gives every test its own file in tmp_path.
    # PostgreSQL: DATABASE_URL points at a fresh database made for this test.
    env = example_env(database_url if backend == "postgresql" else None)

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "examples/", "-p", "no:cacheprovider", "-q", "-rfE"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr

    assert proc.returncode != 5, f"pytest collected no tests in examples/:\n{output}"
    assert proc.returncode == 0, f"examples failed on {backend}:\n{output}"
    passed = re.search(r"(\d+) passed", output)
    assert passed, output
    assert int(passed.group(1)) == expected_test_count(), output
