"""The DataFlow class: models, their nodes, connections, transactions and cleanup for one database."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar, overload

from . import _testmode
from ._dialects import Connection, SQLDialect, dialect_for
from ._errors import ConfigurationError, InvalidModelError, TransactionError
from ._model import ModelSpec, build_model_spec
from ._nodes import Node, register_nodes, unregister_nodes
from ._pool import PoolManager, PoolSettings
from ._query import Statements
from ._transaction import Pinned, Transaction
from ._url import DatabaseURL

__all__ = ["DataFlow"]

logger = logging.getLogger("dataflow")
T = TypeVar("T")
C = TypeVar("C", bound=type)

_TEST_POOL = (1, 4)
_PRODUCTION_POOL = (1, 10)


class DataFlow:
    """One database: its models, their generated nodes, and the connection pools to reach it.

    Args:
        url: The database URL. Without one, ``DATABASE_URL`` is used, else ``sqlite:///:memory:``.
            Accepted: ``sqlite:///path.db``, ``sqlite:///:memory:``, ``postgresql://``,
            ``postgres://`` and ``postgresql+asyncpg://`` URLs.
        test_mode: ``True``/``False`` to force test mode on or off; ``None`` (default) follows
            :meth:`enable_test_mode` / :meth:`disable_test_mode`, else auto-detects pytest.
        pool_min_size: PostgreSQL connections a pool keeps open (default 1).
        pool_max_size: PostgreSQL connections a pool may open (default 10; 4 in test mode).
        pool_acquire_timeout: Seconds to wait for a free connection before DF-509.
        connect_timeout: Seconds to wait for PostgreSQL to accept a connection.
        sqlite_busy_timeout: Seconds SQLite waits for another connection's write lock before DF-510.

    Raises:
        InvalidURLError: DF-801, for a malformed or unsupported URL (the password is never shown).
        ConfigurationError: DF-802, for invalid settings.

    Example:
        ```python
        db = DataFlow("sqlite:///app.db")

        @db.model
        class User:
            id: int
            name: str
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        test_mode: bool | None = None,
        pool_min_size: int | None = None,
        pool_max_size: int | None = None,
        pool_acquire_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        sqlite_busy_timeout: float = 5.0,
    ) -> None:
        raw_url = url if url is not None else os.environ.get("DATABASE_URL") or "sqlite:///:memory:"
        self._url = DatabaseURL.parse(raw_url)
        self._dialect: SQLDialect = dialect_for(self._url.dialect)
        self._test_mode, reason = _testmode.resolve(test_mode)
        default_min, default_max = _TEST_POOL if self._test_mode else _PRODUCTION_POOL
        settings = PoolSettings(
            min_size=default_min if pool_min_size is None else pool_min_size,
            max_size=default_max if pool_max_size is None else pool_max_size,
            acquire_timeout=pool_acquire_timeout,
            connect_timeout=connect_timeout,
            sqlite_busy_timeout=sqlite_busy_timeout,
        )
        _check_settings(settings)
        self._settings = settings
        self._models: dict[str, ModelSpec] = {}
        self._nodes: dict[str, type[Node]] = {}
        self._statement_cache: dict[str, Statements] = {}
        self._ready: set[str] = set()
        self._ddl_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False
        self._pinned: Pinned | None = None
        self._pinned_tables: set[str] = set()
        self._tx_var: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
            f"dataflow_tx_{id(self):x}", default=None
        )
        self._pools = PoolManager(self._url, settings, test_mode=self._test_mode, owner=repr(self))
        self._pools.on_memory_closed.append(self._ready.clear)
        if self._test_mode:
            logger.info("DataFlow: test mode enabled (%s) for %s", reason, self._url.redacted)

    # --- configuration ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL with its password replaced by ``***``."""
        return self._url.redacted

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._url.dialect

    @property
    def test_mode(self) -> bool:
        """Whether this instance runs in test mode."""
        return self._test_mode

    @classmethod
    def enable_test_mode(cls) -> None:
        """Make test mode the default for DataFlow instances created from now on in this process.

        An explicit ``test_mode=`` argument still wins.
        """
        _testmode.set_default(True)

    @classmethod
    def disable_test_mode(cls) -> None:
        """Make production mode the default for new instances (an explicit ``test_mode=`` still wins)."""
        _testmode.set_default(False)

    @classmethod
    def reset_test_mode(cls) -> None:
        """Forget the process default set by :meth:`enable_test_mode` / :meth:`disable_test_mode`."""
        _testmode.set_default(None)

    def __repr__(self) -> str:
        return f"DataFlow({self._url.redacted!r}, test_mode={self._test_mode})"

    # --- models -------------------------------------------------------------------------------

    @overload
    def model(self, cls: C) -> C: ...

    @overload
    def model(
        self,
        cls: None = None,
        *,
        table: str | None = None,
        unique: Iterable[Sequence[str] | str] | None = None,
        indexes: Iterable[Sequence[str] | str] | None = None,
    ) -> Callable[[C], C]: ...

    def model(
        self,
        cls: C | None = None,
        *,
        table: str | None = None,
        unique: Iterable[Sequence[str] | str] | None = None,
        indexes: Iterable[Sequence[str] | str] | None = None,
    ) -> C | Callable[[C], C]:
        """Register a model class and generate its eleven nodes (``UserCreateNode``, ...).

        Use as ``@db.model`` or ``@db.model(table="people", unique=[("first", "last")])``. The class
        is returned unchanged, so it can be registered on several instances.

        Raises:
            InvalidModelError: DF-104 (no ``id``, unsupported type, name already registered).
        """

        def register(target: C, namespace: dict[str, Any] | None = None) -> C:
            if namespace is None:
                namespace = _caller_namespace(1)
            spec = build_model_spec(target, table=table, unique=unique, indexes=indexes, namespace=namespace)
            if spec.name in self._models:
                raise InvalidModelError(
                    f"A model named {spec.name} is already registered on this DataFlow instance.",
                    context={"model": spec.name},
                )
            self._models[spec.name] = spec
            self._nodes.update(register_nodes(self, spec))
            return target

        if cls is not None:
            return register(cls, _caller_namespace(1))
        return register

    @property
    def models(self) -> dict[str, ModelSpec]:
        """Registered models by class name."""
        return dict(self._models)

    @property
    def nodes(self) -> dict[str, type[Node]]:
        """This instance's generated node types by name."""
        return dict(self._nodes)

    def _statements(self, model: ModelSpec) -> Statements:
        statements = self._statement_cache.get(model.name)
        if statements is None:
            statements = self._statement_cache[model.name] = Statements(model, self._dialect)
        return statements

    # --- schema -------------------------------------------------------------------------------

    async def create_tables(self) -> None:
        """Create the tables (and indexes) of every registered model that does not exist yet."""
        for spec in self._models.values():
            self._ready.discard(spec.name)
            await self._ensure_table(spec)

    async def drop_tables(self) -> None:
        """Drop the tables of every registered model (their data is lost)."""
        for spec in self._models.values():
            sql = self._statements(spec).drop_table()
            await self._on_connection(lambda c, sql=sql: c.execute(sql))  # type: ignore[misc]
            self._ready.discard(spec.name)

    async def _ensure_table(self, model: ModelSpec) -> None:
        if model.name in self._ready:
            return
        # One CREATE at a time per loop: concurrent CREATE TABLE IF NOT EXISTS of the same table
        # collide on PostgreSQL's catalog (a unique violation on pg_type) when tasks race.
        loop = asyncio.get_running_loop()
        lock = self._ddl_locks.get(loop)
        if lock is None:
            lock = self._ddl_locks[loop] = asyncio.Lock()
        async with lock:
            if model.name in self._ready:
                return
            statements = self._statements(model).create_table()

            async def create(c: Connection) -> None:
                for sql in statements:
                    await c.execute(sql)

            await self._on_connection(create)
            tx = self._current_transaction()
            if tx is not None:
                tx.created_tables.add(model.name)
            elif self._pinned is not None:
                self._pinned_tables.add(model.name)
            self._ready.add(model.name)

    def _forget_tables(self, names: Iterable[str]) -> None:
        self._ready.difference_update(names)

    # --- running statements ----------------------------------------------------------------

    def _current_transaction(self) -> Transaction | None:
        tx = self._tx_var.get()
        return tx if tx is not None and tx._state == "active" else None

    async def _run(self, model: ModelSpec, operation: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``operation`` for ``model`` on the right connection (creating its table first)."""
        if model.name not in self._ready:
            await self._ensure_table(model)
        return await self._on_connection(operation)

    async def _on_connection(self, operation: Callable[[Connection], Awaitable[T]]) -> T:
        tx = self._current_transaction()
        if tx is not None:
            return await tx.run(operation)
        pinned = self._pinned
        if pinned is not None:
            await pinned.acquire(self._settings.acquire_timeout)
            try:
                return await operation(pinned.connection)
            finally:
                pinned.lock.release()
        pool = await self._pools.get()
        connection = await pool.acquire()
        try:
            return await operation(connection)
        finally:
            await pool.release(connection)

    # --- transactions ---------------------------------------------------------------------

    def transaction(self) -> Transaction:
        """``async with db.transaction():`` — commit on success, roll back on an exception.

        Nested blocks are savepoints. Workflows run with :class:`AsyncLocalRuntime` inside the block
        use its connection.

        Example:
            ```python
            async with db.transaction():
                await runtime.execute_workflow_async(workflow.build())
            ```
        """
        return Transaction(self)

    @asynccontextmanager
    async def isolated(self) -> AsyncIterator[DataFlow]:
        """Run everything on one connection inside a transaction that is always rolled back.

        While the block runs, every operation of this instance (from any task) uses that connection,
        and ``db.transaction()`` blocks become savepoints, so code under test that commits persists
        nothing. This is what the ``dataflow_isolated`` fixture uses.

        Raises:
            TransactionError: DF-601, when already isolated or inside a transaction.
        """
        if self._pinned is not None or self._current_transaction() is not None:
            raise TransactionError(
                "db.isolated() cannot be nested or used inside db.transaction(); it must be the outermost block."
            )
        loop = asyncio.get_running_loop()
        pool = await self._pools.get()
        connection = await pool.acquire()
        begun = False
        try:
            await connection.execute("BEGIN")
            begun = True
            connection.tx_depth += 1

            async def release() -> None:
                return None

            self._pinned = Pinned(connection, loop, release)
            yield self
        finally:
            self._pinned = None
            try:
                if begun:
                    connection.tx_depth -= 1
                    if connection.is_usable():
                        await connection.execute("ROLLBACK")
            finally:
                self._forget_tables(self._pinned_tables)
                self._pinned_tables.clear()
                await pool.release(connection)

    # --- cleanup ------------------------------------------------------------------------------

    async def cleanup_all_pools(self) -> int:
        """Close every pool this instance opened, on whichever event loop owns it.

        The instance stays usable: the next operation opens a new pool. With
        ``sqlite:///:memory:`` the database lives in its connection, so its data is gone.

        Returns:
            The number of pools closed. Failures are logged and counted, never raised.
        """
        return await self._pools.cleanup_all()

    async def cleanup_stale_pools(self) -> int:
        """Close pools whose event loop is closed.

        Returns:
            The number of stale pools closed. Never raises.
        """
        return await self._pools.cleanup_stale()

    def get_cleanup_metrics(self) -> dict[str, Any]:
        """Counters for pool lifecycle: ``pools_created``, ``pools_cleaned``, ``stale_pools_cleaned``,
        ``cleanup_failures``, ``active_pools`` and more. Contains no passwords."""
        return self._pools.metrics()

    async def close(self) -> None:
        """Close every pool and retire this instance: later operations raise DF-504."""
        if self._closed:
            return
        await self._pools.cleanup_all()
        self._pools.closed = True
        self._closed = True
        unregister_nodes(self._nodes)

    async def __aenter__(self) -> DataFlow:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _caller_namespace(depth: int) -> dict[str, Any]:
    """The names visible where the model class was defined, to resolve string annotations.

    ``from __future__ import annotations`` turns every annotation into a string; code run with
    ``exec`` or classes defined inside functions are not resolvable from the class's module alone.
    """
    frame = sys._getframe(depth + 1)
    try:
        return {**frame.f_globals, **frame.f_locals}
    finally:
        del frame


def _check_settings(settings: PoolSettings) -> None:
    problems = []
    if not isinstance(settings.min_size, int) or settings.min_size < 0:
        problems.append(f"pool_min_size must be an int >= 0, got {settings.min_size!r}")
    if not isinstance(settings.max_size, int) or settings.max_size < 1:
        problems.append(f"pool_max_size must be an int >= 1, got {settings.max_size!r}")
    elif isinstance(settings.min_size, int) and settings.min_size > settings.max_size:
        problems.append(
            f"pool_min_size ({settings.min_size}) is larger than pool_max_size ({settings.max_size})"
        )
    for name in ("acquire_timeout", "connect_timeout", "sqlite_busy_timeout"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            label = (
                name if name.startswith("sqlite") else ("pool_" + name if name == "acquire_timeout" else name)
            )
            problems.append(f"{label} must be a positive number of seconds, got {value!r}")
    if problems:
        raise ConfigurationError("Invalid DataFlow settings: " + "; ".join(problems) + ".")
