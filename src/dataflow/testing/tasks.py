"""Background tasks in tests: track them, and cancel and await them when the test ends.

A test that starts work in the background (``asyncio.create_task``, a service's worker loop) must
stop that work before its event loop closes, or the task runs into the next test, dies with
``Event loop is closed``, or is reported by the leak check (DF-701). Hand the task to a
:class:`TaskTracker` (the ``dataflow_tasks`` fixture gives one per test)::

    async def test_worker_writes(dataflow_tasks, dataflow_isolated):
        dataflow_tasks.create_task(worker(dataflow_isolated))     # or .track_task(task)
        ...
        # teardown: every tracked task still running is cancelled and awaited

:meth:`TaskTracker.adopt_new_tasks` tracks every task started on the loop since the tracker was
made, the way the leak check finds them, for code under test that starts tasks of its own.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest_asyncio

from .._errors import ConfigurationError, InvalidTaskError, TaskNotStoppedError

__all__ = ["TaskTracker", "dataflow_tasks", "describe_task", "tracked_tasks"]

T = TypeVar("T")

#: Every task a tracker holds: the leak check leaves them to the tracker's teardown.
_TRACKED: weakref.WeakSet[asyncio.Future[Any]] = weakref.WeakSet()


def tracked_tasks() -> set[asyncio.Future[Any]]:
    """The tasks some :class:`TaskTracker` tracks and has not stopped yet."""
    return {task for task in _TRACKED if not task.done()}


def describe_task(task: asyncio.Future[Any]) -> str:
    """``task 'name' running coro_qualname`` (what the leak check and DF-710 print)."""
    if not isinstance(task, asyncio.Task):
        return repr(task)
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or repr(coro)
    return f"task {task.get_name()!r} running {name}"


class TaskTracker:
    """Tasks a test started, stopped together by :meth:`close`.

    Args:
        timeout: How long :meth:`close` waits, in seconds, for the cancelled tasks to finish before
            it raises :class:`~dataflow.TaskNotStoppedError` (DF-710).

    Raises:
        ConfigurationError: DF-802, ``timeout`` is not greater than 0.

    Use it as ``async with TaskTracker() as tasks:`` or through the ``dataflow_tasks`` fixture. Create
    it inside the event loop that runs the tasks.
    """

    def __init__(self, *, timeout: float = 5.0) -> None:
        if not timeout > 0:
            raise ConfigurationError(
                f"TaskTracker(timeout={timeout!r}): the timeout is the number of seconds close() waits "
                "for cancelled tasks, and must be greater than 0.",
                context={"setting": "timeout"},
            )
        self.timeout = timeout
        self._tasks: list[asyncio.Future[Any]] = []
        try:
            self._before: set[asyncio.Task[Any]] = asyncio.all_tasks()
        except RuntimeError:  # no running loop: adopt_new_tasks() then sees every task
            self._before = set()

    @property
    def tasks(self) -> list[asyncio.Future[Any]]:
        """The tracked tasks, in the order they were tracked (finished ones included)."""
        return list(self._tasks)

    @property
    def pending(self) -> list[asyncio.Future[Any]]:
        """The tracked tasks that have not finished."""
        return [task for task in self._tasks if not task.done()]

    def track_task(self, task: asyncio.Future[T]) -> asyncio.Future[T]:
        """Track ``task`` (an :class:`asyncio.Task` or future) and return it.

        Raises:
            InvalidTaskError: DF-805, ``task`` is not a task or future (a coroutine: use :meth:`create_task`).
        """
        if not isinstance(task, asyncio.Future):
            what = "a coroutine" if asyncio.iscoroutine(task) else type(task).__name__
            raise InvalidTaskError(
                f"track_task() takes an asyncio task or future, not {what} ({task!r}).",
                context={"value": repr(task)},
            )
        if task not in self._tasks:
            self._tasks.append(task)
            _TRACKED.add(task)
        return task

    def create_task(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Start ``coro`` as a task on the running loop and track it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.track_task(task)
        return task

    def adopt_new_tasks(self) -> list[asyncio.Task[Any]]:
        """Track every unfinished task started on the running loop since this tracker was created
        (except the current one); return the tasks newly tracked."""
        current = asyncio.current_task()
        found = [t for t in asyncio.all_tasks() - self._before if t is not current and not t.done()]
        new = [t for t in found if t not in self._tasks]
        for task in new:
            self.track_task(task)
        return new

    async def close(self) -> None:
        """Cancel the tracked tasks that still run and wait for them to finish.

        Raises:
            TaskNotStoppedError: DF-710, a task was still running ``timeout`` seconds after it was
                cancelled (it swallows ``CancelledError``).
            Exception: the first error a tracked task ended with before it was cancelled, so a failing
                background task fails the test.
        """
        running = self.pending
        failed = [t for t in self._tasks if t.done() and not t.cancelled() and t.exception() is not None]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=self.timeout)
        stuck = [t for t in running if not t.done()]
        if stuck:
            names = "; ".join(describe_task(t) for t in stuck)
            raise TaskNotStoppedError(
                f"{len(stuck)} tracked task(s) still running {self.timeout:g}s after cancel(): {names}.",
                context={"tasks": names},
            )
        failed += [t for t in running if not t.cancelled() and t.exception() is not None]
        self._tasks = [t for t in self._tasks if not t.done()]
        if failed:
            error = failed[0].exception()
            assert error is not None
            raise error

    async def __aenter__(self) -> TaskTracker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@pytest_asyncio.fixture
async def dataflow_tasks() -> AsyncIterator[TaskTracker]:
    """A :class:`TaskTracker` for one test: tasks it tracks are cancelled and awaited at teardown."""
    tracker = TaskTracker()
    try:
        yield tracker
    finally:
        await tracker.close()
