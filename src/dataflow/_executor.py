"""The execution context of one DataFlow instance: where every statement gets its connection.

It owns the pool manager, the current-transaction context variable, the isolated connection of
``db.isolated()`` and the set of tables known to exist. ``async with context.connection()`` is the
only way any code obtains a connection: inside a transaction it is the transaction's connection,
inside ``db.isolated()`` the isolated one, otherwise one from the running loop's pool.

``isolated(join_instances=True)`` makes every other context on the same database *follow* this one
while it runs (the ones that exist and the ones created meanwhile): a follower's connections,
transactions and transaction context variable are its leader's, so an app's import-time instance
writes on the test's isolated connection and its ``transaction()`` blocks become savepoints there.
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

from ._database_aliases import joins
from ._dialects import Backend, Connection, Pool, PoolSettings, TableDDL
from ._enhancer import ErrorEnhancer, default_enhancer
from ._error_base import DataFlowError
from ._errors import TransactionError
from ._observe import Watcher
from ._pool import PoolManager
from ._query_cache import ALL_MODELS, QueryCache
from ._replicas import ReplicaRouter, Routing
from ._schema_cache import SchemaCache, check_columns
from ._shared import SharedConnection
from ._transaction import Boundaries, Transaction, TransactionState
from ._tx_metrics import TransactionMetrics
from ._tx_options import TransactionOptions
from ._url import DatabaseURL

__all__ = ["ExecutionContext", "live_contexts"]

T = TypeVar("T")

#: Every live execution context (the instances isolated(join_instances=True) can reach).
_contexts: weakref.WeakSet[ExecutionContext] = weakref.WeakSet()
#: Leaders of a running isolated(join_instances=True): contexts created meanwhile join them.
_leaders: list[ExecutionContext] = []


def live_contexts() -> list[ExecutionContext]:
    """Every live execution context in the process."""
    return list(_contexts)


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
        shared = tx.shared if tx is not None and tx.state is TransactionState.ACTIVE else context._pinned
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
        created_at: ``file:line`` where the instance was created (named in DF-703).
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
        created_at: str = "",
    ) -> None:
        self.url = url
        self.backend = backend
        #: Writes the messages of errors raised by this instance's nodes.
        self.enhancer = enhancer or default_enhancer()
        self.settings = settings
        self.pools = PoolManager(url, backend, settings, test_mode=test_mode, owner=owner, created_at=created_at)
        self.tx_var: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
            f"dataflow_tx_{id(self):x}", default=None
        )
        #: The isolated connection while ``isolated()`` runs: every task of this instance uses it.
        self._pinned: SharedConnection | None = None
        self._isolation: Transaction | None = None
        #: The context this one follows while another instance's isolated(join_instances=True) runs.
        self.leader: ExecutionContext | None = None
        self._followers: weakref.WeakSet[ExecutionContext] = weakref.WeakSet()
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
        #: What the monitoring nodes record for this instance (``dataflow.watch(db)``), else ``None``.
        self.watch: Watcher | None = None
        _contexts.add(self)
        for leader in _leaders:
            if joins(url, leader.url):
                self.follow(leader)
                break

    # --- following another context's isolation -----------------------------------------------

    @property
    def root(self) -> ExecutionContext:
        """The context whose connections this one uses: its leader while it follows one, else itself."""
        return self.leader if self.leader is not None else self

    @property
    def pinned(self) -> SharedConnection | None:
        """The isolated connection while ``isolated()`` (its own or its leader's) runs."""
        return self.root._pinned

    def check_can_follow(self) -> None:
        """DF-601 when this context is inside its own isolation or transaction."""
        if self._pinned is not None or self.current_transaction() is not None or self._followers:
            raise TransactionError(
                f"The DataFlow instance on {self.url.redacted} is inside its own db.isolated() or "
                "db.transaction() block, so it cannot join another instance's isolation."
            )

    def follow(self, leader: ExecutionContext) -> None:
        """Use ``leader``'s connections and transactions until :meth:`unfollow` (DF-601 when busy)."""
        self.check_can_follow()
        self.leader = leader
        leader._followers.add(self)

    def unfollow(self) -> None:
        """Stop following the leader; tables created meanwhile are checked again on next use."""
        leader, self.leader = self.leader, None
        if leader is not None:
            leader._followers.discard(self)
            self.schema.clear()

    # --- what transactions need (TransactionHost) -------------------------------------------

    @property
    def isolation(self) -> Transaction | None:
        """The always-rolled-back transaction of ``isolated()``, while it runs."""
        return self.root._isolation

    @property
    def begin_sql(self) -> str:
        """The backend's BEGIN statement."""
        return self.backend.begin_sql

    def current_transaction(self) -> Transaction | None:
        """The active transaction of the running task context, if any."""
        tx = self.root.tx_var.get()
        return tx if tx is not None and tx.state is TransactionState.ACTIVE else None

    def connection(self) -> _Lease:
        """``async with context.connection() as connection:`` — the right connection for now."""
        return _Lease(self.root)

    @asynccontextmanager
    async def raw_connection(self) -> AsyncIterator[Connection]:
        """``db.connection()``: a connection for SQL DataFlow cannot see into, so it may write any
        table (read replicas and the query cache are told, before and after)."""
        await self.writes(ALL_MODELS)
        try:
            async with _Lease(self.root) as connection:
                connection.exposed = True  # the pool resets its session when it comes back
                yield connection if self.watch is None else self.watch.wrap_connection(connection, None, self)
        finally:
            await self.writes(ALL_MODELS)

    async def cleanup_all(self) -> int:
        """Close every pool (the replicas' too); return how many."""
        count = await self.pools.cleanup_all()
        if self.replicas is not None:
            count += await self.replicas.cleanup_all()
        return count

    async def close(self) -> None:
        """Close every pool and refuse new ones (the instance is closed)."""
        if self.query_cache is not None:
            await self.query_cache.close()
        await self.cleanup_all()
        self.pools.retire()
        _contexts.discard(self)  # nothing joins a closed instance: isolations need not look at it
        if self.replicas is not None:
            self.replicas.close()

    def forget_tables(self, names: Iterable[str]) -> None:
        """These tables may no longer exist (their CREATE was rolled back, or they were dropped)."""
        names = list(names)
        self.schema.forget(names)
        if self.query_cache is not None:
            for name in names:
                self.query_cache.invalidate(name)
        for follower in list(self._followers):
            follower.schema.forget(names)

    def transaction_started(self, transaction: Transaction) -> None:
        """An outermost transaction block began."""
        self.open_transactions.add(transaction)

    def transaction_ended(self, transaction: Transaction, outcome: str, retried: bool) -> None:
        """An outermost transaction block ended: count it."""
        self.open_transactions.discard(transaction)
        self.metrics.record(
            outcome=outcome, duration=time.monotonic() - transaction.started, retried=retried,
            models=transaction.models, workflow=transaction.workflow,
        )

    def transaction_failed(self, transaction: Transaction, error: DataFlowError) -> None:
        """A transaction block raised ``error`` (the monitoring nodes count conflicts and lock waits)."""
        if self.watch is not None:
            self.watch.failed(error, transaction.root)

    # --- running statements -----------------------------------------------------------------

    def transaction(self, options: TransactionOptions | None = None) -> Transaction:
        """A new transaction block (a savepoint when one is active)."""
        return Transaction(self.root, options=options)

    def run(
        self,
        model: str,
        ddl: Callable[[], TableDDL],
        operation: Callable[[Connection], Awaitable[T]],
        *,
        read: bool = False,
        cache_key: tuple[str, Sequence[Any]] | None = None,
    ) -> Awaitable[T]:
        """Run ``operation`` on the right connection, creating the model's table first if needed
        (await the result).

        Args:
            model: The model's name.
            ddl: Returns the table's idempotent CREATE statements.
            operation: The statements to run.
            read: The operation only reads: with read replicas, a replica may serve it.
            cache_key: With the query cache on, a read's result is kept under its statement (SQL
                and values); ``None``: not cached.
        """
        known = self.schema.check(model)
        if known and self.watch is None and self.replicas is None and self.query_cache is None:
            # The common case, without a coroutine of its own (every statement passes here).
            tx = self.current_transaction()
            if tx is not None:
                tx.root.models.add(model)
            return self._plain(operation)
        return self._run(known, model, ddl, operation, read, cache_key)

    async def _run(
        self, known: bool, model: str, ddl: Callable[[], TableDDL], operation: Callable[[Connection], Awaitable[T]],
        read: bool, cache_key: tuple[str, Sequence[Any]] | None,
    ) -> T:
        if not known:
            await self.create_table(model, ddl)
        tx = self.current_transaction()
        if tx is not None:
            tx.root.models.add(model)
        if self.watch is not None and self.watch.capturing:
            operation = self.watch.wrap(operation, model, self)
        if self.replicas is None and self.query_cache is None:
            return await self._plain(operation)
        if not read:
            await self.writes(model)
            try:
                return await self._plain(operation)
            finally:
                await self.writes(model)  # a read that raced the write must not keep what it saw
        outside = self.pinned is None and self.current_transaction() is None
        routing = self.routing.get()
        cached = self.cache_by_default if routing is None or routing.cache_reads is None else routing.cache_reads
        cache = self.query_cache if outside and cached else None
        if routing is not None and not routing.read_write_split:
            outside = False  # the primary only
        if cache is not None and cache_key is not None and cache.usable(model):
            return await cache.read(model, cache_key, lambda: self._read(operation, outside))
        return await self._read(operation, outside)

    def ensure_query_cache(self, ttl: float | None) -> QueryCache:
        """The instance's query cache, made with ``ttl`` if it has none (writes invalidate it from now on)."""
        if self.query_cache is None:
            self.query_cache = QueryCache(ttl=ttl)
        return self.query_cache

    def wrote(self, model: str) -> None:
        """A write to ``model`` (``ALL_MODELS``: any table) runs now: the replicas and the cache learn of it."""
        scope = self.current_transaction() or self.isolation
        if self.replicas is not None:
            self.replicas.wrote(scope)
        if self.query_cache is not None:
            self.query_cache.invalidate(model, scope)

    async def writes(self, model: str) -> None:
        """:meth:`wrote`, and the query cache's backend (Redis) is told before this returns."""
        self.wrote(model)
        if self.query_cache is not None:
            await self.query_cache.flush()

    async def _read(self, operation: Callable[[Connection], Awaitable[T]], outside: bool) -> T:
        if outside and self.replicas is not None:
            return await self.replicas.read(operation, self._on_primary)
        return await self._plain(operation)

    async def _plain(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        if self.pinned is None and self.root.tx_var.get() is None:
            # Most operations run outside any transaction: straight to the pool, as _Lease would.
            pool = self.pools.current(asyncio.get_running_loop()) or await self.pools.get()
            connection = await pool.acquire()
            try:
                return await operation(connection)
            finally:
                await pool.release(connection)
        return await self._on_primary(operation)

    async def _on_primary(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        async with _Lease(self.root) as connection:
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
            async with _Lease(self.root) as connection:
                await self.backend.create_table(connection, table)
                if self.schema.validation:
                    check_columns(name, table, await self.backend.describe_columns(connection, table.table))
            scope = self.current_transaction() or self.isolation
            if scope is not None:
                scope.created_tables.add(name)
            if self.replicas is not None:
                self.replicas.wrote(scope)  # replicas have the table once they replay past this
            if self.query_cache is not None:
                self.query_cache.table_created(name, scope)  # a miss on a missing table is not kept
            self.schema.mark(name)

    @asynccontextmanager
    async def isolated(
        self, *, join_instances: bool = False, boundaries: Boundaries | None = None
    ) -> AsyncIterator[None]:
        """Pin one connection in a transaction that is always rolled back (see ``DataFlow.isolated``).

        With ``join_instances``, every other context on the same database follows this one while the
        block runs (those that exist and those created meanwhile). ``boundaries`` run its BEGIN and ROLLBACK.
        """
        if self.pinned is not None or self.current_transaction() is not None or self.leader is not None:
            raise TransactionError(
                "db.isolated() cannot be nested or used inside db.transaction(); it must be the outermost block."
            )
        followers = self._joinable() if join_instances else []
        isolation = Transaction(self, always_rollback=True, publish=False,
                                share_timeout=self.settings.acquire_timeout, boundaries=boundaries)
        async with isolation:
            self._isolation = isolation
            self._pinned = isolation.shared
            try:
                if join_instances:
                    self._join_all(followers)
                yield
            finally:
                if join_instances:
                    self._leave_all()
                self._pinned = None
                self._isolation = None

    def _joinable(self) -> list[ExecutionContext]:
        """The open contexts on this database (DF-601 before BEGIN when one is busy)."""
        followers = [
            c
            for c in live_contexts()
            if c is not self and c.leader is None and not c.pools.closed and joins(c.url, self.url)
        ]
        for context in followers:
            context.check_can_follow()
        return followers

    def _join_all(self, followers: list[ExecutionContext]) -> None:
        for context in followers:
            context.follow(self)
        _leaders.append(self)

    def _leave_all(self) -> None:
        if self in _leaders:
            _leaders.remove(self)
        for follower in list(self._followers):
            follower.unfollow()
