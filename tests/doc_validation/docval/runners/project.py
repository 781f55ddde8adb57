"""Page projects: the page's titled blocks written as files and run with real pytest per backend."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from _subprocess import DEV_ONLY_PLUGINS

from ..extract import Block, SiteConfig
from ..grammar import Classified, is_test_file
from ._base import exception_matches, map_paths, run_command, subprocess_env


def write_project(files: list[Classified], target: Path) -> dict[str, Block]:
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Block] = {}
    for c in files:
        path = target / c.block.title
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(c.block.content, encoding="utf-8")
        written[c.block.title] = c.block
        written[str(path)] = c.block
    return written


def project_problems(files: list[Classified]) -> list[str]:
    """Structural problems of a project: duplicate titles, no test file."""
    problems = []
    titles: dict[str, Block] = {}
    for c in files:
        if c.block.title in titles:
            problems.append(f"{c.block.where}: {c.block.title} is already defined at {titles[c.block.title].where} "
                            'in the same project (use project="name" for a second project)')
        titles[c.block.title] = c.block
    if not any(is_test_file(c.block.title) for c in files):
        first = files[0].block
        problems.append(f"{first.where}: project {files[0].project!r} has no test file (title=\"test_*.py\"), "
                        "so nothing would run it")
    return problems


def _block_file(case: ET.Element, known: set[str]) -> str:
    """The project file a junit testcase belongs to: its own file, or, for a test imported into a
    module (``from plugin.tests import test_x``, defined elsewhere), the module that collected it."""
    file = case.get("file", "")
    if file in known:
        return file
    parts = (case.get("classname") or "").split(".")
    for n in range(len(parts), 0, -1):
        candidate = "/".join(parts[:n]) + ".py"
        if candidate in known:
            return candidate
    return file


def run_project(files: list[Classified], backend: str, database_url: str, workdir: Path, site: SiteConfig) -> list[str]:
    """Run the page project with real pytest and check every test file block's outcome."""
    problems = project_problems(files)
    if problems:
        return problems
    project_dir = workdir / "project"
    written = write_project(files, project_dir)
    junit, exceptions = workdir / "junit.xml", workdir / "exceptions.json"
    env = subprocess_env(site, database_url, workdir)
    env["DOCVAL_EXCEPTIONS"] = str(exceptions)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *DEV_ONLY_PLUGINS,
           "-p", "_docval_plugin",
           f"--junitxml={junit}", "-o", "junit_family=xunit1", "--tb=short", "-rA"]
    proc = run_command(cmd, project_dir, env)
    log = map_paths(proc.stdout + proc.stderr, written)
    if not junit.exists():
        return [f"{files[0].block.where}: pytest did not run the project (exit {proc.returncode})\n{log}"]
    records = json.loads(exceptions.read_text(encoding="utf-8")) if exceptions.exists() else []
    by_key = {(r["file"], str(r["line"]), r["name"]): r for r in records}
    known = {c.block.title for c in files}
    cases: dict[str, list[ET.Element]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        cases.setdefault(_block_file(case, known), []).append(case)
    for file, elements in cases.items():
        if file not in known:
            for case in elements:
                for bad in list(case.findall("failure")) + list(case.findall("error")):
                    problems.append(f"{files[0].block.where}: {case.get('classname')}::{case.get('name')} "
                                    f"failed outside any block\n{map_paths(bad.text or '', written)}")
    for c in files:
        if not is_test_file(c.block.title):
            continue
        block = c.block
        mine = cases.get(block.title, [])
        if not mine:
            problems.append(f"{block.label}: pytest collected no test from this block (exit {proc.returncode})\n{log}")
            continue
        for case in mine:
            name = case.get("name", "")
            line = int(case.get("line") or 0) + 1 if case.get("file") == block.title else 1  # imported: the block
            where = f"{block.rel}:{block.page_line(line)} [{block.title}::{name}]"
            bad = case.findall("failure") + case.findall("error")
            skipped = case.findall("skipped")
            detail = "\n".join(map_paths(b.text or b.get("message", ""), written) for b in bad)
            if c.expect_fail:
                if not bad:
                    state = "was skipped" if skipped else "passed"
                    problems.append(f"{where}: documented to fail (expect=\"fail\") but it {state}")
                    continue
                record = by_key.get((case.get("file", ""), case.get("line", ""), name), {})
                text = "\n".join([record.get("message", ""), record.get("text", ""), detail,
                                  *(b.get("message", "") for b in bad)])
                mismatch = exception_matches(c, record.get("types", []), text)
                if mismatch:
                    problems.append(f"{where}: failed, but not as documented: {'; '.join(mismatch)}\n{detail}")
            elif bad:
                problems.append(f"{where}: failed\n{detail}")
            elif skipped:
                problems.append(f"{where}: was skipped ({skipped[0].get('message', '')}); documented tests must run")
    if proc.returncode not in (0, 1) and not problems:
        problems.append(f"{files[0].block.where}: pytest exited with {proc.returncode}\n{log}")
    return problems


