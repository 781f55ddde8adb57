"""The execution context of one DataFlow instance: where every statement gets its connection.

It owns the pool manager, the current-transaction context variable, the isolated connection of
``db.isolated()`` and the set of tables known to exist. ``async with context.connection()`` is the
only way any code obtains a connection: inside a transaction it is the transaction's connection,
inside ``db.isolated()`` the isolated one, otherwise one from the running loop's pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TypeVar

from ._dialects import Backend, Connection, Pool, PoolSettings, TableDDL
from ._enhancer import ErrorEnhancer, default_enhancer
from ._errors import SchemaMismatchError, TransactionError
from ._pool import PoolManager
from ._schema_cache import SchemaCache
from ._shared import SharedConnection
from ._transaction import Transaction, TransactionState
from ._url import DatabaseURL

__all__ = ["ExecutionContext", "check_columns"]

T = TypeVar("T")


class _Lease:
    """``async with context.connection() as connection:`` (a class, not a generator: it is on every
    operation's path)."""

    __slots__ = ("_context", "_shared", "_pool", "_connection")

    def __init__(self, context: ExecutionContext) -> None:
        self._context = context
        self._shared: SharedConnection | None = None
        self._pool: Pool | None = None
        self._connection: Connection | None = None

    async def __aenter__(self) -> Connection:
        context = self._context
        tx = context.tx_var.get()
        shared = tx.shared if tx is not None and tx.state is TransactionState.ACTIVE else context.pinned
        if shared is not None:
            self._shared = shared
            return await shared.take()
        pool = self._pool = await context.pools.get()
        connection = self._connection = await pool.acquire()
        return connection

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._shared is not None:
            self._shared.give_back()
        elif self._pool is not None and self._connection is not None:
            await self._pool.release(self._connection)


class ExecutionContext:
    """Connections, transactions and table readiness for one DataFlow instance.

    Args:
        url: The parsed database URL.
        backend: The URL's backend.
        settings: Pool sizes and timeouts.
        test_mode: Whether the instance runs in test mode.
        owner: How the instance is named in pool events (its ``repr``).
    """

    def __init__(
        self,
        url: DatabaseURL,
        backend: Backend,
        settings: PoolSettings,
        schema: SchemaCache,
        *,
        test_mode: bool,
        owner: str,
        enhancer: ErrorEnhancer | None = None,
    ) -> None:
        self.url = url
        self.backend = backend
        #: Writes the messages of errors raised by this instance's nodes.
        self.enhancer = enhancer or default_enhancer()
        self.settings = settings
        self.pools = PoolManager(url, backend, settings, test_mode=test_mode, owner=owner)
        self.tx_var: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
            f"dataflow_tx_{id(self):x}", default=None
        )
        #: The isolated connection while ``isolated()`` runs: every task of this instance uses it.
        self.pinned: SharedConnection | None = None
        self._isolation: Transaction | None = None
        #: Models whose tables are known to exist.
        self.schema = schema
        self._ddl_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.pools.on_shared_closed.append(schema.clear)

    # --- what transactions need (TransactionHost) -------------------------------------------

    @property
    def isolation(self) -> Transaction | None:
        """The always-rolled-back transaction of ``isolated()``, while it runs."""
        return self._isolation

    @property
    def begin_sql(self) -> str:
        """The backend's BEGIN statement."""
        return self.backend.begin_sql

    def current_transaction(self) -> Transaction | None:
        """The active transaction of the running task context, if any."""
        tx = self.tx_var.get()
        return tx if tx is not None and tx.state is TransactionState.ACTIVE else None

    def connection(self) -> _Lease:
        """``async with context.connection() as connection:`` — the right connection for now."""
        return _Lease(self)

    def forget_tables(self, names: Iterable[str]) -> None:
        """These tables may no longer exist (their CREATE was rolled back, or they were dropped)."""
        self.schema.forget(names)

    # --- running statements -----------------------------------------------------------------

    def transaction(self) -> Transaction:
        """A new transaction block (a savepoint when one is active)."""
        return Transaction(self)

    async def run(
        self, model: str, ddl: Callable[[], TableDDL], operation: Callable[[Connection], Awaitable[T]]
    ) -> T:
        """Run ``operation`` on the right connection, creating the model's table first if needed.

        Args:
            model: The model's name.
            ddl: Returns the table's idempotent CREATE statements.
            operation: The statements to run.
        """
        if not self.schema.check(model):
            await self.create_table(model, ddl)
        if self.pinned is None and self.tx_var.get() is None:
            # Most operations run outside any transaction: straight to the pool, as _Lease would.
            pool = self.pools.current(asyncio.get_running_loop()) or await self.pools.get()
            connection = await pool.acquire()
            try:
                return await operation(connection)
            finally:
                await pool.release(connection)
        async with _Lease(self) as connection:
            return await operation(connection)

    async def ensure_table(self, model: str, ddl: Callable[[], TableDDL]) -> None:
        """Create a model's table unless the schema cache knows it exists."""
        if not self.schema.check(model):
            await self.create_table(model, ddl)

    async def create_table(self, model: str, ddl: Callable[[], TableDDL]) -> None:
        """Run a model's idempotent CREATE statements (safe across tasks, threads, processes)."""
        name = model
        # One CREATE at a time per loop here; the backend serializes across connections.
        loop = asyncio.get_running_loop()
        lock = self._ddl_locks.get(loop)
        if lock is None:
            lock = self._ddl_locks[loop] = asyncio.Lock()
        async with lock:
            if self.schema.contains(name):
                return
            table = ddl()
            async with _Lease(self) as connection:
                await self.backend.create_table(connection, table)
                if self.schema.validation:
                    check_columns(name, table, await self.backend.describe_columns(connection, table.table))
            scope = self.current_transaction() or self._isolation
            if scope is not None:
                scope.created_tables.add(name)
            self.schema.mark(name)

    @asynccontextmanager
    async def isolated(self) -> AsyncIterator[None]:
        """Pin one connection in a transaction that is always rolled back (see ``DataFlow.isolated``)."""
        if self.pinned is not None or self.current_transaction() is not None:
            raise TransactionError(
                "db.isolated() cannot be nested or used inside db.transaction(); it must be the outermost block."
            )
        isolation = Transaction(
            self, always_rollback=True, publish=False, share_timeout=self.settings.acquire_timeout
        )
        async with isolation:
            self._isolation = isolation
            self.pinned = isolation.shared
            try:
                yield
            finally:
                self.pinned = None
                self._isolation = None


def check_columns(model: str, table: TableDDL, live: dict[str, str]) -> None:
    """DF-106 when the live table lacks a model column or stores one with another type."""
    missing = [name for name in table.columns if name not in live]
    mismatched = [
        f"{name} ({live[name]} in the table, {expected} in the model)"
        for name, expected in table.columns.items()
        if name in live and live[name] != expected
    ]
    if missing or mismatched:
        problems = []
        if missing:
            problems.append("missing column(s): " + ", ".join(missing))
        if mismatched:
            problems.append("column type(s) differ: " + "; ".join(mismatched))
        raise SchemaMismatchError(
            f"Table '{table.table}' of model {model} does not match the model: {'; '.join(problems)}.",
            context={"model": model, "table": table.table, "missing": missing, "mismatched": mismatched},
        )
