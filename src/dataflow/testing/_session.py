"""The session-loop isolation mode: ``dataflow_isolated_session``.

One ``DataFlow`` per xdist worker lives on pytest-asyncio's session event loop; each test runs on that
loop too, inside the instance's ``isolated(join_instances=True)`` (one transaction, rolled back at
teardown, on a connection its pool keeps open across tests). The per-test cost is then a ``BEGIN``
and a ``ROLLBACK`` on a warm connection, as with a hand-written session-connection rollback fixture.

For the tests to run on the session loop, :class:`SessionLoopMarker` adds
``pytest.mark.asyncio(loop_scope="session")`` in front of the marker of every test that requests the
fixture (``asyncio_mode = auto`` adds a plain ``asyncio`` mark; strict mode needs it written). A test
that still runs on another loop fails its setup with DF-827 (:func:`check_session_loop`), naming what
to change.
"""

from __future__ import annotations

import pytest

from .._errors import IsolationModeError

__all__ = ["PLUGIN_NAME", "SESSION_FIXTURE", "SessionLoopMarker", "check_session_loop"]

#: The name :class:`SessionLoopMarker` is registered under.
PLUGIN_NAME = "dataflow-session-loop-marker"

#: The fixture of the session-loop mode.
SESSION_FIXTURE = "dataflow_isolated_session"


def _marked_scope(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("asyncio")
    if marker is None:
        return None
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    return str(scope) if scope else None


#: Fixtures from these modules are known not to write to the database (pytest's, pytest-asyncio's, ours).
_QUIET_MODULES = ("_pytest.", "pytest_asyncio.", "dataflow.testing")
#: But these of ours commit: an instance outside any isolation, whose teardown drops its tables.
_WRITING_FIXTURES = frozenset({"dataflow_db", "dataflow_db_module", "dataflow_db_session"})


def _quiet_fixture(fixturedef: pytest.FixtureDef[object]) -> bool:
    return fixturedef.argname not in _WRITING_FIXTURES and str(
        getattr(fixturedef.func, "__module__", "")
    ).startswith(_QUIET_MODULES)


class SessionLoopMarker:
    """Puts the tests that request ``dataflow_isolated_session`` on the session event loop, and counts
    what else runs (:attr:`activity`): every test call and the setup and teardown of every fixture
    that is not pytest's, pytest-asyncio's or this plugin's (but ``dataflow_db*``). When the count has
    not moved since the previous isolated test's escaped-writes check, nothing could have committed in
    between (short of a thread or a task that outlived its test), so the next check of either isolated
    fixture starts from that result.
    """

    def __init__(self) -> None:
        self.activity = 0

    def count(self) -> int:
        return self.activity

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self.activity += 1

    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[object]) -> None:
        if not _quiet_fixture(fixturedef):
            self.activity += 1

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[object]) -> None:
        if not _quiet_fixture(fixturedef):
            self.activity += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if SESSION_FIXTURE not in getattr(item, "fixturenames", ()):
                continue
            # Only tests pytest-asyncio runs (auto mode marks every coroutine test; strict mode the
            # marked ones), and only when their marker names no loop scope: an explicit other scope
            # is the test author's choice, reported as DF-827 in the fixture's setup.
            if item.get_closest_marker("asyncio") is not None and _marked_scope(item) is None:
                item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


def check_session_loop(item: pytest.Item) -> None:
    """Raise DF-827 when ``item`` does not run on the session event loop."""
    scope = getattr(item, "_loop_scope", None)  # pytest-asyncio's coroutine test items (>= 1.0)
    if scope == "session":
        return
    if scope is None:
        why = (
            "it is not run by pytest-asyncio (a sync test, or an async test without "
            "@pytest.mark.asyncio in asyncio_mode = strict)"
        )
        fix = (
            'make it "async def" and mark it @pytest.mark.asyncio(loop_scope="session") (asyncio_mode = auto '
            "adds the mark itself)"
        )
    else:
        why = f'its asyncio marker (on the test, its class or its module) sets loop_scope="{scope}"'
        fix = 'change that marker to @pytest.mark.asyncio(loop_scope="session") or remove its loop_scope'
    raise IsolationModeError(
        f"Test {item.nodeid} requests {SESSION_FIXTURE}, whose connection lives on the session event loop, "
        f"but the test does not run on that loop: {why}. To fix it, {fix}; or request dataflow_isolated, "
        "which runs on the test's own loop.",
        context={"test": item.nodeid, "loop_scope": scope},
    )
