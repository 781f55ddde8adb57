"""Every code block of the docs, run and checked (see docs/contributing/doc-blocks.md).

Items: one per runnable case and backend (standalone python, sql, terminal output, page project), one
per block for its classification and static checks, one per page for placeholders, DF- codes, links and
anchors, plus the catalog sections and ``mkdocs build --strict``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from harness import state
from harness.classify import Action, Classified
from harness.inventory import Case
from harness.pages import (
    catalog_section_problems,
    code_problems,
    link_problems,
    load_catalog,
    mkdocs_build,
    placeholder_problems,
)
from harness.report import record_update
from harness.runners import run_output, run_project, run_python, run_sql, static_problems

INVENTORY = state.inventory()
SITE = INVENTORY.site
RUN_PARAMS = [
    pytest.param(case, backend, id=f"{case.label}-{backend}", marks=pytest.mark.xdist_group(f"docs:{case.page}"))
    for case in INVENTORY.cases()
    for backend in case.backends
]
BLOCK_PARAMS = [
    pytest.param(c, id=c.block.label, marks=pytest.mark.xdist_group(f"docs:{c.block.rel}"))
    for c in INVENTORY.classified
]
PAGE_PARAMS = [
    pytest.param(page, id=page.relative_to(SITE.root).as_posix(),
                 marks=pytest.mark.xdist_group(f"docs:{page.relative_to(SITE.root).as_posix()}"))
    for page in INVENTORY.pages
]
README = SITE.root / "README.md"
REPO_CONFIG = Path(__file__).resolve().parents[2] / "mkdocs.yml"


def _fail(header: str, problems: list[str]) -> None:
    pytest.fail(header + "\n\n" + "\n\n".join(problems), pytrace=False)


def _update(case: Case, backend: str, kind: str, data: Any) -> None:
    directory = os.environ.get("DOC_VALIDATION_UPDATE_DIR")
    if state.UPDATE and directory:
        block = case.first.block
        record_update(Path(directory), {"page": block.rel, "line": block.line, "backend": backend, "kind": kind,
                                        "data": data})


@pytest.mark.parametrize(("doc_case", "backend"), RUN_PARAMS, indirect=["backend"])
def test_block_runs(doc_case: Case, backend: str, database_url: str, tmp_path: Path,
                    record_property: Any) -> None:
    """Run one case against a fresh database of ``backend``; any drift fails with page.md:LINE."""
    first = doc_case.first
    header = f"{doc_case.label} backend={backend}"
    confirmed = 0
    if doc_case.kind == "python":
        problems, print_problems, rewrite = run_python(first, backend, database_url, tmp_path, SITE)
        _update(doc_case, backend, "prints", rewrite)
        if not (state.UPDATE and first.block.from_snippet is False):
            problems += print_problems
        confirmed = int(first.expect_fail and not problems)
    elif doc_case.kind == "sql":
        problems = run_sql(first, backend, database_url)
    elif doc_case.kind == "output":
        files = INVENTORY.project_files(first.block.rel, first.project, backend)
        problems, actual = run_output(first, files, backend, database_url, tmp_path, SITE)
        if actual is not None:
            _update(doc_case, backend, "output", {"text": actual})
            if state.UPDATE and not first.block.from_snippet:
                problems = []
    else:
        files = [f for f in doc_case.members if backend in f.backends]
        problems = run_project(files, backend, database_url, tmp_path, SITE)
        confirmed = sum(1 for f in files if f.expect_fail) if not problems else 0
    record_property("docval", json.dumps({"backend": backend, "kind": doc_case.kind,
                                          "outcome": "failed" if problems else "passed",
                                          "expected_failures_confirmed": confirmed}))
    if problems:
        _fail(header, problems)


@pytest.mark.parametrize("doc_block", BLOCK_PARAMS)
def test_block_is_classified(doc_block: Classified) -> None:
    """Each block has exactly one action; static checks (shell programs, parsing, source=) hold."""
    block = doc_block.block
    if doc_block.action is Action.INVALID:
        _fail(f"{block.label}: unclassified block ({block.info or 'no info string'})", doc_block.problems)
    problems = static_problems(doc_block, SITE)
    if problems:
        _fail(f"{block.label} ({doc_block.action.value})", problems)
    if doc_block.action is Action.SKIP:
        pytest.skip(f"{block.label}: skip={block.attrs['skip']!r}")


@pytest.mark.parametrize("doc_page", PAGE_PARAMS)
def test_page(doc_page: Path) -> None:
    """No forbidden placeholder phrase, every DF- code exists, relative links and anchors resolve."""
    rel = doc_page.relative_to(SITE.root).as_posix()
    problems = []
    if doc_page in INVENTORY.errors:
        problems.append(f"{rel}: cannot expand the page: {INVENTORY.errors[doc_page]}")
    problems += placeholder_problems(doc_page, rel)
    problems += code_problems(doc_page, rel, INVENTORY.blocks.get(doc_page, []), load_catalog(SITE))
    problems += link_problems(doc_page, SITE)
    if problems:
        _fail(rel, problems)


@pytest.mark.skipif(not README.exists() and SITE.root != Path(__file__).resolve().parents[2],
                    reason=f"this site has no README.md next to {SITE.config_file.name}")
def test_readme_has_no_placeholders() -> None:
    """README.md (required for the repository's own site) has no forbidden placeholder phrase."""
    assert README.exists(), f"{README} is missing"
    problems = placeholder_problems(README, "README.md")
    if problems:
        _fail("README.md", problems)


def test_catalog_sections() -> None:
    """Every catalog code has its {#df-nnn} section on its page (pages outside a --docs-page filter are
    not checked)."""
    selected = {p.resolve() for p in INVENTORY.pages}
    problems = [
        p for p in catalog_section_problems(SITE, load_catalog(SITE))
        if not INVENTORY.filtered or any(str(s.relative_to(SITE.root)) in p for s in selected)
    ]
    if problems:
        _fail("error catalog vs docs", problems)


def _warning_page(warning: str) -> str | None:
    """The page a mkdocs warning is about (``Doc file 'x.md' ...``), else None."""
    m = re.search(r"Doc file '([^']+)'", warning)
    return m.group(1) if m else None


def test_mkdocs_build_strict(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds (broken links and anchors are warnings, so they fail it). With a
    --docs-page filter, only warnings about the selected pages count. The repository's site is the run's
    one build (``docs_site``); another site (``--docs-config``) is built here."""
    if SITE.config_file == REPO_CONFIG:
        built = request.getfixturevalue("docs_site")
        code, log = built.returncode, built.log
    else:
        code, log = mkdocs_build(SITE, tmp_path / "site")
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    if INVENTORY.filtered:
        names = [p.relative_to(SITE.docs_dir).as_posix() for p in INVENTORY.pages]
        warnings = [w for w in warnings if _warning_page(w) in names]
        if warnings:
            _fail("mkdocs build --strict (warnings about the selected pages)", warnings)
    elif code != 0:
        _fail(f"mkdocs build --strict exited with {code}", warnings or [log[-4000:]])
