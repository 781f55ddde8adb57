"""Helpers of the command-line tests: every command runs as a subprocess, as a user would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

from _subprocess import child_env as shared_child_env

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
    args: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output."""
    return subprocess.run(args, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: content}`` under ``root`` (content dedented) and return ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root
