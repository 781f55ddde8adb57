"""The leak check: after each test, report what it left open (DF-701).

A test leaks when, after all its fixtures are torn down:

* a pool it caused to be created had to be closed by DataFlow's safety net (the event loop shut
  down with the pool still open, or the pool went stale) — the code never cleaned it up;
* a pool still has connections checked out;
* asyncio tasks it started are still pending on its event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest
import pytest_asyncio

from .._errors import ResourceLeakError
from .._pool import all_managers, safety_net_log

__all__ = ["LeakCheck"]

_TASKS_KEY = pytest.StashKey[list[str]]()
_MARK_KEY = pytest.StashKey[int]()


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

    @pytest_asyncio.fixture(autouse=True)
    async def _dataflow_leaked_tasks(self, request: pytest.FixtureRequest) -> AsyncIterator[None]:
        before = asyncio.all_tasks()
        yield
        await asyncio.sleep(0)  # let tasks that are finishing finish
        current = asyncio.current_task()  # teardown runs in a task of its own
        leftover = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        request.node.stash[_TASKS_KEY] = [_task_name(t) for t in leftover]
        for task in leftover:  # do not let them bleed into the next test
            task.cancel()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        item.stash[_MARK_KEY] = len(safety_net_log)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        result = yield
        marker = item.get_closest_marker("dataflow_leaks_expected")
        if marker is not None:
            if not marker.kwargs.get("reason") and not marker.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.dataflow_leaks_expected needs reason=..."
                )
            return result
        problems = []
        for entry in safety_net_log[item.stash.get(_MARK_KEY, len(safety_net_log)) :]:
            problems.append(
                f"a pool for {entry['url']} was never closed (DataFlow closed it at {entry['closed_by']}); "
                f"created at: {_where(entry['created_at'])}"
            )
        for manager in all_managers():
            for _loop, pool in manager.open_pools():
                if pool.in_use:
                    problems.append(
                        f"{pool.in_use} connection(s) of {manager.url.redacted} are still checked out"
                    )
        problems += [f"{name} is still pending" for name in item.stash.get(_TASKS_KEY, [])]
        if problems:
            raise ResourceLeakError(
                f"Test {item.nodeid} left resources open:\n  - " + "\n  - ".join(problems),
                context={"test": item.nodeid},
            )
        return result
