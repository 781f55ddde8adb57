"""Terminal output blocks: ``python -m pytest <args>`` (or ``python -m dataflow <args>``) in the page
project, compared after normalising."""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
from pathlib import Path

from ..extract import SiteConfig
from ..grammar import OUTPUT_COMMANDS, Classified
from ._base import run_command, subprocess_env
from .project import write_project

_HEADER = re.compile(r"^(platform |cachedir:|rootdir:|configfile:|plugins:|asyncio: |Using --randomly-seed|"
                     r"hypothesis profile|testpaths:|timeout: |timeout method:|timeout func_only:)")


def normalise_terminal(text: str, project_dir: Path | None = None) -> list[str]:
    """Make pytest output comparable: no environment header lines, timings, paths or widths."""
    if project_dir is not None:
        text = text.replace(str(project_dir) + os.sep, "").replace(str(project_dir), ".")
    out = []
    for line in text.replace("\r", "").split("\n"):
        line = line.rstrip()
        if _HEADER.match(line):
            continue
        line = re.sub(r" in \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?", " in <T>s", line)
        line = re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", line)
        line = re.sub(r"/\S*/site-packages/", "<site-packages>/", line)
        line = re.sub(
            r"^([=_-])\1{2,} ?(.*?) ?\1{3,}$", lambda m: f"{m.group(1) * 3} {m.group(2)} {m.group(1) * 3}", line
        )
        line = re.sub(r"^([=_-])\1{5,}$", lambda m: m.group(1) * 3, line)
        out.append(re.sub(r"\s+", " ", line))
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


def run_output(c: Classified, files: list[Classified], backend: str, database_url: str, workdir: Path,
               site: SiteConfig) -> tuple[list[str], str | None]:
    """Run the page project as the reader would and compare with the documented terminal output."""
    block = c.block
    if not files:
        return [f"{block.label}: output=\"{block.attrs['output']}\" but the page has no project {c.project!r}"], None
    project_dir = workdir / "output-project"
    written = write_project(files, project_dir)
    tool = block.attrs["output"]
    cmd = [sys.executable, *OUTPUT_COMMANDS[tool], *shlex.split(block.attrs.get("args", ""))]
    env = subprocess_env(site, database_url, workdir)
    # pytest prints the whole short summary (no "..." truncation) when CI or BUILD_NUMBER is set; the
    # documented output is what a reader sees in a local terminal.
    for name in ("CI", "BUILD_NUMBER"):
        env.pop(name, None)
    proc = run_command(cmd, project_dir, env)
    raw = (proc.stdout + proc.stderr).replace(str(project_dir) + os.sep, "").replace(str(project_dir), ".")
    got = normalise_terminal(raw)
    expected = normalise_terminal(block.content)
    if got == expected:
        return [], None
    diff = "\n".join(difflib.unified_diff(expected, got, fromfile=f"{block.label} (documented, normalised)",
                                          tofile=f"{tool} {block.attrs.get('args', '')} on {backend}", lineterm=""))
    del written
    return [f"{block.label}: terminal output differs from a real run\n{diff}"], raw.rstrip("\n") + "\n"

