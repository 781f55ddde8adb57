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
* ``parse`` and, with ``--import``, ``import``: files that do not parse or fail to import.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .._catalog import docs_base_url
from .._errors import InvalidURLError
from .._url import DatabaseURL
from ._common import EXIT_FINDINGS, EXIT_OK, UsageError, add_command, emit, plural
from ._pytest_project import (
    Fixture,
    Module,
    Project,
    TestFunction,
    load_project,
    wider,
)

__all__ = ["NAME", "ANCHORS", "SUPPORTED", "Finding", "diagnose", "register"]

#: The docs section each check links to (page path on the site, then the anchor).
ANCHORS: dict[str, str] = {
    "parse": "guide/debugging/#what-dataflow-doctor-checks",
    "import": "guide/debugging/#what-dataflow-doctor-checks",
    "loop-scope": "troubleshooting/#scopemismatch",
    "test-loop": "troubleshooting/#attached-to-a-different-loop",
    "event-loop": "troubleshooting/#leftover-event-loop-fixture",
    "event-loop-requested": "troubleshooting/#fixture-event-loop-not-found",
    "asyncio-mode": "troubleshooting/#async-def-functions-are-not-natively-supported",
    "import-time-dataflow": "troubleshooting/#dataflow-created-at-import-time",
    "versions": "troubleshooting/#unsupported-versions",
    "database-url": "troubleshooting/#connection-refused",
    "database-url-invalid": "troubleshooting/errors/#df-801",
    "database-url-name": "troubleshooting/#not-a-test-database",
    "plugin": "troubleshooting/#fixture-dataflow-db-not-found",
}

#: The plugin versions the guide supports: ``(lowest, first unsupported)`` release.
SUPPORTED: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "pytest-asyncio": ((1, 0), (2, 0)),
    "pytest-xdist": ((3, 0), (4, 0)),
}

_CONNECT_TIMEOUT = 3.0
_MAX_LISTED = 8


