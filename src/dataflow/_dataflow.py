"""The DataFlow class: models, their nodes, connections, transactions and cleanup for one database."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import _testmode
from ._cache_config import cache_for
from ._cdc import ChangeFeedCalls
from ._dialects import Connection, PoolSettings, backend_for, parse_url
from ._enhancer import ErrorEnhancer, ErrorEnhancerConfig, PerformanceMode
from ._errors import InvalidModelError
from ._executor import ExecutionContext
from ._migrations import MigrationCalls, migrations_for
from ._model import ModelSpec, build_model_spec
from ._nodes import Node, NodeTypes, forget_owner, node_types_changed, register_owner
from ._query import Statements
from ._query_cache import QueryCache
from ._replicas import replica_router
from ._schema_cache import SchemaCache
from ._settings import (
    caller_namespace,
    check_schema_cache,
    check_settings,
    creation_site,
    resolve_error_enhancer,
)
from ._stream import RecordStream
from ._tenancy import TenantCalls, tenant_spec
from ._tenant_sql import check_row_security, statements_for, tenant_connection
from ._testmode import DefaultModeCalls
from ._transaction import Transaction
from ._tx_options import IsolationLevel, transaction_options
from ._workflow import WorkflowBuilder

if TYPE_CHECKING:
    from ._migrations import Migrations

__all__ = ["DataFlow"]

logger = logging.getLogger("dataflow")
C = TypeVar("C", bound=type)

_TEST_POOL = (1, 4)
_PRODUCTION_POOL = (1, 10)


class DataFlow(MigrationCalls, ChangeFeedCalls, TenantCalls, DefaultModeCalls):
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
        schema_cache_enabled: Remember which tables exist, so each model's first-use DDL runs once
            (default). ``False`` checks the table on every operation.
        schema_cache_ttl: Seconds a cached table stays trusted (``None``, the default: until cleared).
        schema_cache_max_size: Tables cached at most (least recently used dropped first).
        schema_cache_validation: When a table enters the cache, compare its columns with the model
            and raise DF-106 naming what differs.
        error_enhancer: How this instance's errors are written: an :class:`ErrorEnhancer`, an
            :class:`ErrorEnhancerConfig`, or a mode (``"full"``, ``"minimal"``, ``"disabled"``).
            Default: ``DATAFLOW_ERROR_MODE``, else full.
        migrations_dir: The folder of migration revision files (default ``migrations``, relative to
            the working directory when a migration command runs).
        read_replicas: URLs of PostgreSQL streaming replicas of ``url``: reads outside transactions
            go to them, with read-your-writes (see the read-replicas guide). DF-810 on SQLite.
        max_replica_lag: Seconds a replica may be behind the primary before reads skip it.
        replica_retry_interval: Seconds a replica that failed is left out before it is tried again.
        enable_query_cache: Keep the results of Read, List and Count nodes until this instance writes
            to their model (see the query-cache guide). Off by default.
        cache_ttl: Seconds a cached result is served at most (``None``: until a write drops it), to
            bound what writers outside this instance (other processes) can make stale.
        cache_max_size: Cached results kept at most (least recently used dropped first; in process).
        cache_backend: ``"memory"`` (default) or a Redis URL whose entries every instance shares (``redis`` extra).
        tenant_rls: PostgreSQL row-level security on tenant-scoped tables as a second wall (see the
            multi-tenancy guide). DF-814 on SQLite.

    Raises:
        InvalidURLError: DF-801, for a malformed or unsupported URL (the password is never shown).
        ConfigurationError: DF-802, for invalid settings (DF-820 and DF-821 for ``cache_backend``).

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
        schema_cache_enabled: bool = True,
        schema_cache_ttl: float | None = None,
        schema_cache_max_size: int = 10_000,
        schema_cache_validation: bool = False,
        error_enhancer: ErrorEnhancer | ErrorEnhancerConfig | PerformanceMode | str | None = None,
        migrations_dir: str | os.PathLike[str] = "migrations",
        read_replicas: Sequence[str] | None = None,
        max_replica_lag: float | None = None,
        replica_retry_interval: float = 5.0,
        enable_query_cache: bool = False,
        cache_ttl: float | None = None,
        cache_max_size: int = 10_000,
        cache_backend: str | None = None,
        tenant_rls: bool = False,
    ) -> None:
        raw_url = url if url is not None else os.environ.get("DATABASE_URL") or "sqlite:///:memory:"
        self._url = parse_url(raw_url)
        self._backend = backend_for(self._url)
        self._row_security = check_row_security(self._backend, tenant_rls)
        self._test_mode, reason, detail = _testmode.resolve(test_mode)
        default_min, default_max = _TEST_POOL if self._test_mode else _PRODUCTION_POOL
        settings = PoolSettings(
            min_size=default_min if pool_min_size is None else pool_min_size,
            max_size=default_max if pool_max_size is None else pool_max_size,
            acquire_timeout=pool_acquire_timeout,
            connect_timeout=connect_timeout,
            sqlite_busy_timeout=sqlite_busy_timeout,
        )
        check_settings(settings)
        check_schema_cache(schema_cache_enabled, schema_cache_ttl, schema_cache_max_size, schema_cache_validation)
        self._models: dict[str, ModelSpec] = {}
        self._statements: dict[str, Statements] = {}
        self._closed = False
        self._created_at = creation_site()
        self._schema = SchemaCache(
            self._url.redacted,
            self._model_name,
            enabled=schema_cache_enabled,
            ttl=schema_cache_ttl,
            max_size=schema_cache_max_size,
            validation=schema_cache_validation,
        )
        self._enhancer = resolve_error_enhancer(error_enhancer)
        #: Where this instance's statements get their connections (sagas, 2PC and monitoring use it).
        self.execution_context = self._context = ExecutionContext(
            self._url, self._backend, settings, self._schema,
            test_mode=self._test_mode, owner=repr(self), enhancer=self._enhancer, created_at=self._created_at,
        )
        self._nodes = NodeTypes(self._context)
        self._migrations_dir = migrations_dir
        self._migrations: Migrations | None = None  # made on first use: the engine is imported then
        cache = cache_for(enable_query_cache, cache_ttl, cache_max_size, cache_backend, self._url)
        if cache is not None:
            self._context.query_cache, self._context.cache_by_default = cache, True
        if read_replicas is not None:
            pools = self._context.pools
            self._context.replicas = replica_router(pools, read_replicas, max_replica_lag, replica_retry_interval)
        register_owner(self)
        if self._test_mode:
            logger.info(
                "DataFlow: Test mode enabled (%s) for %s%s", reason, self._url.redacted, f"; {detail}" if detail else ""
            )

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

    @property
    def schema_cache(self) -> SchemaCache:
        """Known tables: ``get_metrics()``, ``clear()``, ``clear_table()``, ``is_table_ensured()``."""
        return self._schema

    @property
    def error_enhancer(self) -> ErrorEnhancer:
        """Writes the messages of the errors this instance's nodes raise."""
        return self._enhancer

    @property
    def _schema_cache(self) -> SchemaCache:
        # The name kailash-dataflow's documentation uses; the same object as ``schema_cache``.
        return self._schema

    def _model_name(self, model_or_table: Any) -> str | None:
        if isinstance(model_or_table, type):
            model_or_table = model_or_table.__name__
        for spec in self._models.values():
            if model_or_table in (spec.name, spec.table):
                return spec.name
        return None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def created_at(self) -> str:
        """``file:line`` of the code that created this instance (named in DF-407)."""
        return self._created_at

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
        soft_delete: bool = False,
        versioned: bool = False,
        tenant: bool | str = False,
    ) -> Callable[[C], C]: ...

    def model(
        self,
        cls: C | None = None,
        *,
        table: str | None = None,
        unique: Iterable[Sequence[str] | str] | None = None,
        indexes: Iterable[Sequence[str] | str] | None = None,
        soft_delete: bool = False,
        versioned: bool = False,
        tenant: bool | str = False,
    ) -> C | Callable[[C], C]:
        """Register a model class and generate its eleven nodes (``UserCreateNode``, ...).

        Use as ``@db.model`` or ``@db.model(table="people", unique=[("first", "last")])``. The class
        is returned unchanged, so it can be registered on several instances. ``tenant=True`` (a
        ``tenant_id`` field) or ``tenant="org_id"`` makes it tenant-scoped (multi-tenancy guide).

        ``soft_delete=True`` adds ``deleted_at`` (deletes mark rows, reads skip them; see the guide's
        "Soft delete and versioned rows"); ``versioned=True`` adds ``version`` (every update
        increments it; a write with ``expected_version`` that finds another version is DF-310).

        Raises:
            InvalidModelError: DF-104 (no ``id``, unsupported type, name already registered).
            InvalidModelOptionError: DF-817 (an option that is not a bool, or a field it would add).
        """

        def register(target: C, namespace: Mapping[str, Any] | None = None) -> C:
            if namespace is None:
                namespace = caller_namespace(1)
            spec = build_model_spec(
                target, table=table, unique=unique, indexes=indexes, namespace=namespace,
                soft_delete=soft_delete, versioned=versioned,
            )
            spec = tenant_spec(spec, tenant, row_security=self._row_security is not None)
            if spec.name in self._models:
                raise InvalidModelError(
                    f"A model named {spec.name} is already registered on this DataFlow instance.",
                    context={"model": spec.name},
                )
            statements = statements_for(spec, self._backend, self._row_security)
            self._models[spec.name] = spec
            self._statements[spec.name] = statements
            self._nodes.declare(spec, statements)
            node_types_changed()
            return target

        if cls is not None:
            return register(cls, caller_namespace(1))
        return register

    @property
    def models(self) -> dict[str, ModelSpec]:
        """Registered models by class name."""
        return dict(self._models)

    @property
    def nodes(self) -> dict[str, type[Node]]:
        """This instance's generated node types by name."""
        return self._nodes.all()

    def workflow(self) -> WorkflowBuilder:
        """A :class:`WorkflowBuilder` bound to this instance: node names resolve to its models.

        Example:
            ```python
            workflow = db.workflow()
            workflow.add_node("UserCreateNode", "create", {"name": "Alice"})
            ```
        """
        return WorkflowBuilder(self)

    def stream(self, model: Any, *, filter: Mapping[str, Any] | None = None, batch_size: int = 1000) -> RecordStream:
        """A model's records matching ``filter`` in id order, ``batch_size`` at a time (``async for``).

        ``model`` is the model class or its name. Memory stays flat: see :class:`RecordStream`.
        """
        node = self._nodes.get(f"{self._model_name(model)}ListNode")
        return RecordStream.of(node, model, list(self._models), filter, batch_size)

    # --- schema -------------------------------------------------------------------------------

    async def create_tables(self) -> None:
        """Create the tables (and indexes) of every registered model that does not exist yet."""
        context = self._context
        for spec in self._models.values():
            context.forget_tables([spec.name])
            await context.create_table(spec.name, self._statements[spec.name].table_ddl)

    async def drop_tables(self) -> None:
        """Drop the tables of every registered model (their data is lost)."""
        context = self._context
        for spec in self._models.values():
            async with context.raw_connection() as connection:
                await connection.execute(self._statements[spec.name].drop_table())
            context.forget_tables([spec.name])

    # --- migrations ---------------------------------------------------------------------------

    @property
    def migrations(self) -> Migrations:
        """This instance's migrations: ``await db.migrations.history()``, ``current()``, ``check()``, ..."""
        if self._migrations is None:
            self._migrations = migrations_for(self._context, self._models, self._migrations_dir)
        return self._migrations

    # --- connections and transactions ------------------------------------------------------

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """``async with db.connection() as connection:`` — the connection DataFlow would use now.

        Inside ``db.transaction()`` it is the transaction's connection, inside ``db.isolated()`` the
        isolated one, else one from the running loop's pool, given back when the block ends. Use it
        for SQL of your own (``await connection.fetch("SELECT 1")``); statements are not translated
        between backends. Read replicas and the query cache treat what runs on it as a write to any
        table.
        """
        return tenant_connection(self._context, self._row_security)

    def transaction(
        self, *, isolation: IsolationLevel | str | None = None, timeout: float | None = None, retries: int = 0
    ) -> Transaction:
        """``async with db.transaction():`` — commit on success, roll back on an exception. Nested
        blocks are savepoints; workflows run with :class:`AsyncLocalRuntime` inside use its connection.
        An option value it does not accept is DF-604.

        Args:
            isolation: ``READ_COMMITTED``, ``REPEATABLE_READ``, ``SERIALIZABLE`` (SQLite: always serializable).
            timeout: Seconds a statement or lock wait may take (DF-603 beyond it).
            retries: Runs after a serialization failure or deadlock (DF-602): use ``.run(fn)`` or ``async for``.
        """
        return self._context.transaction(transaction_options(isolation, timeout, retries))

    @asynccontextmanager
    async def isolated(self, *, join_instances: bool = False) -> AsyncIterator[DataFlow]:
        """Run everything on one connection inside a transaction that is always rolled back.

        While the block runs, every operation of this instance (from any task) uses that connection,
        and ``db.transaction()`` blocks become savepoints, so code that commits persists nothing.
        ``join_instances=True`` (what ``dataflow_isolated`` passes) does the same for every other open
        instance on the database, existing or created meanwhile (an app's import-time instance).

        Raises:
            TransactionError: DF-601, when this instance or one that would join is isolated or in a transaction.
        """
        async with self._context.isolated(join_instances=join_instances):
            yield self

    # --- cleanup ------------------------------------------------------------------------------

    async def cleanup_all_pools(self) -> int:
        """Close every pool this instance opened, on whichever event loop owns it.

        The instance stays usable: the next operation opens a new pool. With
        ``sqlite:///:memory:`` the database lives in its connection, so its data is gone.

        Returns:
            The number of pools closed. Failures are logged and counted, never raised.
        """
        return await self._context.cleanup_all()

    async def cleanup_stale_pools(self) -> int:
        """Close pools whose event loop is closed.

        Returns:
            The number of stale pools closed. Never raises.
        """
        return await self._context.pools.cleanup_stale()

    @property
    def query_cache(self) -> QueryCache | None:
        """The query cache (``enable_query_cache=True``): ``get_metrics()``, ``clear()``; else ``None``."""
        return self._context.query_cache

    def get_replica_metrics(self) -> dict[str, Any]:
        """Reads served by the primary and by each replica, failures, lag; ``{}`` without replicas."""
        return self._context.replicas.metrics() if self._context.replicas is not None else {}

    def get_cleanup_metrics(self) -> dict[str, Any]:
        """Counters for pool lifecycle: ``pools_created``, ``pools_cleaned``, ``stale_pools_cleaned``,
        ``cleanup_failures``, ``active_pools`` and more. Contains no passwords."""
        return self._context.pools.metrics()

    async def close(self) -> None:
        """Close every pool and retire this instance: later operations raise DF-504."""
        if self._closed:
            return
        await self._context.close()
        self._closed = True
        forget_owner(self)

    async def __aenter__(self) -> DataFlow:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
