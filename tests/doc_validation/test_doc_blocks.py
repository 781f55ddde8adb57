"""Every code block of the docs, run and checked (see docs/contributing/doc-blocks.md).

Items: one per runnable case and backend (standalone python, sql, terminal output, page project), one
per block for its classification and static checks, one per page for placeholders, DF- codes, links and
anchors, plus the catalog sections and ``mkdocs build --strict``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from doc_validation.docval.grammar import Action, Classified
from doc_validation.docval.inventory import Case
from doc_validation.docval.pages import (
    catalog_section_problems,
    code_problems,
    link_problems,
    load_catalog,
    mkdocs_build,
    placeholder_problems,
)
from doc_validation.docval.report import record_update
from doc_validation.docval.runners import run_output, run_project, run_python, run_sql, static_problems
from doc_validation.docval.settings import Settings

# The doc_case / doc_backend, doc_block and doc_page parameters come from the harness plugin
# (doc_validation.docval.plugin), from the inventory of this run's settings.
REPO_CONFIG = Path(__file__).resolve().parents[2] / "mkdocs.yml"


def _fail(header: str, problems: list[str]) -> None:
    pytest.fail(header + "\n\n" + "\n\n".join(problems), pytrace=False)


def _update(docval: Settings, case: Case, backend: str, kind: str, data: Any) -> None:
    if docval.update_dir is not None:
        block = case.first.block
        record_update(docval.update_dir, {"page": block.rel, "line": block.line, "backend": backend, "kind": kind,
                                          "data": data})


def test_block_runs(docval: Settings, doc_case: Case, doc_backend: str, doc_database_url: str, tmp_path: Path,
                    record_property: Any) -> None:
    """Run one case against a fresh database of ``doc_backend``; any drift fails with page.md:LINE."""
    backend, database_url = doc_backend, doc_database_url
    inventory = docval.inventory()
    site = inventory.site
    first = doc_case.first
    header = f"{doc_case.label} backend={backend}"
    confirmed = 0
    if doc_case.kind == "python":
        problems, print_problems, rewrite = run_python(first, backend, database_url, tmp_path, site)
        _update(docval, doc_case, backend, "prints", rewrite)
        if not (docval.update and first.block.from_snippet is False):
            problems += print_problems
        confirmed = int(first.expect_fail and not problems)
    elif doc_case.kind == "sql":
        problems = run_sql(first, backend, database_url)
    elif doc_case.kind == "output":
        files = inventory.project_files(first.block.rel, first.project, backend)
        problems, actual = run_output(first, files, backend, database_url, tmp_path, site)
        if actual is not None:
            _update(docval, doc_case, backend, "output", {"text": actual})
            if docval.update and not first.block.from_snippet:
                problems = []
    else:
        files = [f for f in doc_case.members if backend in f.backends]
        problems = run_project(files, backend, database_url, tmp_path, site)
        confirmed = sum(1 for f in files if f.expect_fail) if not problems else 0
    record_property("docval", json.dumps({"backend": backend, "kind": doc_case.kind,
                                          "outcome": "failed" if problems else "passed",
                                          "expected_failures_confirmed": confirmed}))
    if problems:
        _fail(header, problems)


def test_block_is_classified(docval: Settings, doc_block: Classified) -> None:
    """Each block has exactly one action; static checks (shell programs, parsing, source=) hold."""
    block = doc_block.block
    if doc_block.action is Action.INVALID:
        _fail(f"{block.label}: unclassified block ({block.info or 'no info string'})", doc_block.problems)
    problems = static_problems(doc_block, docval.inventory().site)
    if problems:
        _fail(f"{block.label} ({doc_block.action.value})", problems)
    if doc_block.action is Action.SKIP:
        pytest.skip(f"{block.label}: skip={block.attrs['skip']!r}")


def test_page(docval: Settings, doc_page: Path) -> None:
    """No forbidden placeholder phrase, every DF- code exists, relative links and anchors resolve."""
    inventory = docval.inventory()
    site = inventory.site
    rel = doc_page.relative_to(site.root).as_posix()
    problems = []
    if doc_page in inventory.errors:
        problems.append(f"{rel}: cannot expand the page: {inventory.errors[doc_page]}")
    problems += placeholder_problems(doc_page, rel)
    problems += code_problems(doc_page, rel, inventory.blocks.get(doc_page, []), load_catalog(site))
    problems += link_problems(doc_page, site)
    if problems:
        _fail(rel, problems)


def test_readme_has_no_placeholders(docval: Settings) -> None:
    """README.md (required for the repository's own site) has no forbidden placeholder phrase."""
    site = docval.inventory().site
    readme = site.root / "README.md"
    if not readme.exists() and site.config_file != REPO_CONFIG:
        pytest.skip(f"this site has no README.md next to {site.config_file.name}")
    assert readme.exists(), f"{readme} is missing"
    problems = placeholder_problems(readme, "README.md")
    if problems:
        _fail("README.md", problems)


def test_catalog_sections(docval: Settings) -> None:
    """Every catalog code has its {#df-nnn} section on its page (pages outside a --docs-page filter are
    not checked)."""
    inventory = docval.inventory()
    site = inventory.site
    selected = {p.resolve() for p in inventory.pages}
    problems = [
        p for p in catalog_section_problems(site, load_catalog(site))
        if not inventory.filtered or any(str(s.relative_to(site.root)) in p for s in selected)
    ]
    if problems:
        _fail("error catalog vs docs", problems)


def _warning_page(warning: str) -> str | None:
    """The page a mkdocs warning is about (``Doc file 'x.md' ...``), else None."""
    m = re.search(r"Doc file '([^']+)'", warning)
    return m.group(1) if m else None


def test_mkdocs_build_strict(docval: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds (broken links and anchors are warnings, so they fail it). With a
    --docs-page filter, only warnings about the selected pages count. The repository's site is the run's
    one build (``docs_site``); another site (``--docs-config``) is built here."""
    inventory = docval.inventory()
    site = inventory.site
    if site.config_file == REPO_CONFIG:
        built = request.getfixturevalue("docs_site")
        code, log = built.returncode, built.log
    else:
        code, log = mkdocs_build(site, tmp_path / "site")
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    if inventory.filtered:
        names = [p.relative_to(site.docs_dir).as_posix() for p in inventory.pages]
        warnings = [w for w in warnings if _warning_page(w) in names]
        if warnings:
            _fail("mkdocs build --strict (warnings about the selected pages)", warnings)
    elif code != 0:
        _fail(f"mkdocs build --strict exited with {code}", warnings or [log[-4000:]])