@dataclass
class Finding:
    """One problem ``dataflow doctor`` found.

    Attributes:
        check: The check's id (``loop-scope``, ``plugin``, ...).
        path: The file, relative to the project directory (None: the environment).
        line: The line in ``path`` (None: the whole file or none).
        message: What is wrong and what happens when pytest runs.
        fix: What to change.
        details: Extra lines, such as the tests that use a fixture.
        anchor: The docs page and section that explain the fix (``troubleshooting/#scopemismatch``).
    """

    check: str
    path: str | None
    line: int | None
    message: str
    fix: str
    details: list[str] = field(default_factory=list)
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = ANCHORS[self.check]

    @property
    def url(self) -> str:
        """The full link of the docs section."""
        return docs_base_url() + self.anchor

    @property
    def location(self) -> str:
        """``conftest.py:12``, ``pytest.ini`` or ``environment``."""
        if self.path is None:
            return "environment"
        return f"{self.path}:{self.line}" if self.line else self.path

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (with its full link)."""
        return {**asdict(self), "url": self.url}

    def render(self) -> str:
        """The finding as plain text: location, message, details, fix and link."""
        lines = [f"{self.location}: [{self.check}] {self.message}"]
        lines += [f"    {detail}" for detail in self.details]
        lines += [f"    fix: {self.fix}", f"    see: {self.url}"]
        return "\n".join(lines)


def _listed(label: str, items: list[str]) -> list[str]:
    """``used by: a, b, c`` on one line per item, at most a few, then ``and N more``."""
    shown = [f"{label}: {item}" for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        shown.append(f"{label}: ... and {len(items) - _MAX_LISTED} more")
    return shown


# --- checks -----------------------------------------------------------------------------------------


def _handled(project: Project, fixture: Fixture) -> bool:
    """True when pytest-asyncio runs this async fixture (auto mode, or ``@pytest_asyncio.fixture``)."""
    return fixture.is_async and (fixture.asyncio_decorator or project.config.asyncio_mode == "auto")


def _fixture_loop(project: Project, fixture: Fixture) -> str | None:
    """The loop scope pytest-asyncio 1.x gives an async fixture (None when its scope is not a literal)."""
    if fixture.scope is None:
        return None
    if fixture.loop_scope:
        return fixture.loop_scope
    default = project.config.option("asyncio_default_fixture_loop_scope")
    if default == "fixture-scope" or not default:
        return fixture.scope
    return default


def _test_handled(project: Project, test: TestFunction) -> bool:
    if not test.is_async or test.other_async_marker:
        return False
    return test.asyncio_marked or project.config.asyncio_mode == "auto"


def _test_loop(project: Project, test: TestFunction) -> str:
    return test.loop_scope or project.config.option("asyncio_default_test_loop_scope") or "function"


def check_parse(project: Project) -> list[Finding]:
    """Files that do not parse: pytest fails to collect them, and the other checks skip them."""
    return [
        Finding(
            "parse",
            m.rel,
            None,
            f"cannot be parsed ({m.error}); pytest reports it as a collection error and doctor skips it.",
            "Fix the syntax error, then run dataflow doctor again.",
        )
        for m in project.modules
        if m.error
    ]


def check_loop_scope(project: Project) -> list[Finding]:
    """Async fixtures cached for longer than the event loop they run on (ScopeMismatch)."""
    findings = []
    for fixture in project.fixtures:
        if not _handled(project, fixture) or fixture.scope is None:
            continue
        loop = _fixture_loop(project, fixture)
        if loop is None or not wider(fixture.scope, loop):
            continue
        source = (
            f'loop_scope="{fixture.loop_scope}"'
            if fixture.loop_scope
            else project.config.where("asyncio_default_fixture_loop_scope")
        )
        users = [t.nodeid for t in project.tests if fixture in project.closure(t)]
        details = _listed("used by", users) or ["used by: no test yet"]
        findings.append(
            Finding(
                "loop-scope",
                fixture.module.rel if fixture.module else None,
                fixture.line,
                f'async fixture \'{fixture.name}\' has scope="{fixture.scope}" but runs on a {loop}-scoped '
                f"event loop ({source}); pytest stops every test that uses it with ScopeMismatch.",
                f'declare it with @pytest_asyncio.fixture(scope="{fixture.scope}", loop_scope="{fixture.scope}") '
                f"and run the tests that use it on that loop.",
                details,
            )
        )
    return findings


def check_test_loop(project: Project) -> list[Finding]:
    """Async tests on a narrower loop than an async fixture they use ("attached to a different loop")."""
    by_fixture: dict[int, tuple[Fixture, str, list[TestFunction]]] = {}
    for test in project.tests:
        if not _test_handled(project, test):
            continue
        test_loop = _test_loop(project, test)
        parents = project.requested_by(test)
        reported: set[Fixture] = set()
        for fixture, parent in parents.items():  # requesters come before what they request
            ancestor = parent
            while ancestor is not None and ancestor not in reported:
                ancestor = parents.get(ancestor)
            if ancestor is not None or not _handled(project, fixture) or fixture.scope is None:
                continue  # only the outermost fixture on a wider loop is reported
            loop = _fixture_loop(project, fixture)
            if loop is None or wider(fixture.scope, loop):
                continue  # reported by loop-scope
            if wider(loop, test_loop):
                reported.add(fixture)
                by_fixture.setdefault(id(fixture), (fixture, loop, []))[2].append(test)
    findings = []
    for fixture, loop, tests in by_fixture.values():
        first = tests[0]
        loops = sorted({_test_loop(project, t) for t in tests})
        findings.append(
            Finding(
                "test-loop",
                first.module.rel,
                first.line,
                f"fixture '{fixture.name}' ({fixture.where}) runs on the {loop} event loop, but "
                f"{plural(len(tests), 'test')} that {'uses it runs' if len(tests) == 1 else 'use it run'} on "
                f"{' and '.join(loops)} loops: connections and transactions it opened belong to the "
                f"{loop} loop (DF-506, 'attached to a different loop').",
                f'run these tests on the {loop} loop: pytestmark = pytest.mark.asyncio(loop_scope="{loop}") '
                f"in the test module, or asyncio_default_test_loop_scope = {loop}.",
                _listed("test", [t.nodeid for t in tests]),
            )
        )
    return findings


def check_event_loop(project: Project) -> list[Finding]:
    """A leftover ``event_loop`` fixture (ignored by pytest-asyncio 1.x), or tests requesting one."""
    findings = []
    defined = [f for f in project.fixtures if f.name == "event_loop"]
    for fixture in defined:
        assert fixture.module is not None
        users = [r[0] for r in project.requesters("event_loop")]
        findings.append(
            Finding(
                "event-loop",
                fixture.module.rel,
                fixture.line,
                "defines an 'event_loop' fixture: pytest-asyncio 1.x no longer uses it, so tests run on "
                "pytest-asyncio's own loops while anything this fixture sets up lives on a loop no test uses.",
                "delete the fixture; make code that used it async and await it, and use loop_scope for a "
                "wider loop.",
                _listed("requested by", users),
            )
        )
    if not defined:
        for who, module, line in project.requesters("event_loop"):
            findings.append(
                Finding(
                    "event-loop",
                    module.rel,
                    line,
                    f"{who} requests the 'event_loop' fixture, which pytest-asyncio 1.0 removed: "
                    "pytest fails it with \"fixture 'event_loop' not found\".",
                    "make it async def and await the coroutine; inside async code use "
                    "asyncio.get_running_loop().",
                    anchor=ANCHORS["event-loop-requested"],
                )
            )
    return findings


def check_asyncio_mode(project: Project) -> list[Finding]:
    """Strict mode with async tests or fixtures that nothing makes pytest-asyncio run."""
    config = project.config
    if config.asyncio_mode == "auto":
        return []
    tests = [t for t in project.tests if t.is_async and not t.asyncio_marked and not t.other_async_marker]
    fixtures = [f for f in project.fixtures if f.is_async and not f.asyncio_decorator]
    if not tests and not fixtures:
        return []
    mode = config.where("asyncio_mode") if config.option("asyncio_mode") else "asyncio_mode is not set"
    parts = []
    if tests:
        parts.append(
            f"{plural(len(tests), 'async test')} without @pytest.mark.asyncio "
            f"{'fails' if len(tests) == 1 else 'fail'} with \"async def functions are not natively supported\""
        )
    if fixtures:
        parts.append(
            f"{plural(len(fixtures), 'async fixture')} declared with @pytest.fixture "
            f"{'is' if len(fixtures) == 1 else 'are'} not run by pytest-asyncio (a setup error under pytest 9)"
        )
    details = _listed("test", [t.nodeid for t in tests]) + _listed(
        "fixture", [f"{f.name} ({f.where})" for f in fixtures]
    )
    return [
        Finding(
            "asyncio-mode",
            project.rel(config.file) if config.file else None,
            None,
            f"pytest-asyncio runs in strict mode ({mode}): {'; '.join(parts)}.",
            "add asyncio_mode = auto to the pytest configuration (or mark every async test with "
            "@pytest.mark.asyncio and declare async fixtures with @pytest_asyncio.fixture).",
            details,
        )
    ]


def check_import_time_dataflow(project: Project) -> list[Finding]:
    """``DataFlow(...)`` created while a test module or conftest is imported."""
    return [
        Finding(
            "import-time-dataflow",
            module.rel,
            line,
            "creates a DataFlow instance at import time: every test shares it, on whichever event loop "
            "touches it first, and no fixture closes it (DF-701 with the leak check on).",
            "create it in a fixture that closes it (await db.close() at teardown), or request the "
            "dataflow_db fixture of dataflow.testing.",
        )
        for module in project.modules
        for line in module.dataflow_calls
    ]


def _version(text: str) -> tuple[int, ...]:
    numbers = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(p) for p in numbers.group(0).split(".")) if numbers else ()


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _uses_xdist(project: Project) -> bool:
    config = project.config
    return config.cli_option("-n", "--numprocesses") is not None or config.cli_option("--dist") is not None


def check_versions(project: Project) -> list[Finding]:
    """pytest-asyncio and pytest-xdist versions outside what the guide supports."""
    findings = []
    needs_asyncio = (
        any(t.is_async and not t.other_async_marker for t in project.tests)
        or any(f.is_async for f in project.fixtures)
        or project.config.option("asyncio_mode") is not None
    )
    where = f"in this Python environment ({sys.executable})"
    for name, needed in (("pytest-asyncio", needs_asyncio), ("pytest-xdist", _uses_xdist(project))):
        low, high = SUPPORTED[name]
        supported = f"{'.'.join(map(str, low))} or later, below {'.'.join(map(str, high))}"
        installed = _installed(name)
        if installed is None:
            if needed:
                why = "the project has async tests or fixtures" if name == "pytest-asyncio" else "addopts uses -n"
                findings.append(
                    Finding(
                        "versions",
                        None,
                        None,
                        f"{name} is not installed {where}, but {why}.",
                        f'install a supported version: python -m pip install "{name}>={low[0]}.{low[1]},<{high[0]}"',
                    )
                )
            continue
        version = _version(installed)
        if not low <= version < high:
            findings.append(
                Finding(
                    "versions",
                    None,
                    None,
                    f"{name} {installed} is installed {where}; the guide supports {supported}.",
                    f'install a supported version: python -m pip install "{name}>={low[0]}.{low[1]},<{high[0]}"',
                )
            )
    return findings


def _reachable(url: DatabaseURL) -> str | None:
    """None when something accepts connections at the URL's host and port, else the reason."""
    port = url.port or 5432
    host = url.host or "localhost"
    try:
        if host.startswith("/"):
            path = os.path.join(host, f".s.PGSQL.{port}")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_CONNECT_TIMEOUT)
                sock.connect(path)
        else:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT):
                pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def check_database_url(project: Project, url_text: str | None, source: str) -> list[Finding]:
    """DATABASE_URL: parseable, reachable, and naming a test database."""
    if not url_text:
        return []
    try:
        url = DatabaseURL.parse(url_text)
    except InvalidURLError as exc:
        return [
            Finding(
                "database-url",
                None,
                None,
                f"{source} is not a URL DataFlow accepts: {exc.detail}",
                "use sqlite:///path/test.db or postgresql://user:password@host:port/name_test.",
                anchor=ANCHORS["database-url-invalid"],
            )
        ]
    findings = []
    if url.dialect == "postgresql":
        reason = _reachable(url)
        if reason is not None:
            findings.append(
                Finding(
                    "database-url",
                    None,
                    None,
                    f"{source} points at {url.location}, where nothing accepts connections ({reason}); "
                    f"every test that uses the database fails with DF-501.",
                    f"start the server (pg_isready -h {url.host or 'localhost'} -p {url.port or 5432} checks it) "
                    "or correct the host and port in the URL.",
                )
            )
    name = Path(url.database).name if url.dialect == "sqlite" else url.database
    if not url.is_memory and "test" not in name.lower():
        findings.append(
            Finding(
                "database-url",
                None,
                None,
                f"{source} names the database '{name}', which does not look like a test database: DataFlow's "
                "fixtures drop the tables they create there.",
                "point tests at a database whose name says so (app_test, test_app) and keep data you need "
                "elsewhere.",
                anchor=ANCHORS["database-url-name"],
            )
        )
    return findings


