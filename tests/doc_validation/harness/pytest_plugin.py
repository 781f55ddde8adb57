"""Doc validation as a pytest plugin: options, the inventory of blocks, xdist grouping by page,
summary and updates.

The root ``tests/conftest.py`` loads it (``pytest_plugins``), so its options, the page grouping
under xdist and the summary work both for ``pytest tests/doc_validation`` and for the whole suite.

Options (the environment variables work too, e.g. through nox):

``--docs-config PATH`` / ``DOC_VALIDATION_CONFIG``
    The mkdocs.yml of the site to check (default: the repository's). Its ``docs_dir`` is the docs root.
``--docs-page PAGE`` / ``DOC_VALIDATION_PAGES`` (comma-separated)
    Check only these pages (relative to the docs dir); repeatable.
``--update-docs`` / ``DOC_VALIDATION_UPDATE=1``
    Rewrite ``#>`` output comments and ``output="pytest"`` blocks in place from the real runs.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import state  # noqa: E402
from harness.inventory import build_inventory  # noqa: E402
from harness.report import apply_updates, summary_lines  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
UPDATE_DIR_ENV = "DOC_VALIDATION_UPDATE_DIR"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("doc-validation")
    group.addoption("--docs-config", default=None, help="mkdocs.yml of the site whose docs are checked")
    group.addoption("--docs-page", action="append", default=[], help="check only this page (repeatable)")
    group.addoption("--update-docs", action="store_true", default=False,
                    help="rewrite #> output and output=\"pytest\" blocks from the real runs")


def _option(config: pytest.Config, name: str, default: Any) -> Any:
    try:
        return config.getoption(name)
    except ValueError:
        return default


def pytest_configure(config: pytest.Config) -> None:
    config_file = (
        _option(config, "--docs-config", None) or os.environ.get("DOC_VALIDATION_CONFIG") or REPO / "mkdocs.yml"
    )
    pages = list(_option(config, "--docs-page", []) or [])
    pages += [p for p in os.environ.get("DOC_VALIDATION_PAGES", "").split(",") if p.strip()]
    update = bool(_option(config, "--update-docs", False)) or os.environ.get("DOC_VALIDATION_UPDATE") == "1"
    state.CONFIG_FILE = Path(config_file).resolve()
    state.PAGES = pages
    state.UPDATE = update
    if update and not hasattr(config, "workerinput"):
        os.environ[UPDATE_DIR_ENV] = tempfile.mkdtemp(prefix="doc-validation-updates-")
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker (--dist loadgroup)")
    # Page-scoped grouping: `-n N` alone means --dist load; the harness's xdist_group marks need loadgroup.
    if getattr(config.option, "dist", None) == "load":
        config.option.dist = "loadgroup"


_RESULTS: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == "docval" and report.when == "call":
            _RESULTS.append(json.loads(value))
        elif name == "docval" and report.when == "setup" and report.outcome != "passed":
            _RESULTS.append({**json.loads(value), "outcome": report.outcome})


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or state.CONFIG_FILE is None:
        return
    if not any("test_doc_blocks.py" in str(getattr(r, "nodeid", "")) for k in ("passed", "failed", "error", "skipped")
               for r in terminalreporter.stats.get(k, [])):
        return
    inventory = state.inventory()
    terminalreporter.section("doc validation")
    terminalreporter.write_line(f"site: {inventory.site.config_file}")
    for line in summary_lines(inventory, _RESULTS):
        terminalreporter.write_line(line)
    if state.UPDATE and os.environ.get(UPDATE_DIR_ENV):
        for line in apply_updates(Path(os.environ[UPDATE_DIR_ENV]), inventory):
            terminalreporter.write_line(line)


def _build() -> Any:
    return build_inventory(state.CONFIG_FILE, state.PAGES)  # type: ignore[arg-type]


state.BUILD = _build
