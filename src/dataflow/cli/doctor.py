"""``dataflow doctor``: find the mistakes in a project's async test setup before pytest runs.

Run it in a project (or pass the project directory). It reads the pytest configuration
(``pytest.ini``, ``pyproject.toml``, ``setup.cfg`` or ``tox.ini``), collects the ``conftest.py`` files
and test modules pytest would collect, and analyses them with ``ast`` without running a test and
without importing your code (``--import`` adds checks that import it, in a separate process).
Every finding names the file and line, what goes wrong when pytest runs, the fix, and the
troubleshooting section that explains it.

```console
$ dataflow doctor
$ dataflow doctor path/to/project --json
$ dataflow doctor --database-url postgresql://app@localhost:5432/app_test
```

The checks:

* ``loop-scope``: an async fixture whose scope is wider than its event loop's (``ScopeMismatch``),
  with the tests that use it;
* ``test-loop``: a test that runs on a narrower loop than an async fixture it uses;
* ``event-loop``: a leftover ``event_loop`` fixture, or a test that still requests one;
* ``asyncio-mode``: strict mode (no ``asyncio_mode = auto``) with unmarked async tests or async
  fixtures declared with ``@pytest.fixture``;
* ``import-time-dataflow``: a ``DataFlow(...)`` created when a test module or conftest is imported;
* ``versions``: a pytest-asyncio or pytest-xdist version the guide does not support;
* ``database-url``: ``DATABASE_URL`` invalid, unreachable (host and port shown, never the password)
  or naming a database that is not a test database;
* ``plugin``: DataFlow's fixtures requested while ``dataflow.testing`` is not enabled;
* ``change-feeds``: with a database URL, change feeds that retain more than 256 MiB and DataFlow
  replication slots that no feed owns (both keep write-ahead log on the server);
* ``parse`` and, with ``--import``, ``import``: files that do not parse or fail to import.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._common import EXIT_FINDINGS, EXIT_OK, UsageError, add_command, emit, plural
from ._doctor_cdc import check_change_feeds
from ._doctor_checks import PROJECT_CHECKS
from ._doctor_env import SUPPORTED, check_database_url, check_imports, check_versions, shown_url
from ._findings import ANCHORS, Finding
from ._pytest_project import Project, load_project

__all__ = ["ANCHORS", "CHECKS", "NAME", "SUPPORTED", "Diagnosis", "Finding", "diagnose", "register"]

# --- running ----------------------------------------------------------------------------------------

#: Every check on the project, in report order (the database URL and --import checks follow).
CHECKS: tuple[Callable[[Project], list[Finding]], ...] = (*PROJECT_CHECKS, check_versions)


@dataclass
class Diagnosis:
    """The result of :func:`diagnose`: the project that was read and what was found."""

    project: Project
    findings: list[Finding]
    database_url: str | None

    def summary(self) -> str:
        """``checked pytest.ini, 1 conftest.py, 2 test modules``."""
        p = self.project
        config = p.rel(p.config.file) if p.config.file else "no pytest configuration file"
        return (
            f"checked {config}, {plural(len(p.conftests), 'conftest.py', 'conftest.py files')}, "
            f"{plural(len(p.test_modules), 'test module')}"
        )


def diagnose(
    path: str | os.PathLike[str] = ".",
    *,
    database_url: str | None = None,
    import_modules: bool = False,
) -> Diagnosis:
    """Run every check on the project in ``path``.

    Args:
        path: The project directory (or one test file), as you would pass it to pytest.
        database_url: The URL to check; default: the ``DATABASE_URL`` environment variable.
        import_modules: Also import the conftest files and test modules, in a child process.

    Returns:
        The project and the findings, in check order.
    """
    project = load_project(Path(path))
    findings: list[Finding] = []
    for check in CHECKS:
        findings += check(project)
    source = "--database-url" if database_url is not None else "DATABASE_URL"
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL")
    url_findings = check_database_url(project, url, source)
    findings += url_findings
    if not any("nothing accepts connections" in f.message for f in url_findings):
        findings += check_change_feeds(url)
    if import_modules:
        findings += check_imports(project)
    return Diagnosis(project, findings, shown_url(url))


def _run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.exists():
        raise UsageError(f"{args.path}: no such file or directory")
    result = diagnose(path, database_url=args.database_url, import_modules=args.import_modules)
    lines = [f"dataflow doctor: {result.summary()} in {args.path}"]
    if result.database_url:
        lines.append(f"database: {result.database_url}")
    lines.append("")
    for finding in result.findings:
        lines += [finding.render(), ""]
    lines.append(
        f"{plural(len(result.findings), 'problem')} found." if result.findings else "No problems found."
    )
    data = {
        "command": "doctor",
        "project": args.path,
        "config": result.project.rel(result.project.config.file) if result.project.config.file else None,
        "conftest_files": [m.rel for m in result.project.conftests],
        "test_modules": [m.rel for m in result.project.test_modules],
        "database_url": result.database_url,
        "findings": [f.to_dict() for f in result.findings],
        "problems": len(result.findings),
    }
    emit(args, "\n".join(lines), data)
    return EXIT_FINDINGS if result.findings else EXIT_OK


#: The command's name on the command line.
NAME = "doctor"

_DESCRIPTION = """Find problems in a project's async test setup before pytest runs: it reads the pytest
configuration, conftest.py files and test modules with ast (nothing is imported unless --import
is given) and names, for each finding, the file and line, the fix and the docs section."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dataflow doctor`` to the command line."""
    parser = add_command(
        commands,
        NAME,
        help="find problems in a project's async test setup (without running tests)",
        description=_DESCRIPTION + "\n\nExit status: 0 no problem, 1 problems found, 2 bad usage.",
        run=_run,
    )
    parser.add_argument("path", nargs="?", default=".", help="the project directory or a test file (default: .)")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="check this URL instead of the DATABASE_URL environment variable (its password is never shown)",
    )
    parser.add_argument(
        "--import",
        dest="import_modules",
        action="store_true",
        help="also import conftest files and test modules (in a child process) to find import errors and "
        "DataFlow instances created through helpers",
    )
