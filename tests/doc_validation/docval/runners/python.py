"""Standalone python examples, run by pytest-examples in a pytest process of their own per backend.

The block runs as ``__main__`` with ``DATABASE_URL`` set (``_example_child.py`` is the child side).
pytest-examples rewrites the block's ``#>`` comments from what it printed; a rewrite that differs
from the page is drift, and in update mode it is written back to the page. An expected failure
(``expect="fail"``) must raise as documented; any other exception fails the block. A child that ends
without writing its outcome (pytest-examples' INTERNALERROR, a crash, a timeout) fails the block too,
with its ``page.md:LINE`` and the child's output.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from ..extract import Block, SiteConfig
from ..grammar import Classified
from ._base import HARNESS_DIR, exception_matches, map_paths, run_command, subprocess_env

#: A ``#> ...`` output comment line.
OUTPUT_LINE = re.compile(r"^\s*#>")
CHILD_INI = "[pytest]\naddopts = -p no:cacheprovider\n"


def print_drift(block: Block, updated: str, backend: str) -> list[str]:
    """The ``#>`` comments that pytest-examples rewrote, as a diff that names the page line."""
    old = block.content.rstrip("\n").split("\n")
    new = updated.rstrip("\n").split("\n")
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    statement = first
    while statement > 0 and OUTPUT_LINE.match(old[statement - 1]):
        statement -= 1  # back to the print whose output changed
    line = block.page_line(max(statement, 1))
    diff = "\n".join(difflib.unified_diff(old, new, fromfile=f"{block.rel} (documented)",
                                           tofile=f"printed on {backend}", lineterm="", n=1))
    undocumented = not any(OUTPUT_LINE.match(x) for x in old[first:first + 1])
    what = "printed output is not documented" if undocumented and len(new) > len(old) else (
        "printed output differs from the #> comments")
    return [f"{block.rel}:{line}: {what}\n{diff}"]


def run_python(c: Classified, backend: str, database_url: str, workdir: Path, site: SiteConfig
               ) -> tuple[list[str], list[str], dict[str, Any]]:
    """Run a standalone example; check the expected failure and the prints.

    Returns (problems, print drift problems, rewrite data for --update-docs)."""
    block = c.block
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / f"{Path(block.rel).stem.replace('-', '_')}_line{block.line}.py"
    source = block.content.rstrip("\n") + "\n"
    script.write_text(source, encoding="utf-8")
    result_file = workdir / "result.json"
    runner = workdir / "_example_child.py"
    shutil.copyfile(HARNESS_DIR / "_example_child.py", runner)
    (workdir / "pytest.ini").write_text(CHILD_INI, encoding="utf-8")
    env = subprocess_env(site, database_url, workdir)
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", DOCVAL_EXAMPLE=str(script), DOCVAL_RESULT=str(result_file))
    cmd = [sys.executable, "-m", "pytest", str(runner), "-p", "pytest_examples", "--update-examples", "-q",
           "--rootdir", str(workdir), "-c", str(workdir / "pytest.ini"), "--basetemp", str(workdir / "tmp")]
    proc = run_command(cmd, workdir, env)
    # pytest-examples runs its own copy of the block, named after the block's file and line span.
    copy = f"{script.stem}_0_{source.count(chr(10))}.py"
    files = {str(script): block, script.name: block, copy: block}
    if not result_file.exists():
        return [f"{block.where}: the example did not finish (pytest exit {proc.returncode}; pytest-examples "
                f"may have crashed)\n{map_paths(proc.stdout + proc.stderr, files)}"], [], {}
    outcome = json.loads(result_file.read_text(encoding="utf-8"))
    problems: list[str] = []
    exc = outcome["exception"]
    if c.expect_fail:
        if exc is None:
            problems.append(f"{block.where}: documented to fail (expect=\"fail\") but it ran without an exception")
        else:
            mismatch = exception_matches(c, exc["types"], f"{exc['types'][0]}: {exc['message']}")
            if mismatch:
                problems.append(f"{block.where}: " + "; ".join(mismatch) + "\n" + map_paths(exc["traceback"], files))
    elif exc is not None:
        problems.append(f"{block.where}: the example raised\n{map_paths(exc['traceback'], files)}")
    updated = outcome["updated"]
    drift = print_drift(block, updated, backend) if updated is not None else []
    return problems, drift, {"source": updated}
