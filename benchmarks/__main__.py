"""``python -m benchmarks``: DataFlow vs the raw drivers; prints a table and writes JSON.

Options:
  --quick                 fewer operations and repeats (a few minutes less; not for publishing)
  --backend NAME          sqlite-memory, sqlite-file or postgresql (repeatable; default: all three)
  --json PATH             where to write the results (default: benchmarks/results/latest.json,
                          or benchmarks/results/quick.json with --quick)
  --skip GROUP            leave out inproc, scaling, isolation, coldstart, migrations, gateway or
                          workerdb (repeatable)
  --no-docs               do not regenerate docs/performance.md and the plots

Writing benchmarks/results/latest.json also draws the plots of benchmarks/results/plots/ from it
(``python -m benchmarks.plots``; needs matplotlib, which ``nox -s bench`` installs) and regenerates
docs/performance.md.

PostgreSQL: ``DATAFLOW_BENCH_POSTGRES_URL``, ``DATAFLOW_TEST_POSTGRES_URL``, a PostgreSQL
``DATABASE_URL`` or libpq's ``PG*`` variables (``pg_virtualenv``). With none of them, the command
re-runs itself under ``python tests/_postgres.py run --`` (a throwaway server, fsync off), or under
``pg_virtualenv -o fsync=off`` when that helper is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import coldstart, gateway, isolation, migrations, report, scaling, workerdb
from ._backends import BACKENDS, make_target, postgres_url_from_env
from ._harness import one_cpu
from .workloads import Sizes, Suite

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LATEST = HERE / "results" / "latest.json"
QUICK = HERE / "results" / "quick.json"
CHILD_ENV = "DATAFLOW_BENCH_PROVISIONED"
GROUPS = ("inproc", "scaling", "isolation", "coldstart", "migrations", "gateway", "workerdb")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer operations and repeats")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="repeatable; default: all")
    parser.add_argument("--json", type=Path, help="output JSON path")
    parser.add_argument("--skip", action="append", choices=GROUPS, default=[], help="leave out a group")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/performance.md and plots")
    return parser.parse_args(argv)


def provision(argv: list[str]) -> int | None:
    """Re-run this command with a throwaway PostgreSQL; None when that is impossible."""
    env = dict(os.environ, **{CHILD_ENV: "1"})
    helper = REPO / "tests" / "_postgres.py"
    command = [sys.executable, "-m", "benchmarks", *argv]
    if helper.exists():
        print("benchmarks: no PostgreSQL URL; starting a throwaway server with tests/_postgres.py", flush=True)
        return subprocess.call([sys.executable, str(helper), "run", "--", *command], env=env, cwd=REPO)
    if shutil.which("pg_virtualenv"):
        print("benchmarks: no PostgreSQL URL; running under pg_virtualenv -o fsync=off", flush=True)
        return subprocess.call(["pg_virtualenv", "-o", "fsync=off", *command], env=env, cwd=REPO)
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = args.backend or list(BACKENDS)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    started = time.perf_counter()
    data: dict[str, Any] = {
        "generated": report.now(),
        "mode": "quick" if args.quick else "full",
        "machine": report.machine(),
        "sizes": {k: v for k, v in vars(sizes).items()},
        "backends": backends,
        "results": [],
        "notes": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="dataflow-bench-"))
    try:
        for backend in backends:
            target = make_target(backend, workdir / backend)
            print(f"== {backend} ==", flush=True)
            if "inproc" not in args.skip:
                with one_cpu(backend) as cpu:
                    data["results"] += [r.to_json() for r in Suite(target, sizes).all()]
                if cpu is not None:
                    data["notes"].append(f"{backend}: the in-process workloads ran on CPU {cpu} only "
                                         "(benchmarks/_harness.py one_cpu)")
            if "scaling" not in args.skip:
                data["results"] += [r.to_json() for r in scaling.measure(target, sizes)]
            if "isolation" not in args.skip:
                rows = isolation.measure(target, tests=200 if not args.quick else 50,
                                         repeats=3 if not args.quick else 1, warmup=not args.quick)
                data["results"] += [r.to_json() for r in rows]
                # The session-loop target holds over 2,000 tests too (quick: 200, one run).
                rows = isolation.measure(target, tests=2000 if not args.quick else 200,
                                         repeats=3 if not args.quick else 1, warmup=False, suffix="_long")
                data["results"] += [r.to_json() for r in rows]
            if "coldstart" not in args.skip:
                data["results"] += [r.to_json() for r in coldstart.measure(target, repeats=5 if not args.quick else 2)]
            if "migrations" not in args.skip:
                # In-process like the workloads above: on SQLite both sides' statements hop to a
                # worker thread, so they run on one CPU for the same reason (one_cpu).
                with one_cpu(backend):
                    rows = migrations.measure(target, repeats=sizes.repeats, warmup=not args.quick)
                data["results"] += [r.to_json() for r in rows]
            if "gateway" not in args.skip:
                clients, seconds = (10, 3.0) if args.quick else (50, 30.0)
                rows = gateway.measure(target, clients=clients, seconds=seconds)
                data["results"] += [r.to_json() for r in rows]
            if "workerdb" not in args.skip:
                rows = workerdb.measure(target, repeats=sizes.repeats, tests=100 if not args.quick else 20,
                                        warmup=not args.quick)
                data["results"] += [r.to_json() for r in rows]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data["elapsed_s"] = round(time.perf_counter() - started, 1)
    if "postgresql" in backends:
        data["machine"]["postgresql"] = _pg_info(postgres_url_from_env())
    return data


def _pg_info(url: str | None) -> dict[str, Any] | None:
    if not url:
        return None
    import asyncio

    import asyncpg

    async def fetch() -> dict[str, Any]:
        conn = await asyncpg.connect(url)
        try:
            settings = {}
            for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections"):
                settings[name] = await conn.fetchval(f"SHOW {name}")
            return {"version": await conn.fetchval("SHOW server_version"), "settings": settings}
        finally:
            await conn.close()

    return asyncio.run(fetch())


def main(argv: list[str] | None = None) -> int:
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(raw_argv)
    backends = args.backend or list(BACKENDS)
    if "postgresql" in backends and not postgres_url_from_env():
        if not os.environ.get(CHILD_ENV):
            code = provision(raw_argv)
            if code is not None:
                return code
        if args.backend:
            print("benchmarks: postgresql requested but no server could be provided", file=sys.stderr)
            return 2
        print("benchmarks: no PostgreSQL available; running the SQLite backends only", flush=True)
        args.backend = [b for b in backends if b != "postgresql"]
    data = run(args)
    out = args.json or (QUICK if args.quick else LATEST)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    print()
    print(report.text_table(data))
    counts = report.summary(data)
    print(f"\n{counts['PASS']} PASS, {counts['MISS']} MISS, {counts['INFO']} information only; "
          f"{data['elapsed_s']} s; JSON: {out}")
    if out.resolve() == LATEST and not args.no_docs:
        from .docs import write
        from .plots import write_all

        for path in write_all(data):
            print(f"plot: {path}")
        print(f"docs: {write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
