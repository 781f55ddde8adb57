"""Cold start in fresh processes: ``import dataflow``, ``DataFlow()`` + one model, first operation.

Each repeat runs ``benchmarks/_coldstart_child.py`` twice (DataFlow, then the raw driver, order
alternating) in a new interpreter. The first operation includes opening the connection (or pool)
and creating the table, on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from ._backends import Target
from ._harness import Result, Stats

CHILD = Path(__file__).with_name("_coldstart_child.py")
IMPORT_MS = 100.0
FIRST_OP_MS = 30.0


def child_env(workdir: Path) -> dict[str, str]:
    """The environment of benchmark subprocesses: bytecode caches on, kept out of the repository.

    An installed package has its ``.pyc`` files; without them every ``import dataflow`` would
    compile the sources (about 350 ms here), which is not what users see.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def _child(mode: str, url: str, workdir: Path) -> dict[str, float]:
    env = child_env(workdir)
    env.pop("DATABASE_URL", None)
    table = f"cold_{uuid.uuid4().hex[:10]}"
    proc = subprocess.run([sys.executable, str(CHILD), mode, url, table], capture_output=True, text=True,
                          env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({mode}): {proc.stderr[-2000:]}")
    data: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def measure(target: Target, *, repeats: int = 5, log: Any = print) -> list[Result]:
    """Cold-start rows for ``target``."""
    samples: dict[str, dict[str, list[float]]] = {"dataflow": {}, "raw": {}}
    for rep in range(repeats + 1):  # the first round is a warm-up (bytecode caches, page cache)
        modes = ("dataflow", "raw") if rep % 2 == 0 else ("raw", "dataflow")
        for mode in modes:
            if target.backend == "sqlite-memory":
                url = "sqlite:///:memory:"
            elif target.backend == "sqlite-file":
                url = f"sqlite:///{target.workdir / f'cold-{mode}-{rep}.db'}"
            else:
                url = target.df_url
            data = _child(mode, url, target.workdir)
            if rep == 0:
                continue
            for key, value in data.items():
                samples[mode].setdefault(key, []).append(value)
    df, raw = samples["dataflow"], samples["raw"]
    driver = "asyncpg" if target.backend == "postgresql" else "aiosqlite"
    sqlite = target.backend != "postgresql"
    results = [
        Result("import", "import dataflow (fresh interpreter)", target.backend, "ms", 1, Stats.of(df["import"]),
               Stats.of(raw["import"]), f"import {driver}", f"< {IMPORT_MS:g} ms", IMPORT_MS, absolute=True),
        Result("init_model", "DataFlow() + one @db.model", target.backend, "ms", 1, Stats.of(df["init"]), None,
               "(nothing to do)", "", None),
        Result("first_operation", "first create incl. connect + CREATE TABLE", target.backend, "ms", 1,
               Stats.of(df["first_op"]), Stats.of(raw["first_op"]),
               "connect + CREATE TABLE + INSERT" + (" (driver already imported)" if True else ""),
               f"< {FIRST_OP_MS:g} ms" if sqlite else "", FIRST_OP_MS if sqlite else None, absolute=sqlite),
    ]
    for result in results:
        result.finish()
        ratio = f"{result.ratio:.2f}x" if result.ratio is not None else "-"
        log(f"  {target.backend:<13} {result.workload:<22} df {result.df.median:9.2f} ms      raw "
            f"{result.raw.median if result.raw else float('nan'):9.2f}  {ratio:>7}  {result.status}")
    return results
