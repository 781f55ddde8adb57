"""One connection that several tasks use one operation at a time.

A transaction's connection and the isolated connection of ``db.isolated()`` are shared this way:
every operation takes the lock, so ``asyncio.gather`` over one connection queues instead of failing
with "another operation is in progress", and use from another event loop is DF-506.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ._errors import PoolTimeoutError, WrongEventLoopError

if TYPE_CHECKING:
    from ._dialects import Connection

__all__ = ["SharedConnection", "check_loop"]


def check_loop(owner: asyncio.AbstractEventLoop, what: str) -> None:
    """Raise DF-506 when the running loop is not ``owner``."""
    running = asyncio.get_running_loop()
    if running is not owner:
        state = "closed" if owner.is_closed() else "a different, still open"
        raise WrongEventLoopError(
            f"{what} belongs to event loop {id(owner):#x} ({state} loop) but was used from loop {id(running):#x}.",
        )


class SharedConnection:
    """A connection bound to its event loop, taken by one operation (or transaction) at a time.

    Args:
        connection: The connection.
        loop: The loop it belongs to.
        what: How messages name it ("The current transaction").
        timeout: Seconds to wait for it before DF-509 (``None``: wait as long as it takes).
    """

    __slots__ = ("connection", "loop", "lock", "what", "timeout", "idle_since")

    def __init__(
        self, connection: Connection, loop: asyncio.AbstractEventLoop, what: str, timeout: float | None
    ) -> None:
        self.connection = connection
        self.loop = loop
        self.lock = asyncio.Lock()
        self.what = what
        self.timeout = timeout
        #: ``time.monotonic()`` when the last operation gave it back; ``None`` while one runs.
        self.idle_since: float | None = time.monotonic()

    async def take(self) -> Connection:
        """Wait for the connection (DF-506 off its loop, DF-509 after ``timeout``)."""
        check_loop(self.loop, self.what)
        lock = self.lock
        if not lock.locked() and not getattr(lock, "_waiters", None):
            await lock.acquire()  # free: returns at once; wait_for would cost a task and loop turns
        elif self.timeout is None:
            await lock.acquire()
        else:
            try:
                await asyncio.wait_for(lock.acquire(), self.timeout)
            except TimeoutError:
                raise PoolTimeoutError(
                    f"{self.what} stayed busy for pool_acquire_timeout={self.timeout:g}s "
                    "(another task holds a transaction on it)."
                ) from None
        self.idle_since = None
        return self.connection

    def give_back(self) -> None:
        """Let the next waiting operation have the connection."""
        self.idle_since = time.monotonic()
        self.lock.release()
