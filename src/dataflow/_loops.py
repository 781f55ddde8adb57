"""Event-loop plumbing: close pools before their loop closes, and reach a pool's own loop.

``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio call ``loop.shutdown_asyncgens()`` before they
close a loop. DataFlow parks one async generator on every loop it creates a pool on; finalizing it
runs the loop's shutdown callbacks while the loop still runs, so pools close cleanly instead of
going stale.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

__all__ = [
    "close_loop_resources",
    "forget_loop_shutdown",
    "on_loop_shutdown",
    "run_blocking",
    "run_on_loop",
    "run_on_loop_sync",
]

logger = logging.getLogger("dataflow")
T = TypeVar("T")

#: ``callback(loop, by_owner)``: ``by_owner`` is True when the loop's owner closes it on purpose
#: (``close_loop_resources``), False when the loop shuts down with the resources still open.
ShutdownCallback = Callable[[asyncio.AbstractEventLoop, bool], Awaitable[None]]


class _LoopHook:
    __slots__ = ("callbacks",)

    def __init__(self) -> None:
        self.callbacks: dict[int, ShutdownCallback] = {}


#: Fallback home of the sentinel generators, for loop classes that take no attributes. (A sentinel
#: references its loop through its finalizer, so this keeps such loops alive until they shut down.)
_sentinels: dict[int, AsyncGenerator[None, None]] = {}


_hooks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopHook] = weakref.WeakKeyDictionary()
_hooks_lock = threading.Lock()


async def _sentinel(hook: _LoopHook) -> AsyncGenerator[None, None]:
    # No reference to the loop here: the generator is the value of a weak-keyed dict whose key is
    # the loop, and a reference back would keep every loop alive forever.
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        with _hooks_lock:
            if _hooks.get(loop) is hook:
                del _hooks[loop]
            _sentinels.pop(id(loop), None)
        await _run_callbacks(hook, loop, by_owner=False)


async def _run_callbacks(hook: _LoopHook, loop: asyncio.AbstractEventLoop, *, by_owner: bool) -> None:
    callbacks = list(hook.callbacks.values())
    hook.callbacks.clear()
    for callback in callbacks:
        try:
            await callback(loop, by_owner)
        except Exception as exc:  # shutdown must go on for the other owners
            logger.warning("DataFlow: closing pools at event-loop shutdown failed: %s", exc)


async def close_loop_resources() -> None:
    """Close what every owner holds on the running loop, on purpose (its owner is about to close it).

    ``LocalRuntime`` calls this before closing its own loop: the loop's pools are closed by the
    registry of that loop, not by visiting every DataFlow instance in the process.
    """
    loop = asyncio.get_running_loop()
    hook = _hooks.get(loop)
    if hook is not None:
        await _run_callbacks(hook, loop, by_owner=True)


def on_loop_shutdown(owner: object, callback: ShutdownCallback) -> None:
    """Run ``callback(loop)`` on the running loop when it shuts down (once per owner and loop).

    Must be called from a coroutine running on that loop.
    """
    loop = asyncio.get_running_loop()
    with _hooks_lock:
        hook = _hooks.get(loop)
        if hook is None:
            hook = _LoopHook()
            agen = _sentinel(hook)
            # Advance to the first ``yield`` synchronously: asyncio's first-iteration hook then
            # registers the generator with the loop, which finalizes it in shutdown_asyncgens().
            step = agen.__anext__()
            try:
                step.send(None)
            except StopIteration:
                pass
            # The loop keeps its own sentinel alive (loop -> generator -> loop is a cycle the garbage
            # collector frees); a global strong reference would keep every loop alive forever.
            try:
                loop._dataflow_shutdown_sentinel = agen  # type: ignore[attr-defined]
            except AttributeError:
                _sentinels[id(loop)] = agen
            _hooks[loop] = hook
    hook.callbacks[id(owner)] = callback


def forget_loop_shutdown(owner: object, loop: asyncio.AbstractEventLoop) -> None:
    """Drop ``owner``'s callback for ``loop`` (its pools there are already closed)."""
    hook = _hooks.get(loop)
    if hook is not None:
        hook.callbacks.pop(id(owner), None)


def _run_idle_loop(loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[T]], timeout: float) -> T:
    async def bounded() -> T:
        return await _within(factory, timeout)

    return loop.run_until_complete(bounded())


async def run_on_loop(
    loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[T]], timeout: float
) -> T:
    """Await ``factory()`` on ``loop`` from whatever loop is running now, bounded by ``timeout``.

    Raises:
        RuntimeError: ``loop`` is closed (the caller force-closes instead).
        TimeoutError: the work did not finish in time.
    """
    current = asyncio.get_running_loop()
    if loop is current:
        return await _within(factory, timeout)
    if loop.is_closed():
        raise RuntimeError("Event loop is closed")
    if loop.is_running():
        future = asyncio.run_coroutine_threadsafe(_within(factory, timeout), loop)
        return await asyncio.wrap_future(future)
    # An idle loop (e.g. a LocalRuntime between calls): drive it from a worker thread.
    return await asyncio.to_thread(_run_idle_loop, loop, factory, timeout)


async def _within(factory: Callable[[], Awaitable[T]], timeout: float) -> T:
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps the awaitable in a new task, a
    # loop iteration more for every pool a test closes.
    async with asyncio.timeout(timeout):
        return await factory()


def run_on_loop_sync(
    loop: asyncio.AbstractEventLoop, factory: Callable[[], Awaitable[Any]], timeout: float
) -> None:
    """Like :func:`run_on_loop`, from synchronous code (atexit, finalizers)."""
    if loop.is_closed():
        raise RuntimeError("Event loop is closed")
    if loop.is_running():
        if _running_loop_in_this_thread() is loop:
            raise RuntimeError("cannot block on the loop this thread is running")
        asyncio.run_coroutine_threadsafe(_within(factory, timeout), loop).result(timeout + 1)
        return
    _run_idle_loop(loop, factory, timeout)


def _running_loop_in_this_thread() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run_blocking(factory: Callable[[], Awaitable[T]]) -> T:
    """Run ``factory()`` to completion from synchronous code, on an event loop of its own.

    The pools opened on that loop are closed before it closes. Called from inside a running loop
    (async code), the work runs in a worker thread, so the caller's loop is blocked, not broken.
    """

    async def main() -> T:
        try:
            return await factory()
        finally:
            await close_loop_resources()

    if _running_loop_in_this_thread() is None:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dataflow-blocking") as pool:
        return pool.submit(asyncio.run, main()).result()
