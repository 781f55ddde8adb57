"""The leak check: after each test, report what it left open (DF-701).

A test leaks when, after all its fixtures are torn down:

* a pool it caused to be created had to be closed by DataFlow's safety net (the event loop shut
  down with the pool still open, or the pool went stale) — the code never cleaned it up;
* a pool still has connections checked out;
* asyncio tasks it started are still pending on its event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from .._errors import ResourceLeakError
from .._events import PoolEvent, subscribe
from .._pool import checked_out
from .tasks import tracked_tasks

__all__ = ["LeakCheck"]

_TASKS_KEY = pytest.StashKey[list[str]]()


def _test_loop(item: pytest.Function) -> asyncio.AbstractEventLoop | None:
    """The event loop pytest-asyncio runs this coroutine test on (``None`` for other tests)."""
    scope = getattr(item, "_loop_scope", None)  # set on pytest-asyncio's (>= 1.0) coroutine test items
    runner = item.funcargs.get(f"_{scope}_scoped_runner") if scope else None
    get_loop = getattr(runner, "get_loop", None)
    if get_loop is None:
        return None
    loop: asyncio.AbstractEventLoop = get_loop()
    return loop


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or repr(coro)
    return f"task {task.get_name()!r} running {name}"


def _where(created_at: str) -> str:
    """The creation site's frames, innermost first (so a helper's caller, the test, is named too)."""
    frames = [line.strip() for line in created_at.splitlines() if line.strip().startswith("File ")]
    return " <- ".join(reversed(frames)) if frames else "unknown (enable test mode)"


class LeakCheck:
    """Registered as a plugin when the leak check is enabled."""

    def __init__(self) -> None:
        # One subscription for the session: pools the safety net closes from a test's setup to its
        # teardown are that test's leaks (tests of one process run one at a time).
        self._events: list[PoolEvent] | None = None
        self._unsubscribe = subscribe(self._pool_event)

    def _pool_event(self, event: PoolEvent) -> None:
        if event.by_safety_net and self._events is not None:
            self._events.append(event)

    def pytest_unconfigure(self) -> None:
        self._unsubscribe()

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        # Only coroutine tests: their event loop is the current loop while the test runs (set by
        # pytest-asyncio's runner). Sync tests are left alone, so tools that run their own loop in
        # the test's thread (Playwright's sync API, for one) are not disturbed.
        loop = _test_loop(pyfuncitem)
        before = asyncio.all_tasks(loop) if loop is not None else set()
        try:
            return (yield)
        finally:
            if loop is not None and not loop.is_closed() and (started := asyncio.all_tasks(loop) - before):
                # Tasks a TaskTracker owns are stopped by its teardown (DF-710 if they do not stop).
                leftover = [t for t in started - tracked_tasks() if not t.done()]
                pyfuncitem.stash[_TASKS_KEY] = [_task_name(t) for t in leftover]
                for task in leftover:  # do not let them bleed into the next test
                    task.cancel()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._events = []

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        try:
            result = yield
        finally:
            events, self._events = self._events or [], None
        marker = item.get_closest_marker("dataflow_leaks_expected")
        if marker is not None:
            if not marker.kwargs.get("reason") and not marker.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.dataflow_leaks_expected needs reason=..."
                )
            return result
        problems = [
            f"a pool for {event.url} was never closed (DataFlow closed it at {event.closed_by}); "
            f"created at: {_where(event.created_at)}"
            for event in events
        ]
        problems += [f"{count} connection(s) of {url} are still checked out" for url, count in checked_out()]
        problems += [f"{name} is still pending" for name in item.stash.get(_TASKS_KEY, ())]
        if problems:
            raise ResourceLeakError(
                f"Test {item.nodeid} left resources open:\n  - " + "\n  - ".join(problems),
                context={"test": item.nodeid},
            )
        return result
