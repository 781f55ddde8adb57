"""Standalone python examples: a fresh interpreter per backend, the expected failure, the ``#>`` prints."""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..extract import Block, SiteConfig
from ..grammar import Classified
from ._base import HARNESS_DIR, exception_matches, map_paths, run_command, subprocess_env

OUTPUT_LINE = re.compile(r"^\s*#(?:\[(?P<backend>[a-z]+)\])?>(?: ?(?P<text>.*))?$")


def _print_statements(source: str) -> dict[int, ast.stmt]:
    """Map each source line to the innermost simple statement that covers it."""
    owners: dict[int, ast.stmt] = {}
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If,
                ast.With, ast.AsyncWith, ast.Try, ast.Match)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and not isinstance(node, compound) and node.end_lineno is not None:
            for line in range(node.lineno, node.end_lineno + 1):
                current = owners.get(line)
                if current is None or (node.end_lineno - node.lineno) < ((current.end_lineno or 0) - current.lineno):
                    owners[line] = node
    return owners


def _expected_after(lines: list[str], end_lineno: int) -> tuple[list[tuple[str | None, str]], int]:
    """The ``#>`` lines right after a statement: ``(backend or None, text)`` and how many there are."""
    found: list[tuple[str | None, str]] = []
    index = end_lineno  # 0-based index of the line after the statement
    while index < len(lines):
        m = OUTPUT_LINE.match(lines[index])
        if not m:
            break
        found.append((m.group("backend"), m.group("text") or ""))
        index += 1
    return found, index - end_lineno


def normalise_print(text: str) -> str:
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x...", text)


def check_prints(block: Block, prints: list[list[Any]], backend: str) -> tuple[list[str], dict[str, Any]]:
    """Compare recorded prints with the ``#>`` comments; return problems and the rewrite data."""
    source = block.content
    lines = source.split("\n")
    owners = _print_statements(source)
    actual: dict[int, list[str]] = {}
    for line, text in prints:
        stmt = owners.get(line)
        if stmt is None or stmt.end_lineno is None:
            continue
        printed = normalise_print(text).rstrip("\n").split("\n") if text.rstrip("\n") or text else [""]
        actual.setdefault(stmt.end_lineno, []).extend(printed)
    documented: dict[int, list[tuple[str | None, str]]] = {}
    for stmt in {id(s): s for s in owners.values()}.values():
        if stmt.end_lineno is not None:
            found, _ = _expected_after(lines, stmt.end_lineno)
            if found:
                documented[stmt.end_lineno] = found
    problems: list[str] = []
    rewrite: dict[str, Any] = {}
    for end in sorted(set(actual) | set(documented)):
        expected = [normalise_print(t) for b, t in documented.get(end, []) if b in (None, backend)]
        got = [line.rstrip() for line in actual.get(end, [])]
        stmt_line = block.page_line(end)
        indent = re.match(r"\s*", lines[end - 1]).group(0) if end - 1 < len(lines) else ""  # type: ignore[union-attr]
        rewrite[str(end)] = {"indent": indent, "lines": got}
        if [e.rstrip() for e in expected] != got:
            diff = "\n".join(
                difflib.unified_diff(
                    ["#> " + e for e in expected], ["#> " + g for g in got],
                    fromfile=f"{block.rel}:{stmt_line + 1} (documented)", tofile=f"printed on {backend}", lineterm="",
                )
            )
            what = "printed output is not documented" if not expected else "printed output differs from the #> comments"
            problems.append(f"{block.rel}:{stmt_line}: {what}\n{diff}")
    return problems, rewrite


def run_python(c: Classified, backend: str, database_url: str, workdir: Path, site: SiteConfig
               ) -> tuple[list[str], list[str], dict[str, Any]]:
    """Run a standalone example in a fresh interpreter; check the expected failure and the prints.

    Returns (problems, print drift problems, rewrite data for --update-docs)."""
    block = c.block
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / f"{Path(block.rel).stem.replace('-', '_')}_line{block.line}.py"
    script.write_text(block.content, encoding="utf-8")
    result_file = workdir / "result.json"
    proc = run_command([sys.executable, str(HARNESS_DIR / "_run_example.py"), str(script), str(result_file)], workdir,
                       subprocess_env(site, database_url))
    files = {str(script): block, script.name: block}
    if not result_file.exists():
        return [f"{block.where}: the example did not finish (exit {proc.returncode})\n"
                f"{map_paths(proc.stdout + proc.stderr, files)}"], [], {}
    outcome = json.loads(result_file.read_text(encoding="utf-8"))
    print_problems, rewrite = check_prints(block, outcome["prints"], backend)
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
    return problems, print_problems, rewrite


# -- page projects -------------------------------------------------------------------------------
