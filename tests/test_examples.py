"""Run the example suites (``examples/``) with real pytest, once per backend.

The docs include these files verbatim, so this test is what keeps the shown code working. Each run
is a separate pytest process, exactly as a reader would start it from the repository root.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from _postgres import PostgresServer
from _subprocess import child_env

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
    """The outer run does not leak into the inner one (xdist worker id, current test, its database)."""
    return child_env(DATABASE_URL=database_url)


def run_examples(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "examples/", "-p", "no:cacheprovider", "-q", "-rfE", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 5, f"pytest collected no tests in examples/:\n{output}"
    assert proc.returncode == 0, f"examples failed:\n{output}"
    passed = re.search(r"(\d+) passed", output)
    assert passed, output
    assert int(passed.group(1)) == expected_test_count(), output
    return output


def test_examples_pass(backend: str, database_url: str) -> None:
    # SQLite: DATABASE_URL unset, so the plugin gives every test its own file in tmp_path.
    # PostgreSQL: DATABASE_URL points at a fresh database made for this test.
    run_examples(example_env(database_url if backend == "postgresql" else None))


def test_examples_pass_in_parallel_on_postgresql(postgres_server: PostgresServer, postgres_url: str) -> None:
    """PostgreSQL only: with xdist, dataflow_url gives each worker its own database (<name>_gwN),
    cloned from <name>_template."""
    name = urlsplit(postgres_url).path.lstrip("/")
    workers = [f"{name}_gw0", f"{name}_gw1", f"{name}_template"]
    try:
        run_examples(example_env(postgres_url), "-n", "2")
        assert all(postgres_server.database_exists(db) for db in workers)
    finally:
        for db in workers:
            postgres_server.drop_database(db)  # ignores a database that does not exist
