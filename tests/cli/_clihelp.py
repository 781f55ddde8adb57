"""Helpers of the command-line tests: every command runs as a process of its own, as a user would run it.

The ``dataflow`` script and ``python -m`` commands start as forks of the doc harness's server
(``tests/doc_validation/docval/forkserver.py``: the imports of pytest, psycopg and dataflow done once
per worker), the script as ``python -m dataflow``, which runs the same ``main``. ``fork=False`` (the
tests of the script itself) and ``DOCVAL_FORK=0`` start real subprocesses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from _subprocess import child_env as shared_child_env
from doc_validation.docval import forkserver

BIN = Path(sys.executable).parent


def dataflow_command() -> str:
    """The installed ``dataflow`` console script of this environment."""
    found = shutil.which("dataflow", path=str(BIN))
    assert found, f"the dataflow console script is not installed next to {sys.executable}"
    return found


def child_env(database_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a child process: nothing of the outer pytest run (``tests/_subprocess.py``),
    the console script's directory first on PATH, DATABASE_URL as given."""
    env = shared_child_env(PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]), COLUMNS="100")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 180, *, fork: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output (``subprocess.TimeoutExpired`` after ``timeout``)."""
    module_argv: list[str] = []
    if args[:1] == [dataflow_command()]:
        module_argv = ["-m", "dataflow", *args[1:]]
    elif args[:2] == [sys.executable, "-m"]:
        module_argv = args[1:]
    else:
        fork = False
    proc = forkserver.try_run(module_argv, cwd, dict(env), timeout) if fork else None
    if proc is not None:
        if forkserver.timed_out(proc, timeout):
            raise subprocess.TimeoutExpired(args, timeout, proc.stdout, proc.stderr)
        return subprocess.CompletedProcess(args, proc.returncode, proc.stdout, proc.stderr)
    return subprocess.run(args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: content}`` under ``root`` (content dedented) and return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root
