"""Transactions: BEGIN/COMMIT at the top, SAVEPOINT/RELEASE when nested, and the isolated mode.

The current transaction lives in a context variable of its DataFlow instance, so everything that
runs in the same task context (nodes run by AsyncLocalRuntime, nested ``db.transaction()`` blocks,
tasks started inside the block) uses its connection. Statements on one connection are serialized
by a lock, so ``asyncio.gather`` inside a transaction queues instead of failing with
"another operation is in progress".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import PoolTimeoutError, TransactionError, WrongEventLoopError

if TYPE_CHECKING:
    from ._dataflow import DataFlow
    from ._dialects import Connection

__all__ = ["Pinned", "Transaction"]

logger = logging.getLogger("dataflow")
T = TypeVar("T")


class Pinned:
    """The connection of ``db.isolated()``: one connection, in an outer transaction, for everything."""

    def __init__(
        self, connection: Connection, loop: asyncio.AbstractEventLoop, release: Callable[[], Awaitable[None]]
    ):
        self.connection = connection
        self.loop = loop
        self.lock = asyncio.Lock()
        self.release = release

    async def acquire(self, timeout: float) -> Connection:
        """Take the connection for one operation or transaction (DF-506 off its loop, DF-509 on timeout)."""
        check_loop(self.loop, "The isolated connection (db.isolated())")
        lock = self.lock
        try:
            if lock.locked() or getattr(lock, "_waiters", None):
                await asyncio.wait_for(lock.acquire(), timeout)
            else:  # free: acquire() returns at once; wait_for would cost a task and loop iterations
                await lock.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"The isolated connection stayed busy for pool_acquire_timeout={timeout:g}s "
                "(another task holds a transaction on it)."
            ) from None
        return self.connection


def check_loop(owner: asyncio.AbstractEventLoop, what: str) -> None:
    """Raise DF-506 when the running loop is not ``owner``."""
    running = asyncio.get_running_loop()
    if running is not owner:
        state = "closed" if owner.is_closed() else "a different, still open"
        raise WrongEventLoopError(
            f"{what} belongs to event loop {id(owner):#x} ({state} loop) but was used from loop {id(running):#x}.",
        )


class Transaction:
    """``async with db.transaction():`` — commit on success, roll back on an exception.

    Nested blocks become savepoints: an exception inside a nested block rolls back only that block.
    Inside ``db.isolated()`` even the outermost block is a savepoint, so nothing is ever committed.
    """

    def __init__(self, db: DataFlow) -> None:
        self._db = db
        self._state = "new"
        self._connection: Connection | None = None
        self._release: Callable[[], Awaitable[None]] | None = None
        self._token: Any = None
        self._depth = 0
        self.parent: Transaction | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.statement_lock: asyncio.Lock | None = None
        #: Models whose tables were created inside this transaction (forgotten again on rollback).
        self.created_tables: set[str] = set()

    @property
    def connection(self) -> Connection:
        """The connection this transaction runs on."""
        if self._connection is None or self._state != "active":
            raise TransactionError(
                f"This transaction is {self._state}; use it inside its 'async with' block."
            )
        return self._connection

    @property
    def is_savepoint(self) -> bool:
        """True when this block is a savepoint inside another transaction."""
        return self._depth > 0

    async def __aenter__(self) -> Transaction:
        if self._state != "new":
            raise TransactionError(
                f"A transaction object can be entered once; this one is {self._state}. "
                "Call db.transaction() again for a new block."
            )
        db = self._db
        loop = asyncio.get_running_loop()
        parent = db._current_transaction()
        if parent is not None:
            check_loop(parent.loop, "The enclosing transaction")  # type: ignore[arg-type]
            connection = parent.connection
            self.parent = parent
            self.statement_lock = parent.statement_lock
        elif db._pinned is not None:
            pinned = db._pinned
            await pinned.acquire(db._settings.acquire_timeout)
            connection = pinned.connection
            self._release = _unlock(pinned.lock)
            self.statement_lock = asyncio.Lock()
        else:
            pool = await db._pools.get()
            connection = await pool.acquire()

            async def release(pool: Any = pool, connection: Connection = connection) -> None:
                await pool.release(connection)

            self._release = release
            self.statement_lock = asyncio.Lock()
        self.loop = loop
        self._depth = connection.tx_depth
        assert self.statement_lock is not None
        try:
            async with self.statement_lock:
                if self._depth == 0:
                    await connection.execute("BEGIN IMMEDIATE" if db.dialect == "sqlite" else "BEGIN")
                else:
                    await connection.execute(f"SAVEPOINT df_sp_{self._depth}")
        except BaseException:
            await self._give_back()
            raise
        connection.tx_depth += 1
        self._connection = connection
        self._state = "active"
        self._token = db._tx_var.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection = self._connection
        assert connection is not None and self.statement_lock is not None
        try:
            self._db._tx_var.reset(self._token)
        except ValueError:  # exited from another context (e.g. a fixture's teardown task)
            self._db._tx_var.set(self.parent)
        connection.tx_depth -= 1
        commit = exc_type is None
        try:
            async with self.statement_lock:
                if self._depth == 0:
                    await connection.execute("COMMIT" if commit else "ROLLBACK")
                elif commit:
                    await connection.execute(f"RELEASE SAVEPOINT df_sp_{self._depth}")
                else:
                    await connection.execute(f"ROLLBACK TO SAVEPOINT df_sp_{self._depth}")
                    await connection.execute(f"RELEASE SAVEPOINT df_sp_{self._depth}")
        except BaseException:
            self._state = "failed"
            self._forget_tables()
            if self._depth == 0 and connection.is_usable():
                # Do not hand a connection in an unknown transaction state back to the pool.
                try:
                    await connection.execute("ROLLBACK")
                except BaseException:
                    logger.debug("DataFlow: ROLLBACK after a failed transaction end failed", exc_info=True)
            raise
        finally:
            await self._give_back()
        if commit:
            self._state = "committed"
            if self.parent is not None:
                self.parent.created_tables |= self.created_tables
        else:
            self._state = "rolled back"
            self._forget_tables()

    def _forget_tables(self) -> None:
        # DDL is transactional on both backends: a rolled-back CREATE TABLE must be created again.
        if self.created_tables:
            self._db._forget_tables(self.created_tables)

    async def _give_back(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            await release()

    async def run(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``operation`` on this transaction's connection, one statement group at a time."""
        check_loop(self.loop, "The current transaction")  # type: ignore[arg-type]
        assert self.statement_lock is not None
        async with self.statement_lock:
            return await operation(self.connection)


def _unlock(lock: asyncio.Lock) -> Callable[[], Awaitable[None]]:
    async def release() -> None:
        lock.release()

    return release
