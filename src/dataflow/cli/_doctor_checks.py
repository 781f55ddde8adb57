"""The checks of ``dataflow doctor`` that read the project's files (conftest.py and test modules).

Each check takes the :class:`~dataflow.cli._pytest_project.Project` and returns its findings.
"""

from __future__ import annotations

import os

from ._common import plural
from ._findings import ANCHORS, Finding, listed
from ._pytest_config import wider
from ._pytest_modules import Fixture, TestFunction
from ._pytest_project import Project

__all__ = [
    "PROJECT_CHECKS",
    "check_asyncio_mode",
    "check_event_loop",
    "check_import_time_dataflow",
    "check_loop_scope",
    "check_parse",
    "check_plugin",
    "check_test_loop",
    "fixture_loop",
]

def _handled(project: Project, fixture: Fixture) -> bool:
    """True when pytest-asyncio runs this async fixture (auto mode, or ``@pytest_asyncio.fixture``)."""
    return fixture.is_async and (fixture.asyncio_decorator or project.config.asyncio_mode == "auto")


def fixture_loop(project: Project, fixture: Fixture) -> str | None:
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
        loop = fixture_loop(project, fixture)
        if loop is None or not wider(fixture.scope, loop):
            continue
        source = (
            f'loop_scope="{fixture.loop_scope}"'
            if fixture.loop_scope
            else project.config.where("asyncio_default_fixture_loop_scope")
        )
        users = [t.nodeid for t in project.tests if fixture in project.closure(t)]
        details = listed("used by", users) or ["used by: no test yet"]
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
            loop = fixture_loop(project, fixture)
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
                listed("test", [t.nodeid for t in tests]),
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
                listed("requested by", users),
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
    details = listed("test", [t.nodeid for t in tests]) + listed(
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
            listed("requested by", [f"{who} ({', '.join(names)})" for who, names in requested.items()]),
        )
    )
    return findings



#: Every check that reads only the project's files, in report order.
PROJECT_CHECKS = (
    check_parse,
    check_loop_scope,
    check_test_loop,
    check_event_loop,
    check_asyncio_mode,
    check_import_time_dataflow,
    check_plugin,
)
