"""Transactions: BEGIN/COMMIT at the top, SAVEPOINT/RELEASE when nested or isolated.

A transaction takes its connection from the execution context (``connection()``) for its whole
block and shares it, one statement at a time, with everything that runs in the same task context
(nodes run by AsyncLocalRuntime, nested ``db.transaction()`` blocks, tasks started inside it).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from ._errors import TransactionError
from ._shared import SharedConnection

if TYPE_CHECKING:
    from ._dialects import Connection

__all__ = ["Transaction", "TransactionHost", "TransactionState"]

logger = logging.getLogger("dataflow")


class TransactionState(StrEnum):
    """Where a transaction is in its life."""

    NEW = "new"
    ACTIVE = "active"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled back"
    FAILED = "failed"


class TransactionHost(Protocol):
    """What a transaction needs from the execution context that opens it."""

    @property
    def tx_var(self) -> contextvars.ContextVar[Transaction | None]: ...

    @property
    def isolation(self) -> Transaction | None: ...

    @property
    def begin_sql(self) -> str: ...

    def current_transaction(self) -> Transaction | None: ...

    def connection(self) -> AbstractAsyncContextManager[Connection]: ...

    def forget_tables(self, names: Iterable[str]) -> None: ...


class Transaction:
    """``async with db.transaction():`` — commit on success, roll back on an exception.

    Nested blocks become savepoints: an exception inside a nested block rolls back only that block.
    Inside ``db.isolated()`` even the outermost block is a savepoint, so nothing is ever committed.

    Attributes:
        state: A :class:`TransactionState`.
        parent: The enclosing transaction of a nested block, else ``None``.
        created_tables: Models whose tables were created inside this transaction (forgotten again
            on rollback, because DDL is transactional on both backends).
    """

    def __init__(
        self,
        host: TransactionHost,
        *,
        always_rollback: bool = False,
        publish: bool = True,
        share_timeout: float | None = None,
    ) -> None:
        self._host = host
        self._always_rollback = always_rollback
        self._publish = publish
        self._share_timeout = share_timeout
        self.state = TransactionState.NEW
        self.parent: Transaction | None = None
        self._outer: Transaction | None = None
        self._connection: Connection | None = None
        self._shared: SharedConnection | None = None
        self._stack = AsyncExitStack()
        self._token: contextvars.Token[Transaction | None] | None = None
        self._depth = 0
        self.created_tables: set[str] = set()

    @property
    def connection(self) -> Connection:
        """The connection this transaction runs on."""
        if self._connection is None or self.state is not TransactionState.ACTIVE:
            raise TransactionError(f"This transaction is {self.state}; use it inside its 'async with' block.")
        return self._connection

    @property
    def shared(self) -> SharedConnection:
        """The connection as the operations inside this transaction take it."""
        if self._shared is None or self.state is not TransactionState.ACTIVE:
            raise TransactionError(f"This transaction is {self.state}; use it inside its 'async with' block.")
        return self._shared

    @property
    def is_savepoint(self) -> bool:
        """True when this block is a savepoint inside another transaction."""
        return self._depth > 0

    async def __aenter__(self) -> Transaction:
        if self.state is not TransactionState.NEW:
            raise TransactionError(
                f"A transaction object can be entered once; this one is {self.state}. "
                "Call db.transaction() again for a new block."
            )
        host = self._host
        parent = host.current_transaction() if self._publish else None
        if parent is not None:
            self.parent = parent
            shared = parent.shared
            async with host.connection() as connection:  # one statement on the parent's connection
                self._depth = connection.tx_depth
                await connection.execute(f"SAVEPOINT df_sp_{self._depth}")
                connection.tx_depth += 1
        else:
            # The whole block holds the connection: a pool connection, or the isolated one.
            connection = await self._stack.enter_async_context(host.connection())
            self._depth = connection.tx_depth
            try:
                await connection.execute(host.begin_sql if self._depth == 0 else f"SAVEPOINT df_sp_{self._depth}")
            except BaseException:
                await self._stack.aclose()
                raise
            connection.tx_depth += 1
            what = "The isolated connection (db.isolated())" if not self._publish else "The current transaction"
            shared = SharedConnection(connection, asyncio.get_running_loop(), what, self._share_timeout)
        self._outer = parent if parent is not None else host.isolation
        self._connection = connection
        self._shared = shared
        self.state = TransactionState.ACTIVE
        if self._publish:
            self._token = host.tx_var.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, shared = self._connection, self._shared
        assert connection is not None and shared is not None
        if self._token is not None:
            try:
                self._host.tx_var.reset(self._token)
            except ValueError:  # exited from another context (e.g. a fixture's teardown task)
                self._host.tx_var.set(self.parent)
        connection.tx_depth -= 1
        commit = exc_type is None and not self._always_rollback
        depth = self._depth
        try:
            await shared.take()
            try:
                if depth == 0:
                    await connection.execute("COMMIT" if commit else "ROLLBACK")
                elif commit:
                    await connection.execute(f"RELEASE SAVEPOINT df_sp_{depth}")
                else:
                    await connection.execute(f"ROLLBACK TO SAVEPOINT df_sp_{depth}")
                    await connection.execute(f"RELEASE SAVEPOINT df_sp_{depth}")
            finally:
                shared.give_back()
        except BaseException:
            self.state = TransactionState.FAILED
            self._forget_tables()
            if depth == 0 and connection.is_usable():
                # Do not hand a connection in an unknown transaction state back to the pool.
                try:
                    await connection.execute("ROLLBACK")
                except BaseException:
                    logger.debug("DataFlow: ROLLBACK after a failed transaction end failed", exc_info=True)
            raise
        finally:
            await self._stack.aclose()
        if commit:
            self.state = TransactionState.COMMITTED
            if self._outer is not None:  # still undone if the enclosing transaction rolls back
                self._outer.created_tables |= self.created_tables
        else:
            self.state = TransactionState.ROLLED_BACK
            self._forget_tables()

    def _forget_tables(self) -> None:
        # DDL is transactional on both backends: a rolled-back CREATE TABLE must be created again.
        if self.created_tables:
            self._host.forget_tables(self.created_tables)
