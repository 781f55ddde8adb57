"""``python -m benchmarks.escape_check``: what the escaped-writes check (DF-702) costs per test.

In process: the check's two reads (before and after a test) timed directly, on a database with
three tables of ``--rows`` rows each, ``--tests`` times; the median per test is its cost.

End to end: a generated pytest project of N tests under ``dataflow_isolated``, each inserting 5 rows, runs twice
per backend: with the check (the default) and with every test marked
``dataflow_escapes_expected`` (no check). The database holds three tables of ``--rows`` rows
each (seed data). Per-test cost of the check = (wall of the checked run - wall of the unchecked
run) / N, the median of ``--repeats`` alternating pairs. Writes ``benchmarks/results/escape_check.json``.

PostgreSQL: the URL comes from the same variables as ``python -m benchmarks`` (see README.md);
without one, only SQLite is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._backends import postgres_url_from_env


def inprocess(database_url: str, tests: int, rows: int) -> dict[str, float]:
    """Median milliseconds of one test's two reads (start + compare), measured in this process."""
    import asyncio

    from dataflow import DataFlow
    from dataflow.testing._escapes import EscapeWatch

    class Item:
        id: int
        name: str

    class Tag:
        id: int
        name: str

    class Note:
        id: int
        name: str

    async def main() -> list[float]:
        db = DataFlow(database_url, test_mode=True)
        for model in (Item, Tag, Note):
            db.model(model)
        await db.drop_tables()
        await db.create_tables()
        try:
            for name in ("Item", "Tag", "Note"):
                workflow = db.workflow()
                records = [{"name": f"{name} {i}"} for i in range(rows)]
                workflow.add_node(f"{name}BulkCreateNode", "seed", {"records": records})
                from dataflow import AsyncLocalRuntime

                await AsyncLocalRuntime().execute_workflow_async(workflow.build())
            watch = EscapeWatch(db, database_url)
            times = []
            for _ in range(tests):
                start = time.perf_counter()
                await watch.start()
                assert await watch.escaped() == []
                times.append((time.perf_counter() - start) * 1000)
            return times
        finally:
            await db.drop_tables()
            await db.close()

    times = asyncio.run(main())
    return {"check_ms_per_test_inprocess": round(statistics.median(times), 3)}

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "escape_check.json"

CONFTEST = '''import pytest

from dataflow import AsyncLocalRuntime

pytest_plugins = ["dataflow.testing"]


class Item:
    id: int
    name: str


class Tag:
    id: int
    name: str


class Note:
    id: int
    name: str


@pytest.fixture(scope="session")
def dataflow_models():
    return [Item, Tag, Note]


@pytest.fixture(scope="session")
def dataflow_seed():
    async def load(db):
        for model in ("Item", "Tag", "Note"):
            workflow = db.workflow()
            records = [{{"name": f"{{model}} {{i}}"}} for i in range({rows})]
            workflow.add_node(f"{{model}}BulkCreateNode", "seed", {{"records": records}})
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())

    return load
'''

TEST = '''import pytest

from dataflow import AsyncLocalRuntime


@pytest.mark.parametrize("i", range({tests}))
{marker}async def test_insert(dataflow_isolated, i):
    workflow = dataflow_isolated.workflow()
    for j in range(5):
        workflow.add_node("ItemCreateNode", f"c{{j}}", {{"name": f"new {{j}}"}})
    await AsyncLocalRuntime().execute_workflow_async(workflow.build())
'''

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""

MARKER = '@pytest.mark.dataflow_escapes_expected(reason="benchmark: the check is off")\n'


def _project(root: Path, tests: int, rows: int, checked: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text(INI)
    (root / "conftest.py").write_text(CONFTEST.format(rows=rows))
    (root / "test_bench.py").write_text(TEST.format(tests=tests, marker="" if checked else MARKER))
    return root


def _run(project: Path, database_url: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DATAFLOW_BENCH"))}
    env["DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent / "src"), env.get("PYTHONPATH", "")) if p)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark project failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return wall


def measure(backend: str, database_url: str, tests: int, rows: int, repeats: int, work: Path) -> dict[str, float]:
    """Median per-test wall time with and without the check, and their difference, in milliseconds."""
    checked = _project(work / f"{backend}-on", tests, rows, checked=True)
    unchecked = _project(work / f"{backend}-off", tests, rows, checked=False)
    on, off = [], []
    for i in range(repeats):
        pair = [(checked, on), (unchecked, off)]
        for project, walls in pair if i % 2 == 0 else reversed(pair):
            walls.append(_run(project, database_url) / tests * 1000)
    diffs = [a - b for a, b in zip(on, off, strict=True)]
    return {
        "per_test_ms_check_on": round(statistics.median(on), 3),
        "per_test_ms_check_off": round(statistics.median(off), 3),
        "check_ms_per_test": round(statistics.median(diffs), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.escape_check", description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rows", type=int, default=100, help="seed rows in each of the three tables")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULT)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dataflow-escape-check-"))
    targets = {"sqlite-file": f"sqlite:///{work / 'bench.db'}"}
    pg = postgres_url_from_env()
    if pg:
        targets["postgresql"] = pg
    results = {}
    for backend, url in targets.items():
        results[backend] = inprocess(url, args.tests, args.rows)
        results[backend].update(measure(backend, url, args.tests, args.rows, args.repeats, work))
        print(backend, results[backend], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {"tests": args.tests, "rows_per_table": args.rows, "tables": 3, "repeats": args.repeats,
               "load": os.getloadavg()[0], "results": results}
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
