"""Pools keyed by event loop: creation, stale detection, cleanup and metrics.

A pool is only ever used from the loop that created it. Every DataFlow instance has one
``PoolManager``; its backend's ``PoolSource`` creates the pools. Lifecycle changes are published as
``_events.PoolEvent``s. A weak registry of managers lets the exit hook and the leak check find open
pools; a loop's owner (``LocalRuntime``) closes that loop's pools through ``_loops``.
"""

from __future__ import annotations

import asyncio
import itertools
import linecache
import logging
import os
import sys
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from ._catalog import docs_base_url, docs_version
from ._dialects import Backend, Pool, PoolSettings
from ._errors import LoopReuseWarning, PoolClosedError, StalePoolWarning
from ._events import ClosedBy, PoolEvent, PoolEventKind, has_subscribers, publish
from ._loops import forget_loop_shutdown, on_loop_shutdown, run_on_loop, run_on_loop_sync
from ._url import DatabaseURL

__all__ = ["PoolManager", "all_managers", "checked_out"]

logger = logging.getLogger("dataflow")

_managers: weakref.WeakSet[PoolManager] = weakref.WeakSet()
#: Pool names in log lines: pool-1, pool-2, ... (a counter, not a registry).
_pool_numbers = itertools.count(1)
_exit_hook_installed = False
_exit_hook_lock = threading.Lock()


def all_managers() -> list[PoolManager]:
    """Every live PoolManager in the process."""
    return list(_managers)


def checked_out() -> list[tuple[str, int]]:
    """``(redacted URL, connections in use)`` for every open pool that has connections checked out."""
    return [
        (manager.url.redacted, pool.in_use)
        for manager in all_managers()
        for _loop, pool in manager.open_pools()
        if pool.in_use
    ]


# Frames that are never "where the pool was created" from the user's point of view: DataFlow
# itself, the standard library, installed packages (pytest, pluggy, ...) and frozen modules.
_NOT_USER_CODE = (
    "/dataflow/_",
    "site-packages",
    "dist-packages",
    "<frozen",
    os.path.dirname(traceback.__file__),
)
#: What a source file is, by file name (see :func:`_file_kind`).
_file_kinds: dict[str, int] = {}
_LIBRARY, _USER, _TEST_RUNNER = 0, 1, 2
#: pytest's and pluggy's frames: below them lies only the test runner's own stack.
_RUNNER_CODE = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")


def _file_kind(filename: str) -> int:
    kind = _file_kinds.get(filename)
    if kind is None:
        if any(part in filename for part in _RUNNER_CODE):
            kind = _TEST_RUNNER
        elif any(part in filename for part in _NOT_USER_CODE):
            kind = _LIBRARY
        else:
            kind = _USER
        _file_kinds[filename] = kind
    return kind


def _creation_site() -> str:
    """The three innermost user frames that led to the pool's creation, formatted as a traceback.

    Walks the frames itself and reads the source of those three only: ``traceback.extract_stack()``
    would read a line of every frame of pytest's deep stack, once per pool of every test. Once a user
    frame is found, the walk ends at the first frame of pytest or pluggy: what lies below is the
    runner's stack (some 50 frames in a test, each made into a frame object when walked).
    """
    user: list[tuple[FrameType, int]] = []
    frame: FrameType | None = sys._getframe(3)  # past this function, PoolManager._create and its caller
    try:
        while frame is not None and len(user) < 3:
            kind = _file_kind(frame.f_code.co_filename)
            if kind == _USER:
                user.append((frame, frame.f_lineno))
            elif kind == _TEST_RUNNER and user:
                break
            frame = frame.f_back
        # Formatted as a traceback's lines; no linecache.checkcache (a stat per file) and no carets.
        lines = []
        for found, lineno in reversed(user):
            code = found.f_code
            lines.append(f'  File "{code.co_filename}", line {lineno}, in {code.co_name}')
            source = linecache.getline(code.co_filename, lineno, found.f_globals).strip()
            if source:
                lines.append(f"    {source}")
        return "\n".join(lines) or "unknown"
    finally:
        del frame, user