_PLUGIN = "dataflow.testing"


def check_plugin(project: Project) -> list[Finding]:
    """DataFlow's fixtures requested while ``dataflow.testing`` is not enabled."""
    plugin_names = {f.name for f in project.plugin}
    defined = {f.name for f in project.fixtures}
    # pytest's initial conftests: those of the rootdir, the testpaths and their test* directories.
    top_dirs = {project.config.rootdir, project.start}
    testpaths = project.config.option("testpaths")
    if testpaths:
        top_dirs |= {project.config.rootdir / p for p in testpaths.split()}
    top_dirs |= {d for top in list(top_dirs) if top.is_dir() for d in top.glob("test*") if d.is_dir()}
    findings = []
    enabled = _PLUGIN in project.config.plugins() or _PLUGIN in os.environ.get("PYTEST_PLUGINS", "").split(",")
    for module in project.modules:
        if _PLUGIN not in module.pytest_plugins:
            continue
        if module.is_conftest and module.path.parent not in top_dirs:
            findings.append(
                Finding(
                    "plugin",
                    module.rel,
                    module.pytest_plugins_line,
                    "enables dataflow.testing in a conftest.py that is not at the top of the test tree: pytest "
                    "stops with \"Defining 'pytest_plugins' in a non-top-level conftest is no longer supported\".",
                    "move pytest_plugins = [\"dataflow.testing\"] to the conftest.py in the rootdir "
                    f"({project.rel(project.config.rootdir / 'conftest.py')}).",
                )
            )
        enabled = True
    if enabled:
        return findings
    missing = sorted(plugin_names - defined)
    requested: dict[str, list[str]] = {}
    for name in missing:
        for who, _module, _line in project.requesters(name):
            requested.setdefault(who, []).append(name)
    if not requested:
        return findings
    root_conftest = project.rel(project.config.rootdir / "conftest.py")
    first = next((t for t in project.tests if any(n in t.requests for n in missing)), None)
    findings.append(
        Finding(
            "plugin",
            first.module.rel if first else None,
            first.line if first else None,
            "DataFlow's fixtures are requested but the dataflow.testing plugin is not enabled: pytest fails "
            f"{'these' if len(requested) > 1 else 'it'} with \"fixture '{next(iter(requested.values()))[0]}' "
            'not found".',
            f'add pytest_plugins = ["dataflow.testing"] to {root_conftest} (or -p dataflow.testing to addopts).',
            _listed("requested by", [f"{who} ({', '.join(names)})" for who, names in requested.items()]),
        )
    )
    return findings


