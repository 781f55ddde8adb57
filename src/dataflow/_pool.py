"""Pools keyed by event loop: creation, stale detection, cleanup and metrics.

A pool is only ever used from the loop that created it. Every DataFlow instance has one
``PoolManager``; a process-wide weak registry of managers lets the test plugin's leak check, the
LocalRuntime and the exit hook find every open pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import traceback
import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import PoolClosedError, StalePoolWarning
from ._loops import forget_loop_shutdown, on_loop_shutdown, run_on_loop, run_on_loop_sync
from ._url import DatabaseURL

if TYPE_CHECKING:
    from ._dialects import Pool
    from ._dialects.sqlite import SQLiteConnection

__all__ = ["PoolManager", "PoolSettings", "all_managers"]

logger = logging.getLogger("dataflow")

_managers: weakref.WeakSet[PoolManager] = weakref.WeakSet()

#: Pools that nobody closed: the loop-shutdown safety net (or the stale-pool sweep) had to close
#: them. The test plugin's leak check reads this list; it only ever grows by one entry per pool.
safety_net_log: list[dict[str, str]] = []
_exit_hook_installed = False
_exit_hook_lock = threading.Lock()


def all_managers() -> list[PoolManager]:
    """Every live PoolManager in the process."""
    return list(_managers)


@dataclass(frozen=True)
class PoolSettings:
    """Sizing and timeouts for the pools of one DataFlow instance."""

    min_size: int
    max_size: int
    acquire_timeout: float
    connect_timeout: float
    sqlite_busy_timeout: float
    close_timeout: float = 10.0


# Frames that are never "where the pool was created" from the user's point of view: DataFlow
# itself, the standard library, installed packages (pytest, pluggy, ...) and frozen modules.
_NOT_USER_CODE = (
    "/dataflow/_",
    "site-packages",
    "dist-packages",
    "<frozen",
    os.path.dirname(traceback.__file__),
)


def _creation_site() -> str:
    frames = [
        f for f in traceback.extract_stack()[:-3] if not any(part in f.filename for part in _NOT_USER_CODE)
    ]
    return "".join(traceback.format_list(frames[-3:])).rstrip() or "unknown"


class PoolManager:
    """The pools of one DataFlow instance, one per event loop."""

    def __init__(self, url: DatabaseURL, settings: PoolSettings, *, test_mode: bool, owner: str) -> None:
        self.url = url
        self.settings = settings
        self.test_mode = test_mode
        self.owner = owner
        self._pools: dict[asyncio.AbstractEventLoop, Pool] = {}
        self._creating: dict[asyncio.AbstractEventLoop, asyncio.Future[Pool]] = {}
        self._memory: SQLiteConnection | None = None
        self.closed = False
        self.pools_created = 0
        self.pools_cleaned = 0
        self.stale_pools_cleaned = 0
        self.cleanup_failures = 0
        self.on_memory_closed: list[Any] = []
        _managers.add(self)
        _install_exit_hook()

    # --- getting a pool ---------------------------------------------------------------------

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
        if self.url.dialect == "sqlite":
            pool = await self._create_sqlite(loop)
        else:
            from ._dialects.postgresql import create_pool

            pool = await create_pool(
                self.url,
                loop,
                min_size=self.settings.min_size,
                max_size=self.settings.max_size,
                connect_timeout=self.settings.connect_timeout,
                acquire_timeout=self.settings.acquire_timeout,
                test_mode=self.test_mode,
            )
        if self.test_mode:
            pool.created_at = _creation_site()
        self._pools[loop] = pool
        self.pools_created += 1
        on_loop_shutdown(self, self._close_loop_pool)
        logger.debug("DataFlow: created a pool for %s on loop %#x", self.url.redacted, id(loop))
        return pool

    async def _create_sqlite(self, loop: asyncio.AbstractEventLoop) -> Pool:
        from ._dialects.sqlite import SQLitePool, connect

        timeout = self.settings.sqlite_busy_timeout
        if self.url.is_memory:
            if self._memory is None or not self._memory.is_usable():
                self._memory = await connect(":memory:", busy_timeout=timeout)
            return SQLitePool(
                self._memory, loop, owns_connection=False, acquire_timeout=self.settings.acquire_timeout
            )
        connection = await connect(self.url.database, busy_timeout=timeout)
        return SQLitePool(
            connection, loop, owns_connection=True, acquire_timeout=self.settings.acquire_timeout
        )

    # --- closing ------------------------------------------------------------------------------

    async def _close_loop_pool(self, loop: asyncio.AbstractEventLoop) -> None:
        """Shutdown hook: the loop is about to close; close the pool it owns."""
        pool = self._pools.pop(loop, None)
        if pool is None or pool.closed:
            return
        safety_net_log.append(
            {"url": self.url.redacted, "created_at": pool.created_at, "closed_by": "loop shutdown"}
        )
        try:
            await asyncio.wait_for(pool.close(self.settings.close_timeout), self.settings.close_timeout + 1)
            self.pools_cleaned += 1
        except Exception as exc:
            self.cleanup_failures += 1
            pool.force_close()
            logger.warning(
                "DataFlow: could not close the pool of %s at loop shutdown: %s", self.url.redacted, exc
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
            return True
        except Exception as exc:
            self.cleanup_failures += 1
            logger.warning("DataFlow: could not clean up a pool of %s: %s", self.url.redacted, exc)
            try:
                _abandon(loop, pool)
            except Exception:
                logger.debug("DataFlow: force-closing a pool of %s failed", self.url.redacted, exc_info=True)
            return False

    async def cleanup_all(self) -> int:
        """Close every pool of this instance (and an in-memory database); return how many."""
        count = 0
        for loop, pool in list(self._pools.items()):
            self._pools.pop(loop, None)
            if pool.closed:
                continue
            await self._close_pool(loop, pool)
            count += 1
        if self._memory is not None:
            memory, self._memory = self._memory, None
            try:
                await memory.close()
            except Exception as exc:
                self.cleanup_failures += 1
                logger.warning("DataFlow: could not close the in-memory SQLite database: %s", exc)
            for callback in self.on_memory_closed:
                callback()
        return count

    async def cleanup_stale(self, *, implicit: bool = False) -> int:
        """Close pools whose event loop is closed; return how many."""
        stale = [(loop, pool) for loop, pool in self._pools.items() if loop.is_closed()]
        for loop, pool in stale:
            self._pools.pop(loop, None)
            safety_net_log.append(
                {"url": self.url.redacted, "created_at": pool.created_at, "closed_by": "stale sweep"}
            )
            try:
                pool.force_close()
                self.stale_pools_cleaned += 1
            except Exception as exc:
                self.cleanup_failures += 1
                logger.warning("DataFlow: could not close a stale pool of %s: %s", self.url.redacted, exc)
        if stale:
            where = (
                "; ".join(p.created_at.splitlines()[-2].strip() for _, p in stale if p.created_at)
                or "unknown"
            )
            detail = (
                f"Closed {len(stale)} stale pool(s) of {self.url.redacted} whose event loop was closed without "
                f"shutting them down (created at: {where})."
            )
            logger.info("DataFlow: %s", detail)
            if implicit:
                warnings.warn(StalePoolWarning(detail), stacklevel=2)
        return len(stale)

    def close_all_sync(self) -> None:
        """Close everything without a running loop (exit hook, LocalRuntime). Never raises."""
        for loop, pool in list(self._pools.items()):
            self._pools.pop(loop, None)
            if pool.closed:
                continue
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
        if self._memory is not None:
            self._memory.force_close()
            self._memory = None

    async def close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close this instance's pool on ``loop`` (used by LocalRuntime before it closes its loop)."""
        pool = self._pools.pop(loop, None)
        if pool is not None and not pool.closed:
            await self._close_pool(loop, pool)

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
            "memory_database_open": self._memory is not None,
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