class PoolManager:
    """The pools of one DataFlow instance, one per event loop."""

    def __init__(
        self,
        url: DatabaseURL,
        backend: Backend,
        settings: PoolSettings,
        *,
        test_mode: bool,
        owner: str,
        created_at: str = "",
    ) -> None:
        self.url = url
        self.created_at = created_at
        #: A pool of this instance was closed by the safety net (its loop ended with it open); the
        #: next pool on another loop is the instance's reuse across loops (DF-703, once).
        self._abandoned = False
        self._reuse_warned = False
        self.settings = settings
        self.test_mode = test_mode
        self.owner = owner
        self._source = backend.pool_source(url, settings, test_mode=test_mode)
        self._pools: dict[asyncio.AbstractEventLoop, Pool] = {}
        self._creating: dict[asyncio.AbstractEventLoop, asyncio.Future[Pool]] = {}
        self.closed = False
        self.pools_created = 0
        self.pools_cleaned = 0
        self.stale_pools_cleaned = 0
        self.cleanup_failures = 0
        #: Called when the shared database (``:memory:``) closed and its tables are gone.
        self.on_shared_closed: list[Callable[[], None]] = []
        _managers.add(self)
        _install_exit_hook()

    # --- getting a pool ---------------------------------------------------------------------

    def current(self, loop: asyncio.AbstractEventLoop) -> Pool | None:
        """The open pool of ``loop`` if there is one (no coroutine: on every operation's path)."""
        pool = self._pools.get(loop)
        return pool if pool is not None and not pool.closed else None

    async def get(self) -> Pool:
        """The pool for the running loop, created on first use."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None and not pool.closed:
            return pool
        if self.closed:
            raise PoolClosedError(
                f"This DataFlow instance ({self.url.redacted}) was closed with close() and cannot be used again.",
                context={"url": self.url.redacted},
            )
        pending = self._creating.get(loop)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Pool] = loop.create_future()
        self._creating[loop] = future
        try:
            pool = await self._create(loop)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters re-raise it
            raise
        finally:
            self._creating.pop(loop, None)
        future.set_result(pool)
        return pool

    async def _create(self, loop: asyncio.AbstractEventLoop) -> Pool:
        if self.test_mode:
            # Proactive: a loop that closed without shutdown hooks left its pools behind.
            await self.cleanup_stale(implicit=True)
        if self.test_mode and self._abandoned and not self._reuse_warned:
            self._reuse_warned = True
            warnings.warn(LoopReuseWarning(self._reuse_detail()), stacklevel=2)
        pool = await self._source.create(loop)
        pool.name = f"pool-{next(_pool_numbers)}"
        if self.test_mode:
            pool.created_at = _creation_site()
        self._pools[loop] = pool
        self.pools_created += 1
        on_loop_shutdown(self, self._close_loop_pool)
        if self.test_mode:
            logger.info(
                "DataFlow: Created connection pool '%s' (test mode) for %s on loop %#x",
                pool.name,
                self.url.redacted,
                id(loop),
            )
        else:
            logger.debug(
                "DataFlow: Created connection pool '%s' for %s on loop %#x", pool.name, self.url.redacted, id(loop)
            )
        self._publish(PoolEventKind.CREATED, loop, pool)
        return pool

    def _reuse_detail(self) -> str:
        fix = f"{docs_base_url()}{docs_version()}/guide/fixture-patterns/#a-dataflow-instance-that-nobody-closes"
        return (
            f"{self.owner}, created at {self.created_at or 'unknown'}, is used from a second event loop: its "
            "pool on the first loop was never closed (the loop ended with it open). Each test on a function "
            "loop reuses it the same way. Request dataflow_isolated (it runs the instance inside the test's "
            "isolation), or close its pools in a fixture on the loop that uses them (await "
            f"db.cleanup_all_pools()). See {fix}"
        )

    def _publish(
        self, kind: PoolEventKind, loop: asyncio.AbstractEventLoop, pool: Pool, closed_by: ClosedBy | None = None
    ) -> None:
        if has_subscribers():
            publish(PoolEvent(kind, self.url.redacted, self.owner, id(loop), pool.created_at, closed_by))

    # --- closing ------------------------------------------------------------------------------

    async def _close_loop_pool(self, loop: asyncio.AbstractEventLoop, by_owner: bool) -> None:
        """Loop hook: the loop is shutting down (or its owner closes it); close the pool it holds."""
        pool = self._pools.pop(loop, None)
        if pool is None or pool.closed:
            return
        self._publish(PoolEventKind.CLOSED, loop, pool, ClosedBy.OWNER if by_owner else ClosedBy.LOOP_SHUTDOWN)
        self._abandoned = self._abandoned or not by_owner
        try:
            async with asyncio.timeout(self.settings.close_timeout + 1):
                await pool.close(self.settings.close_timeout)
            self.pools_cleaned += 1
        except Exception as exc:
            self.cleanup_failures += 1
            pool.force_close()
            logger.warning(
                "DataFlow: Pool '%s' cleanup failed at loop shutdown (%s): %s", pool.name, self.url.redacted, exc
            )

    async def _close_pool(self, loop: asyncio.AbstractEventLoop, pool: Pool) -> bool:
        """Close one pool from the running loop; True when it closed cleanly. Never raises."""
        try:
            if loop.is_closed():
                pool.force_close()
                self.stale_pools_cleaned += 1
                return True
            await run_on_loop(
                loop, lambda: pool.close(self.settings.close_timeout), self.settings.close_timeout + 1
            )
            forget_loop_shutdown(self, loop)
            self.pools_cleaned += 1
            self._publish(PoolEventKind.CLOSED, loop, pool, ClosedBy.OWNER)
            return True
        except Exception as exc:
            self.cleanup_failures += 1
            logger.warning("DataFlow: Pool '%s' cleanup failed (%s): %s", pool.name, self.url.redacted, exc)
            try:
                _abandon(loop, pool)
            except Exception:
                logger.debug("DataFlow: force-closing a pool of %s failed", self.url.redacted, exc_info=True)
            return False

    async def cleanup_all(self) -> int:
        """Close every pool of this instance (and an in-memory database); return how many."""
        self._abandoned = False  # its owner cleans up: use on another loop next is fine
        count = 0
        for loop, pool in list(self._pools.items()):
            self._pools.pop(loop, None)
            if pool.closed:
                continue
            await self._close_pool(loop, pool)
            count += 1
        try:
            closed_shared = await self._source.close_shared()
        except Exception as exc:
            closed_shared = True
            self.cleanup_failures += 1
            logger.warning("DataFlow: could not close the in-memory database of %s: %s", self.url.redacted, exc)
        if closed_shared:
            for callback in self.on_shared_closed:
                callback()
        return count

    def retire(self) -> None:
        """Refuse new pools from now on (the owner was closed). A manager with nothing left open is
        dropped from :func:`all_managers`: the leak check walks them after every test, and a closed
        instance can stay in memory for a while (until the garbage collector breaks its cycles)."""
        self.closed = True
        if not self._pools and not self._source.shared_open:
            _managers.discard(self)

    async def cleanup_stale(self, *, implicit: bool = False) -> int:
        """Close pools whose event loop is closed; return how many."""
        stale = [(loop, pool) for loop, pool in self._pools.items() if loop.is_closed()]
        for loop, pool in stale:
            self._abandoned = True
            self._pools.pop(loop, None)
            self._publish(PoolEventKind.CLOSED, loop, pool, ClosedBy.STALE_SWEEP)
            try:
                pool.force_close()
                self.stale_pools_cleaned += 1
            except Exception as exc:
                self.cleanup_failures += 1
                logger.warning("DataFlow: Pool '%s' cleanup failed (stale, %s): %s", pool.name, self.url.redacted, exc)
        if stale:
            where = (
                "; ".join(p.created_at.splitlines()[-2].strip() for _, p in stale if p.created_at)
                or "unknown"
            )
            detail = (
                f"Closed {len(stale)} stale pool(s) of {self.url.redacted} whose event loop was closed without "
                f"shutting them down (created at: {where})."
            )
            logger.info(
                "DataFlow: Removed %d stale pool(s) from closed event loop(s): %s (created at: %s)",
                len(stale),
                self.url.redacted,
                where,
            )
            if implicit:
                warnings.warn(StalePoolWarning(detail), stacklevel=2)
        return len(stale)

    def close_all_sync(self) -> None:
        """Close everything without a running loop (exit hook, LocalRuntime). Never raises."""
        for loop, pool in list(self._pools.items()):
            self._pools.pop(loop, None)
            if pool.closed:
                continue
            self._publish(PoolEventKind.CLOSED, loop, pool, ClosedBy.EXIT)
            try:
                if loop.is_closed():
                    pool.force_close()
                    self.stale_pools_cleaned += 1
                else:
                    run_on_loop_sync(
                        loop,
                        lambda p=pool: p.close(self.settings.close_timeout),  # type: ignore[misc]
                        self.settings.close_timeout,
                    )
                    self.pools_cleaned += 1
            except Exception as exc:
                self.cleanup_failures += 1
                logger.debug("DataFlow: closing a pool at exit failed: %s", exc)
                try:
                    pool.force_close()
                except Exception:
                    pass
        try:
            self._source.force_close_shared()
        except Exception:  # noqa: BLE001 - never fail interpreter shutdown
            logger.debug("DataFlow: closing the in-memory database at exit failed", exc_info=True)

    # --- reporting ------------------------------------------------------------------------------

    def open_pools(self) -> list[tuple[asyncio.AbstractEventLoop, Pool]]:
        """Open pools with their loops."""
        return [(loop, pool) for loop, pool in self._pools.items() if not pool.closed]

    def metrics(self) -> dict[str, Any]:
        """Cleanup counters (no URLs with passwords)."""
        pools = self.open_pools()
        return {
            "pools_created": self.pools_created,
            "pools_cleaned": self.pools_cleaned,
            "stale_pools_cleaned": self.stale_pools_cleaned,
            "cleanup_failures": self.cleanup_failures,
            "active_pools": len(pools),
            "stale_pools": sum(1 for loop, _ in pools if loop.is_closed()),
            "connections_in_use": sum(p.in_use for _, p in pools),
            "memory_database_open": self._source.shared_open,
            "test_mode": self.test_mode,
            "url": self.url.redacted,
        }


def _abandon(loop: asyncio.AbstractEventLoop, pool: Pool) -> None:
    """Give up on a pool whose close() failed, without breaking the loop it lives on.

    ``force_close()`` is meant for pools whose loop is closed: it closes sockets underneath their
    transports. On a loop that still runs, the transports stay registered with the selector, and
    the next connection that gets the same file descriptor fails ("File descriptor N is used by
    transport"). There, a driver pool's own ``terminate()`` aborts the transports properly.
    """
    terminate = getattr(getattr(pool, "raw", None), "terminate", None)
    if terminate is None or loop.is_closed():
        pool.force_close()
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        pool.closed = True
        terminate()
    elif loop.is_running():
        pool.closed = True
        loop.call_soon_threadsafe(terminate)
    else:  # an idle loop: nothing can run on it now; free the sockets
        pool.force_close()


def _close_everything_at_exit() -> None:
    for manager in all_managers():
        try:
            manager.close_all_sync()
        except Exception:  # never fail interpreter shutdown
            pass


def _install_exit_hook() -> None:
    global _exit_hook_installed
    with _exit_hook_lock:
        if _exit_hook_installed:
            return
        _exit_hook_installed = True
    # threading's exit hooks run before non-daemon threads are joined (atexit runs after), so
    # aiosqlite worker threads are stopped before the interpreter waits for them.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_close_everything_at_exit)
    else:  # pragma: no cover - other Pythons
        import atexit

        atexit.register(_close_everything_at_exit)
