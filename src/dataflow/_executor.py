"""The execution context of one DataFlow instance: where every statement gets its connection.

It owns the pool manager, the current-transaction context variable, the isolated connection of
``db.isolated()`` and the set of tables known to exist. ``async with context.connection()`` is the
only way any code obtains a connection: inside a transaction it is the transaction's connection,
inside ``db.isolated()`` the isolated one, otherwise one from the running loop's pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

from ._dialects import Backend, Connection, Pool, PoolSettings, TableDDL
from ._enhancer import ErrorEnhancer, default_enhancer
from ._errors import SchemaMismatchError, TransactionError
from ._pool import PoolManager
from ._query_cache import ALL_MODELS, QueryCache
from ._replicas import ReplicaRouter, Routing
from ._schema_cache import SchemaCache
from ._shared import SharedConnection
from ._transaction import Transaction, TransactionState
from ._tx_metrics import TransactionMetrics
from ._tx_options import TransactionOptions
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
        #: Counts and durations of this instance's transactions (TransactionMetricsNode).
        self.metrics = TransactionMetrics()
        #: The outermost transaction blocks open right now (TransactionMonitorNode).
        self.open_transactions: weakref.WeakSet[Transaction] = weakref.WeakSet()
        #: Routes reads to read replicas (``DataFlow(read_replicas=...)``), else ``None``.
        self.replicas: ReplicaRouter | None = None
        #: Read results (``DataFlow(enable_query_cache=True)``, or made by a QueryRouterNode), else ``None``.
        self.query_cache: QueryCache | None = None
        #: Whether reads use the query cache outside a QueryRouterNode that says otherwise.
        self.cache_by_default = False
        #: The routing a QueryRouterNode sets for the nodes downstream of it.
        self.routing: contextvars.ContextVar[Routing | None] = contextvars.ContextVar(
            f"dataflow_routing_{id(self):x}", default=None
        )

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

    @asynccontextmanager
    async def raw_connection(self) -> AsyncIterator[Connection]:
        """``db.connection()``: a connection for SQL DataFlow cannot see into, so it may write any
        table (read replicas and the query cache are told, before and after)."""
        self.wrote(ALL_MODELS)
        try:
            async with _Lease(self) as connection:
                yield connection
        finally:
            self.wrote(ALL_MODELS)

    async def cleanup_all(self) -> int:
        """Close every pool (the replicas' too); return how many."""
        count = await self.pools.cleanup_all()
        if self.replicas is not None:
            count += await self.replicas.cleanup_all()
        return count

    async def close(self) -> None:
        """Close every pool and refuse new ones (the instance is closed)."""
        await self.cleanup_all()
        self.pools.closed = True
        if self.replicas is not None:
            self.replicas.close()

    def forget_tables(self, names: Iterable[str]) -> None:
        """These tables may no longer exist (their CREATE was rolled back, or they were dropped)."""
        names = list(names)
        self.schema.forget(names)
        if self.query_cache is not None:
            for name in names:
                self.query_cache.invalidate(name)

    def transaction_started(self, transaction: Transaction) -> None:
        """An outermost transaction block began."""
        self.open_transactions.add(transaction)

    def transaction_ended(self, transaction: Transaction, outcome: str, retried: bool) -> None:
        """An outermost transaction block ended: count it."""
        self.open_transactions.discard(transaction)
        self.metrics.record(
            outcome=outcome,
            duration=time.monotonic() - transaction.started,
            retried=retried,
            models=transaction.models,
            workflow=transaction.workflow,
        )

    # --- running statements -----------------------------------------------------------------

    def transaction(self, options: TransactionOptions | None = None) -> Transaction:
        """A new transaction block (a savepoint when one is active)."""
        return Transaction(self, options=options)

    async def run(
        self,
        model: str,
        ddl: Callable[[], TableDDL],
        operation: Callable[[Connection], Awaitable[T]],
        *,
        read: bool = False,
        cache_key: tuple[str, Sequence[Any]] | None = None,
    ) -> T:
        """Run ``operation`` on the right connection, creating the model's table first if needed.

        Args:
            model: The model's name.
            ddl: Returns the table's idempotent CREATE statements.
            operation: The statements to run.
            read: The operation only reads: with read replicas, a replica may serve it.
            cache_key: With the query cache on, a read's result is kept under its statement (SQL
                and values); ``None``: not cached.
        """
        if not self.schema.check(model):
            await self.create_table(model, ddl)
        tx = self.current_transaction()
        if tx is not None:
            tx.root.models.add(model)
        if self.replicas is None and self.query_cache is None:
            return await self._plain(operation)
        if not read:
            self.wrote(model)
            try:
                return await self._plain(operation)
            finally:
                self.wrote(model)  # a read that raced the write must not keep what it saw
        outside = self.pinned is None and self.current_transaction() is None
        routing = self.routing.get()
        cached = self.cache_by_default if routing is None or routing.cache_reads is None else routing.cache_reads
        cache = self.query_cache if outside and cached else None
        if routing is not None and not routing.read_write_split:
            outside = False  # the primary only
        if cache is not None and cache_key is not None and cache.usable(model):
            key = (cache_key[0], repr(cache_key[1]))
            found, value, generation = cache.lookup(model, key)
            if found:
                return list(value) if isinstance(value, list) else value  # type: ignore[return-value]
            result = await self._read(operation, outside)
            cache.store(model, key, result, generation)
            return result
        return await self._read(operation, outside)

    def ensure_query_cache(self, ttl: float | None) -> QueryCache:
        """The instance's query cache, made with ``ttl`` if it has none (writes invalidate it from now on)."""
        if self.query_cache is None:
            self.query_cache = QueryCache(ttl=ttl)
        return self.query_cache

    def wrote(self, model: str) -> None:
        """A write to ``model`` (``ALL_MODELS``: any table) runs now: the replicas and the cache learn of it."""
        scope = self.current_transaction() or self._isolation
        if self.replicas is not None:
            self.replicas.wrote(scope)
        if self.query_cache is not None:
            self.query_cache.invalidate(model, scope)

    async def _read(self, operation: Callable[[Connection], Awaitable[T]], outside: bool) -> T:
        if outside and self.replicas is not None:
            return await self.replicas.read(operation, self._on_primary)
        return await self._plain(operation)

    async def _plain(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        if self.pinned is None and self.tx_var.get() is None:
            # Most operations run outside any transaction: straight to the pool, as _Lease would.
            pool = await self.pools.get()
            connection = await pool.acquire()
            try:
                return await operation(connection)
            finally:
                await pool.release(connection)
        return await self._on_primary(operation)

    async def _on_primary(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
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
            if self.replicas is not None:
                self.replicas.wrote(scope)  # replicas have the table once they replay past this
            if self.query_cache is not None:
                self.query_cache.invalidate(name, scope)  # a miss on a missing table is not kept
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