# --- --import ---------------------------------------------------------------------------------------

_IMPORT_SCRIPT = r"""
import importlib, json, sys, traceback
from pathlib import Path
results = []
for path, base, name in json.loads(sys.argv[1]):
    if base not in sys.path:
        sys.path.insert(0, base)
    entry = {"path": path, "error": None, "dataflow": []}
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        entry["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    else:
        from dataflow import DataFlow
        entry["dataflow"] = sorted(k for k, v in vars(module).items() if isinstance(v, DataFlow))
    results.append(entry)
print(json.dumps(results))
"""


def _import_name(path: Path) -> tuple[Path, str]:
    """pytest's ``prepend`` import mode: the first directory upwards without ``__init__.py``, and the name."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return directory, ".".join(parts)


def check_imports(project: Project) -> list[Finding]:
    """Import every conftest and test module in a child process: import errors, DataFlow globals."""
    modules = [m for m in project.modules if not m.error]
    if not modules:
        return []
    plan = []
    for module in modules:
        base, name = _import_name(module.path)
        plan.append((module.rel, str(base), name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_SCRIPT, json.dumps(plan)],
        cwd=project.config.rootdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        results = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return [
            Finding(
                "import",
                None,
                None,
                f"importing the project's modules stopped the child process (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-400:]}",
                "run python -c 'import MODULE' for each test module to find the one that exits or crashes.",
            )
        ]
    by_rel: dict[str, Module] = {m.rel: m for m in modules}
    findings = []
    for entry in results:
        module = by_rel[entry["path"]]
        if entry["error"]:
            findings.append(
                Finding(
                    "import",
                    module.rel,
                    None,
                    f"fails to import: {entry['error'].splitlines()[-1]}; pytest reports a collection error.",
                    "fix the import error (python -c 'import ...' in the rootdir shows the full traceback).",
                )
            )
        elif entry["dataflow"] and not module.dataflow_calls:
            findings.append(
                Finding(
                    "import-time-dataflow",
                    module.rel,
                    None,
                    f"holds DataFlow instances created at import time ({', '.join(entry['dataflow'])}), "
                    "through a helper the static check cannot see: every test shares them and no fixture "
                    "closes them.",
                    "create the instance in a fixture that closes it, or request dataflow_db.",
                )
            )
    return findings


# --- running ----------------------------------------------------------------------------------------

_STATIC_CHECKS: tuple[Callable[[Project], list[Finding]], ...] = (
    check_parse,
    check_loop_scope,
    check_test_loop,
    check_event_loop,
    check_asyncio_mode,
    check_import_time_dataflow,
    check_plugin,
    check_versions,
)


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
    for check in _STATIC_CHECKS:
        findings += check(project)
    source = "--database-url" if database_url is not None else "DATABASE_URL"
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL")
    findings += check_database_url(project, url, source)
    if import_modules:
        findings += check_imports(project)
    shown = None
    if url:
        try:
            shown = DatabaseURL.parse(url).redacted
        except InvalidURLError:
            shown = "(invalid)"
    return Diagnosis(project, findings, shown)


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
