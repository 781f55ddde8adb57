"""Transactions: BEGIN/COMMIT at the top, SAVEPOINT/RELEASE when nested or isolated.

A transaction takes its connection from the execution context (``connection()``) for its whole
block and shares it, one statement at a time, with everything that runs in the same task context
(nodes run by AsyncLocalRuntime, nested ``db.transaction()`` blocks, tasks started inside it).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._error_base import DataFlowError
from ._errors import (
    DatabaseLockedError,
    InvalidTransactionOptionError,
    SerializationFailureError,
    TransactionError,
    TransactionTimeoutError,
)
from ._shared import SharedConnection
from ._tx_metrics import workflow_label
from ._tx_options import IsolationLevel, TransactionOptions

if TYPE_CHECKING:
    from ._dialects import Backend, Connection

__all__ = ["Boundaries", "Transaction", "TransactionHost", "TransactionState"]

T = TypeVar("T")

logger = logging.getLogger("dataflow")


class TransactionState(StrEnum):
    """Where a transaction is in its life."""

    NEW = "new"
    ACTIVE = "active"
    COMMITTED = "committed"
    #: Ended by PREPARE TRANSACTION (two-phase commit): committed or rolled back later by its global id.
    PREPARED = "prepared"
    ROLLED_BACK = "rolled back"
    FAILED = "failed"


class TransactionHost(Protocol):
    """What a transaction needs from the execution context that opens it."""

    @property
    def tx_var(self) -> contextvars.ContextVar[Transaction | None]: ...

    @property
    def isolation(self) -> Transaction | None: ...

    @property
    def backend(self) -> Backend: ...

    def current_transaction(self) -> Transaction | None: ...

    def connection(self) -> AbstractAsyncContextManager[Connection]: ...

    def forget_tables(self, names: Iterable[str]) -> None: ...

    def transaction_started(self, transaction: Transaction) -> None: ...

    def transaction_ended(self, transaction: Transaction, outcome: str, retried: bool) -> None: ...

    def transaction_failed(self, transaction: Transaction, error: DataFlowError) -> None: ...


class Boundaries(Protocol):
    """Runs an outermost block's ``BEGIN`` statements and its ``COMMIT`` / ``ROLLBACK`` in place of one
    ``execute`` each, so more work rides on the same round trips (``isolated(boundaries=...)``)."""

    async def begin(self, connection: Connection, statements: list[str]) -> None: ...

    async def end(self, connection: Connection, statement: str) -> None: ...


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
        options: TransactionOptions | None = None,
        boundaries: Boundaries | None = None,
    ) -> None:
        self._host = host
        self._boundaries = boundaries
        #: The isolation level, timeout and retries this block asked for.
        self.options = options or TransactionOptions()
        #: The isolation level the block runs at (known once entered).
        self.isolation: IsolationLevel | None = None
        #: The timeout in force inside the block (its own, else the enclosing transaction's).
        self.timeout: float | None = None
        #: How many times :meth:`run` / ``async for`` ran the block (1 without retries).
        self.attempts = 0
        self._retrying = False
        self._swallow = False
        self._conflicted = False
        #: Set by two-phase commit: end the block with PREPARE TRANSACTION under this global id.
        self.prepare_as: str | None = None
        #: Models whose nodes ran in the block (nested blocks add to the outermost one).
        self.models: set[str] = set()
        #: The label of the workflow that opened the block, if a workflow did.
        self.workflow: str | None = None
        #: ``time.monotonic()`` / ``time.time()`` when the block began.
        self.started = 0.0
        self.started_at = 0.0
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
        #: Awaited with the block once it has ended (committed, rolled back or failed), in order.
        self.after_end: list[Callable[[Transaction], Awaitable[None]]] = []

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
        if self.options.retries and not self._retrying:
            raise InvalidTransactionOptionError(
                f"db.transaction(retries={self.options.retries}) cannot run an 'async with' block again. Use "
                "'async for attempt in db.transaction(retries=...): async with attempt: ...' or "
                "'await db.transaction(retries=...).run(fn)'.",
                context={"option": "retries", "value": self.options.retries},
            )
        host = self._host
        parent = host.current_transaction() if self._publish else None
        if parent is not None:
            self.parent = parent
            shared = parent.shared
            self._check_nested(parent.isolation, parent.timeout)
            async with host.connection() as connection:  # one statement on the parent's connection
                self._depth = connection.tx_depth
                await self._begin(connection)
                connection.tx_depth += 1
        else:
            # The whole block holds the connection: a pool connection, or the isolated one.
            connection = await self._stack.enter_async_context(host.connection())
            self._depth = connection.tx_depth
            try:
                if self._depth:  # inside db.isolated(): a savepoint of the isolated transaction
                    outer = host.isolation
                    self._check_nested(outer.isolation if outer else None, outer.timeout if outer else None)
                await self._begin(connection)
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
        self.started, self.started_at = time.monotonic(), time.time()
        self.workflow = workflow_label()
        if self.counted:
            host.transaction_started(self)
        return self

    @property
    def counted(self) -> bool:
        """True for the blocks the transaction metrics count: the outermost ``db.transaction()``."""
        return self._publish and self.parent is None

    @property
    def root(self) -> Transaction:
        """The outermost block of this one."""
        return self if self.parent is None else self.parent.root

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        conflict = isinstance(exc, SerializationFailureError)
        try:
            await self._exit(exc_type, exc)
        except SerializationFailureError as error:
            conflict = True
            self._failed(error)
            if not self._swallow:
                raise
        except BaseException as error:
            self._failed(error)
            raise
        else:
            self._failed(exc)
        finally:
            if self.counted:
                self._host.transaction_ended(self, str(self.state), self._swallow and conflict)
            for callback in self.after_end:  # e.g. the Redis query cache tells other processes
                await callback(self)
        if self._swallow and conflict:
            self._conflicted = True  # the next attempt of ``async for`` / run() runs it again
            return True
        return False

    def _failed(self, error: BaseException | None) -> None:
        """Tell the host what the block raised (the monitoring nodes count conflicts and lock waits)."""
        if isinstance(error, DataFlowError) and self._publish:
            self._host.transaction_failed(self, error)

    async def _exit(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> None:
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
                await self._end(connection, commit)
            finally:
                shared.give_back()
        except BaseException as end_error:
            self.state = TransactionState.FAILED
            self._forget_tables()
            if depth == 0 and connection.is_usable():
                # Do not hand a connection in an unknown transaction state back to the pool.
                try:
                    await connection.execute("ROLLBACK")
                    await self._after_end(connection)
                except BaseException:
                    logger.debug("DataFlow: ROLLBACK after a failed transaction end failed", exc_info=True)
            timeout = self._timeout_error(end_error)
            if timeout is not None:
                raise timeout from end_error
            raise
        finally:
            await self._stack.aclose()
        if commit:
            self.state = TransactionState.PREPARED if self.prepare_as is not None else TransactionState.COMMITTED
            if self._outer is not None:  # still undone if the enclosing transaction rolls back
                self._outer.created_tables |= self.created_tables
        else:
            self.state = TransactionState.ROLLED_BACK
            self._forget_tables()
            timeout = self._timeout_error(exc)
            if timeout is not None:
                raise timeout from exc

    # --- options --------------------------------------------------------------------------------

    def _check_nested(self, isolation: IsolationLevel | None, timeout: float | None) -> None:
        """A savepoint runs at its enclosing transaction's level: DF-604 when that is weaker than asked."""
        backend = self._host.backend
        self.isolation = isolation or backend.isolation_in_effect(None)
        self.timeout = timeout if self.options.timeout is None else self.options.timeout
        wanted = self.options.isolation
        if wanted is not None and backend.isolation_in_effect(wanted).strength > self.isolation.strength:
            raise InvalidTransactionOptionError(
                f"A nested db.transaction() (a savepoint) asked for isolation {wanted.name}, but the enclosing "
                f"transaction runs at {self.isolation.name} and a savepoint cannot change it. Set the isolation "
                "level on the outermost block (inside db.isolated() every block is a savepoint: test isolation "
                "levels on committed data, with the dataflow_db fixture).",
                context={"option": "isolation_level", "value": wanted.name, "enclosing": self.isolation.name},
            )

    async def _begin(self, connection: Connection) -> None:
        backend, options = self._host.backend, self.options
        try:
            if self._depth == 0:
                self.isolation = backend.isolation_in_effect(options.isolation)
                self.timeout = options.timeout
                statements = backend.begin_statements(connection, options.isolation, options.timeout)
                if self._boundaries is not None:
                    return await self._boundaries.begin(connection, statements)
                for sql in statements:
                    await connection.execute(sql)
                return
            await connection.execute(f"SAVEPOINT df_sp_{self._depth}")
            if options.timeout is not None:
                for sql in backend.timeout_statements(connection, options.timeout):
                    await connection.execute(sql)
        except BaseException as exc:
            if self._depth == 0 and connection.is_usable() and connection.tx_depth == 0:
                try:
                    await connection.execute("ROLLBACK")
                except BaseException:
                    logger.debug("DataFlow: ROLLBACK after a failed BEGIN failed", exc_info=True)
                await self._after_end(connection)
            timeout = self._timeout_error(exc)
            self._failed(timeout or exc)
            if timeout is not None:
                raise timeout from exc
            raise

    async def _end(self, connection: Connection, commit: bool) -> None:
        depth = self._depth
        if depth == 0:
            if commit and self.prepare_as is not None:
                await connection.execute(self._host.backend.prepare_sql(self.prepare_as))
            elif self._boundaries is not None:
                await self._boundaries.end(connection, "COMMIT" if commit else "ROLLBACK")
            else:
                await connection.execute("COMMIT" if commit else "ROLLBACK")
            await self._after_end(connection)
            return
        if commit:
            await connection.execute(f"RELEASE SAVEPOINT df_sp_{depth}")
        else:
            await connection.execute(f"ROLLBACK TO SAVEPOINT df_sp_{depth}")
            await connection.execute(f"RELEASE SAVEPOINT df_sp_{depth}")
        if self.options.timeout is not None:  # back to the enclosing transaction's limit
            outer = self.parent.timeout if self.parent is not None else None
            for sql in self._host.backend.timeout_statements(connection, outer):
                await connection.execute(sql)

    async def _after_end(self, connection: Connection) -> None:
        for sql in self._host.backend.end_statements(connection, self.options.timeout):
            await connection.execute(sql)

    def _timeout_error(self, exc: BaseException | None) -> TransactionTimeoutError | None:
        """SQLite's "database is locked" inside a block with a timeout is that timeout running out."""
        if self.timeout is None or not isinstance(exc, DatabaseLockedError):
            return None
        return TransactionTimeoutError(
            f"A statement waited more than timeout={self.timeout:g}s for another connection's write lock "
            f"({exc.detail}); the transaction is rolled back.",
            context={**exc.context, "timeout": self.timeout, "waited_for": "write lock"},
        )

    # --- retries --------------------------------------------------------------------------------

    def again(self) -> Transaction:
        """A new block with the same options (for one more attempt)."""
        return Transaction(
            self._host,
            always_rollback=self._always_rollback,
            publish=self._publish,
            share_timeout=self._share_timeout,
            options=self.options,
        )

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` inside this transaction; on a serialization failure or
        deadlock (DF-602), run it again in a new transaction, up to ``retries`` more times.

        Returns:
            What ``fn`` returned in the attempt that committed.
        """
        async for attempt in self:
            async with attempt:
                result = await fn(*args, **kwargs)
            # Not a return inside the block: a COMMIT that fails with a conflict is swallowed by
            # __aexit__ for the next attempt, and a pending return would skip that attempt.
            if not attempt._conflicted:
                return result
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def __aiter__(self) -> AsyncIterator[Transaction]:
        """``async for attempt in db.transaction(retries=3): async with attempt: ...`` — each attempt
        is a new transaction; a DF-602 inside one (or from its COMMIT) is swallowed and the loop runs
        again, except on the last attempt, where it propagates. Do not ``return`` or ``break`` inside
        ``async with attempt:``: a COMMIT that fails would not get its retry. Leave the block, and use
        the result after the loop."""
        return _Attempts(self)

    def _forget_tables(self) -> None:
        # DDL is transactional on both backends: a rolled-back CREATE TABLE must be created again.
        if self.created_tables:
            self._host.forget_tables(self.created_tables)


class _Attempts:
    """The attempts of a transaction with ``retries`` (an iterator object, not a generator: leaving
    the loop with an exception leaves nothing to finalize)."""

    def __init__(self, first: Transaction) -> None:
        self._first = first
        self._current: Transaction | None = None

    def __aiter__(self) -> _Attempts:
        return self

    async def __anext__(self) -> Transaction:
        first, current = self._first, self._current
        if current is not None:
            if not current._conflicted:
                raise StopAsyncIteration
            # Back off with jitter so the conflicting transactions do not collide again at once.
            await asyncio.sleep(random.uniform(0, min(0.5, 0.01 * 2**current.attempts)))
        number = 1 if current is None else current.attempts + 1
        attempt = first if current is None else first.again()
        attempt._retrying = True
        first.attempts = attempt.attempts = number
        attempt._swallow = number <= first.options.retries
        self._current = attempt
        return attempt
