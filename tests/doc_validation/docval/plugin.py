"""Doc validation as a pytest plugin: options, settings in ``config.stash``, the doc tests'
parameters, the summary and the ``--update-docs`` rewrites.

The root ``tests/conftest.py`` loads it (``pytest_plugins``) so that its options work for the whole
suite as well as for ``pytest tests/doc_validation``. It changes nothing for other tests: it
parametrizes only the doc tests (the functions that ask for ``doc_case``, ``doc_block`` or
``doc_page``), and prints its summary only when doc tests ran. Of xdist's distribution it sets one
thing: the cases that use the streaming replica join the replica's ``xdist_group``, so that under
``--dist loadgroup`` one worker starts it.

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
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _postgres import REPLICA_GROUP

from .report import apply_updates, summary_lines
from .settings import REPO, SETTINGS, UPDATE_DIR_ENV, Settings, settings

DOC_TESTS_FILE = "test_doc_blocks.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("doc-validation")
    group.addoption("--docs-config", default=None, help="mkdocs.yml of the site whose docs are checked")
    group.addoption("--docs-page", action="append", default=[], help="check only this page (repeatable)")
    group.addoption("--update-docs", action="store_true", default=False,
                    help="rewrite #> output and output=\"pytest\" blocks from the real runs")


def pytest_configure(config: pytest.Config) -> None:
    config_file = config.getoption("--docs-config") or os.environ.get("DOC_VALIDATION_CONFIG") or REPO / "mkdocs.yml"
    pages = list(config.getoption("--docs-page") or [])
    pages += [p for p in os.environ.get("DOC_VALIDATION_PAGES", "").split(",") if p.strip()]
    update = bool(config.getoption("--update-docs")) or os.environ.get("DOC_VALIDATION_UPDATE") == "1"
    config.stash[SETTINGS] = Settings(Path(config_file).resolve(), pages, update)
    if not hasattr(config, "workerinput"):  # the summary is printed by the controller only
        config.pluginmanager.register(_Summary(config), "docval-summary")
    if update and not hasattr(config, "workerinput") and not os.environ.get(UPDATE_DIR_ENV):
        os.environ[UPDATE_DIR_ENV] = tempfile.mkdtemp(prefix="doc-validation-updates-")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parameters of the doc tests, from the inventory of this run's settings."""
    names = set(metafunc.fixturenames)
    if not names & {"doc_case", "doc_block", "doc_page"}:
        return
    inventory = settings(metafunc.config).inventory()
    if "doc_case" in names:
        # The mark exists only where xdist is loaded (an inner run with -p no:xdist rejects it).
        replica = [pytest.mark.xdist_group(REPLICA_GROUP)] if metafunc.config.pluginmanager.hasplugin("xdist") else []
        runs = [
            pytest.param(case, backend, id=f"{case.label}-{backend}",
                         marks=replica if replica and _uses_replica(inventory, case, backend) else [])
            for case in inventory.cases() for backend in case.backends
        ]
        metafunc.parametrize(("doc_case", "doc_backend"), runs)
    if "doc_block" in names:
        metafunc.parametrize("doc_block", inventory.classified, ids=[c.block.label for c in inventory.classified])
    if "doc_page" in names:
        metafunc.parametrize("doc_page", inventory.pages,
                             ids=[p.relative_to(inventory.site.root).as_posix() for p in inventory.pages])


@pytest.fixture
def docval(request: pytest.FixtureRequest) -> Settings:
    """This run's harness settings (and through them the inventory and the site)."""
    return settings(request.config)


#: A block that names this variable gets the URL of the PostgreSQL database's streaming replica.
REPLICA_VARIABLE = "DATABASE_REPLICA_URL"
#: A block that names this variable gets the URL of the suite's Redis server (tests/_redis.py).
REDIS_VARIABLE = "REDIS_URL"


def _blocks(inventory: Any, case: Any, backend: str) -> list[Any]:
    """The blocks a case runs: its own, and for an output block its page project's files."""
    blocks = list(case.members)
    if case.kind == "output":  # an output block runs its page project's files
        blocks += inventory.project_files(case.page, case.first.project, backend)
    return blocks


def _uses_replica(inventory: Any, case: Any, backend: str) -> bool:
    return backend == "postgresql" and any(REPLICA_VARIABLE in member.block.content
                                           for member in _blocks(inventory, case, backend))


def _case_blocks(request: pytest.FixtureRequest, doc_backend: str) -> list[Any]:
    """The blocks a case runs (:func:`_blocks`)."""
    return _blocks(settings(request.config).inventory(), request.getfixturevalue("doc_case"), doc_backend)


@pytest.fixture
def doc_database_url(doc_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of ``doc_backend``: a SQLite file, or a new PostgreSQL database.

    On PostgreSQL, a case whose blocks name ``DATABASE_REPLICA_URL`` also gets that variable: the
    same database on a streaming replica of the test server (started on first use). On both, a case
    whose blocks name ``REDIS_URL`` gets the URL of the suite's Redis server (running).
    """
    blocks = _case_blocks(request, doc_backend)
    if any(REDIS_VARIABLE in member.block.content for member in blocks):
        request.getfixturevalue("monkeypatch").setenv(REDIS_VARIABLE, request.getfixturevalue("redis_url"))
    if doc_backend == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        if any(REPLICA_VARIABLE in member.block.content for member in blocks):
            replica = request.getfixturevalue("replica_running")
            replica.wait_for_replay()  # the new database exists on the replica
            request.getfixturevalue("monkeypatch").setenv(REPLICA_VARIABLE, replica.url(url))
        return url
    return f"sqlite:///{tmp_path / 'test.db'}"


class _Summary:
    """Collects the doc tests' outcomes (from every xdist worker's reports) and prints the summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name != "docval":
                continue
            if report.when == "call":
                self.results.append(json.loads(value))
            elif report.when == "setup" and report.outcome != "passed":
                self.results.append({**json.loads(value), "outcome": report.outcome})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        ran = any(DOC_TESTS_FILE in str(getattr(r, "nodeid", "")) for k in ("passed", "failed", "error", "skipped")
                  for r in terminalreporter.stats.get(k, []))
        if not ran:
            return
        current = settings(self.config)
        inventory = current.inventory()
        terminalreporter.section("doc validation")
        terminalreporter.write_line(f"site: {inventory.site.config_file}")
        for line in summary_lines(inventory, self.results):
            terminalreporter.write_line(line)
        if current.update_dir is not None:
            for line in apply_updates(current.update_dir, inventory):
                terminalreporter.write_line(line)
