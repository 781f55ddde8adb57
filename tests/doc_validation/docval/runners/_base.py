"""What every runner shares: the child-process environment, running a command, mapping a child's
file:line back to page lines, and checking an expected failure's exception.

Every runner returns a list of problem strings (empty: the block is fine). Each problem names the
page line; the caller prefixes the block label and backend.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _subprocess import child_env

from .. import forkserver
from ..extract import Block, SiteConfig
from ..grammar import Classified

#: The child-side scripts (_run_example.py, _docval_plugin.py) live in the package directory.
HARNESS_DIR = Path(__file__).resolve().parents[1]
TIMEOUT = 600


def subprocess_env(site: SiteConfig, database_url: str | None, workdir: Path | None = None) -> dict[str, str]:
    """The environment of a doc run: the outer pytest run does not leak in; DATABASE_URL is set.
    With ``workdir``, temporary files go to a directory of its own (``TMPDIR``): pytest processes
    that share ``/tmp/pytest-of-<user>`` remove each other's old directories as they start, and a
    run that loses that race prints a warning the documented output does not have."""
    tmp: dict[str, str] = {}
    if workdir is not None:
        (workdir / "tmpdir").mkdir(parents=True, exist_ok=True)
        tmp["TMPDIR"] = str(workdir / "tmpdir")
    paths = [str(site.root / "src"), str(HARNESS_DIR), os.environ.get("PYTHONPATH", "")]
    return child_env(
        PYTHONPATH=os.pathsep.join(p for p in paths if p),
        PYTHONHASHSEED="0",
        COLUMNS="80",
        PY_COLORS="0",
        NO_COLOR="1",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        DATABASE_URL=database_url,
        **tmp,
    )


def run_command(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in ``cwd`` with exactly ``env``, its output captured; ``python -m`` commands start
    as forks of a server that has imported pytest and dataflow already (see ``forkserver``)."""
    if cmd[:2] == [sys.executable, "-m"]:
        forked = forkserver.try_run(cmd[1:], cwd, env, TIMEOUT)
        if forked is not None:
            return forked
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, -9, str(exc.stdout or ""), f"timed out after {TIMEOUT}s")


def map_paths(text: str, files: dict[str, Block]) -> str:
    """Rewrite ``File "x.py", line N`` and ``x.py:N:`` of written block files to page lines."""

    def file_line(m: re.Match[str]) -> str:
        block = files.get(m.group(1)) or files.get(Path(m.group(1)).name)
        if block is None:
            return m.group(0)
        return f'File "{block.rel}", line {block.page_line(int(m.group(2)))} [{block.title or "example"}]'

    def colon_line(m: re.Match[str]) -> str:
        block = files.get(m.group(1)) or files.get(Path(m.group(1)).name)
        if block is None:
            return m.group(0)
        return f"{block.rel}:{block.page_line(int(m.group(2)))} [{block.title or 'example'}]:"

    text = re.sub(r'File "([^"]+)", line (\d+)', file_line, text)
    return re.sub(r"(?m)^([\w./-]+\.py):(\d+):", colon_line, text)


def exception_matches(c: Classified, types: list[str], text: str) -> list[str]:
    problems = []
    raises, match = c.block.attrs.get("raises"), c.block.attrs.get("match")
    if raises and not any(t == raises or t.rsplit(".", 1)[-1] == raises for t in types):
        got = types[0] if types else "no exception"
        problems.append(f"expected {raises}, got {got}")
    if match and not re.search(match, text):
        problems.append(f"expected the failure to match {match!r}; it did not")
    return problems


# -- standalone python examples ------------------------------------------------------------------
