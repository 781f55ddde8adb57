"""The error catalog: the single source of truth for every ``DF-`` code.

Each entry names the exception class that raises it, a title, the usual cause, the fix, and the docs
page that holds its ``{#df-nnn}`` section. Codes are stable: a code is never reused, and a code that
is no longer raised keeps its entry with ``retired=True`` so links printed by old versions resolve.

The docs build and the test-suite both read this module: ``docs/troubleshooting/errors.md`` must hold
one section per code, and every code must be raised by a test that sees the code and the link.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ._catalog_cache import CACHE_ENTRIES
from ._catalog_cdc import CDC_ENTRIES
from ._catalog_monitoring import MONITORING_ENTRIES
from ._catalog_performance import PERFORMANCE_ENTRIES
from ._catalog_rows import ROW_ENTRIES
from ._catalog_services import SERVICE_ENTRIES
from ._catalog_tenancy import TENANCY_ENTRIES
from ._catalog_testing import TESTING_ENTRIES
from ._version import __version__

__all__ = ["CATALOG", "DOCS_BASE_URL", "ErrorInfo", "docs_base_url", "docs_version", "error_url"]

#: The published docs site (``site_url`` in mkdocs.yml, kept equal by a test): ``<site>/<major.minor>/`` per release.
DOCS_BASE_URL = "https://dataflow-dev.github.io/dataflow/"

#: The page that holds one section per code.
ERRORS_PAGE = "troubleshooting/errors/"


@dataclass(frozen=True)
class ErrorInfo:
    """One catalog entry."""

    code: str
    exception: str
    title: str
    cause: str
    fix: str
    page: str = ERRORS_PAGE
    retired: bool = False
    #: Further causes and solutions beyond ``cause`` and ``fix`` (numbered after them in FULL messages).
    more_causes: tuple[str, ...] = ()
    more_solutions: tuple[str, ...] = ()

    @property
    def causes(self) -> tuple[str, ...]:
        """Every cause, the usual one first."""
        return (self.cause, *self.more_causes)

    @property
    def solutions(self) -> tuple[str, ...]:
        """Every solution, the usual fix first."""
        return (self.fix, *self.more_solutions)

    @property
    def anchor(self) -> str:
        """The HTML id of the code's section, e.g. ``df-101``."""
        return self.code.lower()


def docs_base_url() -> str:
    """The docs base URL: ``DATAFLOW_DOCS_URL`` if set, else the published site."""
    base = os.environ.get("DATAFLOW_DOCS_URL") or DOCS_BASE_URL
    return base if base.endswith("/") else base + "/"


def docs_version() -> str:
    """The docs version of this release: ``major.minor`` of ``__version__`` (``"0.1"``)."""
    major, minor = __version__.split(".")[:2]
    return f"{major}.{minor}"


def error_url(code: str) -> str:
    """The link printed with an error: ``<docs base>/<major.minor>/<page>#<code in lower case>``.

    The version makes an old release's message open the page of that release, as pydantic's and
    SQLAlchemy's links do.
    """
    info = CATALOG[code]
    return f"{docs_base_url()}{docs_version()}/{info.page}#{info.anchor}"


_ENTRIES = [
    # 1xx: models and node parameters
    ErrorInfo(
        "DF-101", "MissingFieldError", "Missing required field",
        "A create (or upsert `create`) payload lacks a field that has no default and is not Optional.",
        "Pass the field in the node's parameters, connect it from another node, or give it a default "
        "(`email: str = ''`) or make it Optional (`email: str | None = None`) in the model.",
        more_causes=(
            "A field name with a typo (`user_email` for `email`) leaves the field missing too; the misspelt "
            "key is reported as DF-102 on its own.",
        ),
        more_solutions=(
            "Give the node every required field, for example:\n\n"
            '    workflow.add_node("UserCreateNode", "create", {"name": "Alice", "email": "alice@example.com"})',
        ),
    ),
    ErrorInfo(
        "DF-102", "UnknownFieldError", "Unknown field",
        "A parameter, filter or order_by names a field that the model does not declare (often a typo).",
        "Use one of the model's fields listed in the message, or add the field to the model.",
    ),
    ErrorInfo(
        "DF-103", "TypeMismatchError", "Value has the wrong type",
        "A value does not match the type declared on the model (for example a str for an int field), "
        "or a string contains a NUL byte, which neither backend can store.",
        "Convert the value before passing it (`int(age)`), or change the field's type in the model.",
    ),
    ErrorInfo(
        "DF-104", "InvalidModelError", "Invalid model definition",
        "The class given to `@db.model` has no `id` field, a field of an unsupported type, a field name "
        "starting with an underscore, or a model name already used on this DataFlow instance.",
        "Declare `id: int` (auto-assigned) or `id: str`, use the supported types "
        "(str, int, float, bool, datetime, date, Decimal, dict, list, and Optional of those), drop the "
        "leading underscore, and register each model name once per DataFlow instance.",
    ),
    ErrorInfo(
        "DF-105", "InvalidParameterError", "Invalid node parameter",
        "A node received a parameter it does not accept, a parameter of the wrong type "
        "(for example `limit='10'`), or two spellings of the same parameter (`filter` and `filters`).",
        "Use the parameters listed in the message for that node type, with the documented types.",
    ),
    ErrorInfo(
        "DF-106", "SchemaMismatchError", "Table does not match the model",
        "With `schema_cache_validation=True`, DataFlow compared an existing table with its model and found "
        "a model field without a column, or a column stored with another type (the table was created by an "
        "older version of the model, another program, or a migration that did not run).",
        "Migrate the table to the model (add or change the columns the message names), or in development "
        "drop it (`await db.drop_tables()`) so DataFlow creates it from the model.",
    ),
    # 2xx: filters and queries
    ErrorInfo(
        "DF-201", "UnknownOperatorError", "Unknown filter operator",
        "A filter uses an operator DataFlow does not support (for example `$regex` or a typo such as `$gte:`).",
        "Use one of the operators listed in the message; `$like`/`$ilike` cover most pattern needs.",
    ),
    ErrorInfo(
        "DF-202", "InvalidFilterError", "Malformed filter",
        "A filter has the wrong shape: `$in` without a list, `$and`/`$or` without a list of filters, "
        "`$null` without a bool, or a filter that is not a dict.",
        "Follow the filter grammar: `{field: value}`, `{field: {op: value}}`, `{'$or': [filter, ...]}`.",
    ),
    # 3xx: records and constraints
    ErrorInfo(
        "DF-301", "RecordNotFoundError", "Record not found",
        "A Read, Update or Delete node matched no row: the id or filter does not exist (yet), or the "
        "row was created in a transaction that was rolled back.",
        "Check the id or filter; use a List node when zero rows is a normal outcome.",
    ),
    ErrorInfo(
        "DF-302", "UniqueViolationError", "Unique constraint violated",
        "A create or update would store a duplicate value in the primary key or a unique field. In tests "
        "this usually means data from an earlier test persisted.",
        "Use an Upsert node for insert-or-update, or isolate tests with the rollback fixture "
        "(`dataflow_isolated`) so each test starts empty.",
    ),
    ErrorInfo(
        "DF-303", "ConstraintViolationError", "Constraint violated",
        "The database rejected a write that breaks a constraint other than uniqueness: a NOT NULL or CHECK "
        "constraint of an existing table that the model does not declare, for example a column that an "
        "older version of the model (or a migration) created and the current model no longer has.",
        "Make the model match the table (declare the column, or make it Optional with a default), or "
        "migrate the table (`db.generate_migration(...)`, then `db.migrate()`); in development "
        "`await db.drop_tables()` lets DataFlow recreate it.",
    ),
    ErrorInfo(
        "DF-304", "MultipleRecordsError", "Filter matched more than one record",
        "An Update or Delete node changes exactly one record, but its filter matched several.",
        "Narrow the filter (for example by `id`), or use the BulkUpdate / BulkDelete node.",
    ),
    ErrorInfo(
        "DF-305", "InvalidConflictTargetError", "Upsert conflict target is not unique",
        "`conflict_on` names fields that are not the primary key or a declared unique field or "
        "constraint. `INSERT ... ON CONFLICT` needs a unique index on both SQLite and PostgreSQL.",
        "Declare the field unique (`email: str = Field(unique=True)`) or pass `unique=[(...)]` to "
        "`@db.model`, or use the primary key as the conflict target.",
    ),
    # 4xx: workflows and runtimes
    ErrorInfo(
        "DF-401", "UnknownNodeTypeError", "Unknown node type",
        "`add_node` names a node type that no live DataFlow instance generated: a typo, a model "
        "defined on another instance that was closed, or a model not yet declared.",
        "Declare the model with `@db.model` before building the workflow, and use the exact node name "
        "(`UserCreateNode`); the message lists close matches.",
    ),
    ErrorInfo(
        "DF-402", "DuplicateNodeIdError", "Duplicate node id",
        "Two `add_node` calls used the same node id in one workflow.",
        "Give every node a unique id; results are keyed by it.",
    ),
    ErrorInfo(
        "DF-403", "WorkflowCycleError", "Workflow has a cycle",
        "The connections form a loop, so no node order can satisfy them.",
        "Remove one of the connections listed in the message; a workflow must be a directed acyclic graph.",
    ),
    ErrorInfo(
        "DF-404", "DanglingConnectionError", "Connection to an unknown node",
        "`add_connection` names a source or target node id that was never added.",
        "Add the node first, or fix the id in the connection.",
    ),
    ErrorInfo(
        "DF-405", "ConnectionPathError", "Connection path not found in output",
        "A connection reads a path (such as `record.id`) that the source node's output does not contain.",
        "Use a path that exists in the source output; the message shows the keys that were there.",
    ),
    ErrorInfo(
        "DF-406", "NodeExecutionError", "Unexpected error inside a node",
        "A node failed with an exception that is not a DataFlow error, for example raised by a model's "
        "`default_factory`. The original exception is chained as `__cause__`.",
        "Read the chained traceback and fix the code it points to; if it points into DataFlow itself, report "
        "it with the message.",
    ),
    ErrorInfo(
        "DF-407", "AmbiguousNodeTypeError", "Node type declared by several instances",
        "An unbound `WorkflowBuilder()` names a node type (`UserCreateNode`) that more than one live "
        "DataFlow instance declares, so it cannot tell which database the node should use.",
        "Bind the builder to one instance with `db.workflow()` or `WorkflowBuilder(db)`, pass the node "
        "class (`db.nodes['UserCreateNode']`), or close the instance you no longer use (`await db.close()`).",
    ),
    ErrorInfo(
        "DF-408", "InvalidConditionError", "Invalid SwitchNode condition",
        "A SwitchNode `condition` is not an expression DataFlow evaluates: a syntax error, a call to a "
        "function other than len, bool, int, float, str, abs, min, max, any, all and sum, an attribute, "
        "a comprehension or lambda, or a name other than `input` and the ids of the nodes connected into it.",
        "Write the condition over `input` with comparisons, `and`/`or`/`not`, arithmetic, indexing and the "
        'functions listed (`"len(input) > 0"`); compute anything else in a node before the switch.',
    ),
    ErrorInfo(
        "DF-409", "UnknownNodeIdError", "Unknown node id",
        "The Inspector (or `dataflow debug --trace-parameter`) was asked about a node id that the "
        "workflow does not contain: a typo, or a node of another workflow.",
        "Use one of the node ids the message lists; `Inspector(workflow).nodes()` shows them all.",
    ),
    # 5xx: connections, pools and event loops
    ErrorInfo(
        "DF-501", "ServerUnavailableError", "Connection refused: database server not reachable",
        "Nothing accepts connections at the host and port in the URL: the server is not running, "
        "listens on another port, or was stopped during the run.",
        "Start the server (or a throwaway one such as `pg_virtualenv`), check the host and port in "
        "DATABASE_URL (`pg_isready -h HOST -p PORT`), and never hard-code port 5432 in tests.",
    ),
    ErrorInfo(
        "DF-502", "AuthenticationError", "Authentication failed",
        "The server rejected the user name or password in the URL, or the role does not exist.",
        "Fix the credentials in DATABASE_URL (the password is never printed), or the server's pg_hba.conf.",
    ),
    ErrorInfo(
        "DF-503", "DatabaseNotFoundError", "Database does not exist",
        "The server is reachable but has no database with the name in the URL.",
        "Create it (`createdb NAME`) or use the `dataflow_url` fixture, which creates one per xdist worker.",
    ),
    ErrorInfo(
        "DF-504", "PoolClosedError", "pool is closed",
        "The DataFlow instance was closed with `close()` (often by a fixture's teardown) and is still "
        "being used, for example by a test that kept a reference from a wider scope, or a workflow outlived "
        "the instance that generated its nodes (it was garbage-collected).",
        "Give the instance the scope of the tests that use it, or create a new DataFlow, and keep it referenced "
        "while its workflows run; `cleanup_all_pools()` keeps the instance usable, `close()` does not.",
    ),
    ErrorInfo(
        "DF-505", "EventLoopClosedError", "Event loop is closed",
        "An operation ran on an event loop that is already closed, such as a LocalRuntime after "
        "`close()` or a pool whose loop finished.",
        "Create resources and close them in the same loop scope; create a new LocalRuntime instead of "
        "reusing a closed one.",
    ),
    ErrorInfo(
        "DF-506", "WrongEventLoopError", "attached to a different loop",
        "A connection or transaction created on one event loop was used from another: typically a "
        "session-scoped fixture used by function-loop tests.",
        "Give the fixture and the tests the same `loop_scope` (see the event-loop guide), or use "
        "function-scoped fixtures.",
    ),
    ErrorInfo(
        "DF-507", "StalePoolWarning", "Stale pool closed",
        "A pool outlived the event loop that created it (the loop was closed without "
        "`shutdown_asyncgens()`), and DataFlow closed it.",
        "Call `await db.cleanup_all_pools()` in the fixture teardown that owns the loop, or use the "
        "`dataflow_db` fixture, which does it for you.",
    ),
    ErrorInfo(
        "DF-508", "TooManyConnectionsError", "too many clients already",
        "The PostgreSQL server refused a new connection because `max_connections` is reached (leaked "
        "pools, or xdist workers x pool size above the server's limit), or the role or database has a "
        'CONNECTION LIMIT ("too many connections for role").',
        "Close pools in teardown (`await db.close()`), lower `pool_min_size`/`pool_max_size` or the number "
        "of xdist workers, or raise the server's `max_connections` or the role's CONNECTION LIMIT.",
    ),
    ErrorInfo(
        "DF-509", "PoolTimeoutError", "Timed out acquiring a connection",
        "Every connection of the pool stayed busy for `pool_acquire_timeout` seconds: a leaked "
        "connection, a long transaction, or more concurrent work than `pool_max_size`.",
        "Finish transactions promptly, raise `pool_max_size`, or raise `pool_acquire_timeout`.",
    ),
    ErrorInfo(
        "DF-510", "DatabaseLockedError", "database is locked",
        "Another connection (another DataFlow instance, process or xdist worker) held SQLite's write "
        "lock for longer than `sqlite_busy_timeout`.",
        "Use one DataFlow instance per SQLite file, one file per xdist worker, short transactions, or "
        "raise `sqlite_busy_timeout`.",
    ),
    ErrorInfo(
        "DF-511", "ConnectionLostError", "Connection lost during an operation",
        "The server closed the connection in the middle of an operation or transaction (restart, "
        "`pg_terminate_backend`, a dropped database). The pool discards the connection.",
        "Retry the operation; the next one gets a fresh connection. Work done in a transaction was rolled back.",
    ),
    ErrorInfo(
        "DF-512", "DatabaseError", "Database error",
        "The database reported an error that DataFlow does not translate more precisely, most often a "
        "table that exists with other columns than the model (DataFlow creates missing tables but never "
        "alters existing ones).",
        "Read the chained driver error (`__cause__`). Migrate the table to the model "
        "(`db.generate_migration(...)`, then `db.migrate()`), or in development "
        "drop it (`await db.drop_tables()`) so DataFlow recreates it; report it if DataFlow produced "
        "invalid SQL.",
    ),
    # 6xx: transactions
    ErrorInfo(
        "DF-601", "TransactionError", "Transaction misuse",
        "A transaction was used after it ended, entered twice, or a sync LocalRuntime was called inside "
        "an async transaction, whose connection belongs to the running loop.",
        "Use `async with db.transaction():` once per block, and AsyncLocalRuntime inside async code.",
    ),
    ErrorInfo(
        "DF-602", "SerializationFailureError", "Transaction conflict: serialization failure or deadlock",
        "The database rolled the transaction back because it conflicted with a concurrent transaction: a "
        "serialization failure under REPEATABLE READ or SERIALIZABLE (SQLSTATE 40001) or a deadlock (40P01).",
        "Run the whole transaction again: pass `retries=` (`await db.transaction(retries=3).run(fn)`, `async for "
        "attempt in db.transaction(retries=3)`, or `\"retries\": 3` on TransactionContextNode).",
    ),
    ErrorInfo(
        "DF-603", "TransactionTimeoutError", "Transaction timed out",
        "A statement or a lock wait took longer than the transaction's `timeout` (PostgreSQL `statement_timeout` "
        "/ `lock_timeout`, SQLite's busy timeout); the transaction was rolled back.",
        "Run the transaction again once the competing work is done (`retries=` does not retry timeouts), shorten "
        "the slow statement or the transaction holding the lock, or raise `timeout`.",
    ),
    ErrorInfo(
        "DF-604", "InvalidTransactionOptionError", "Invalid transaction option",
        "`db.transaction()` or TransactionContextNode got an isolation level, timeout or retry count it does not "
        "accept, an option a savepoint cannot change, `retries` on `async with`, or nodes on two databases.",
        "Use `READ_COMMITTED`, `REPEATABLE_READ` or `SERIALIZABLE`, a `timeout` in seconds above 0 and `retries` "
        "of 0 or more, on the outermost block; with `retries` use `.run(fn)` or `async for`.",
    ),
    ErrorInfo(
        "DF-605", "InvalidSagaError", "Invalid saga definition",
        "A saga's `steps` or `compensation_logic` is not in the documented shape: a step without a name or node, "
        "a duplicate step name, or a compensation or `${step.path}` for a step that does not run before it.",
        "Give `steps` as a list of `{\"name\": ..., \"node\": ..., \"params\": {...}}` and each compensation "
        "as `{\"node\": ..., \"params\": {...}}` under the step's name in `compensation_logic`.",
    ),
    ErrorInfo(
        "DF-606", "TwoPhaseCommitUnavailableError", "Two-phase commit not available",
        "A two-phase commit has a participant that cannot prepare: a SQLite database (no PREPARE TRANSACTION), "
        "a server with `max_prepared_transactions = 0`, or one inside `db.transaction()` / `db.isolated()`.",
        "Use a saga (`pattern=\"saga\"` or `\"auto\"`, or SagaCoordinator), or set `max_prepared_transactions` above "
        "0 on every PostgreSQL server (a restart applies it).",
    ),
    ErrorInfo(
        "DF-607", "TwoPhaseCommitError", "Two-phase commit failed",
        "A participant failed before or during PREPARE TRANSACTION, so every participant was rolled back and "
        "nothing committed, or a COMMIT PREPARED failed after the log recorded the decision to commit.",
        "Read the participant and the chained error in the message; after a prepare failure fix its cause and run "
        "again; after a commit failure call `await TwoPhaseCommit.recover(...)`.",
    ),
    # 7xx: testing support
    ErrorInfo(
        "DF-701", "ResourceLeakError", "Test left resources open",
        "The leak detector found pools, connections or asyncio tasks that a test opened and did not "
        "close; the message names the test and where each pool was created.",
        "Close what the test opened (use the `dataflow_db` fixture, `await db.cleanup_all_pools()`, "
        "or await/cancel tasks), or give the object the scope that owns it.",
    ),
    # 8xx: configuration
    ErrorInfo(
        "DF-801", "InvalidURLError", "Invalid or unsupported database URL",
        "The URL is malformed or uses a scheme DataFlow does not support.",
        "Use `sqlite:///path.db`, `sqlite:///:memory:`, `postgresql://user:password@host:port/db` "
        "(also `postgres://` and `postgresql+asyncpg://`).",
    ),
    ErrorInfo(
        "DF-802", "ConfigurationError", "Invalid configuration",
        "A DataFlow setting has an invalid value (for example `pool_min_size` larger than `pool_max_size`).",
        "Use the values documented for that setting in the API reference.",
    ),
    # 9xx: migrations
    ErrorInfo(
        "DF-901", "MultipleHeadsError", "Migration history has more than one head",
        "Two revisions name the same parent (usually two branches that each generated a migration), so "
        "the history forks and DataFlow cannot tell which revision comes last.",
        "Make one history again: set the newer revision's `parent` to the other head, check that its "
        "operations still apply after the other one, and regenerate it if they do not.",
    ),
    ErrorInfo(
        "DF-902", "MigrationChecksumError", "Applied migration file was edited",
        "The file of a revision that is already applied to this database changed since it was applied, "
        "so the database no longer matches what the file says it ran.",
        "Restore the file as it was applied (`git checkout -- migrations/...`) and put the change in a "
        "new revision; if the edit does not change what the upgrade did (a fixed downgrade), record it "
        "with `await db.migrations.repair()`.",
    ),
    ErrorInfo(
        "DF-903", "InvalidMigrationTargetError", "Invalid migration target",
        "The target of `migrate()` or `rollback()` is not a revision of the history, is on the wrong "
        "side of the current revision, or asks for more steps than there are.",
        "Use a revision id (or its unique prefix) listed by `dataflow migrate history`, `\"head\"`, "
        "`\"base\"`, `\"previous_version\"` or a negative number of steps for `rollback()`.",
    ),
    ErrorInfo(
        "DF-904", "UnsupportedMigrationOperationError", "Migration operation not supported",
        "An operation asks for something DataFlow cannot do on this backend: change or drop the "
        "primary key, use an unknown column type, or rebuild a SQLite table whose definition DataFlow "
        "cannot carry over (CHECK constraints, generated columns, WITHOUT ROWID).",
        "Write that step as SQL with `execute(...)` in the revision, or change the model so the "
        "operation is not needed. Nothing was applied.",
    ),
    ErrorInfo(
        "DF-905", "MigrationFailedError", "Migration operation failed",
        "An operation of a revision failed on the database (its data does not fit the change, a "
        "name is wrong, an `execute()` statement is invalid); the revision was rolled back.",
        "Read the operation and the database error in the message, fix the revision file (or the "
        "data), and run the migration again: the database is at the last revision that succeeded.",
    ),
    ErrorInfo(
        "DF-906", "InvalidMigrationHistoryError", "Invalid migration history",
        "A migration file cannot be loaded or lacks `revision`, `parent`, `upgrade` or `downgrade`, two "
        "files share a revision id, a parent does not exist, or the database has a revision applied "
        "that the migrations folder does not have.",
        "Fix the file named in the message, or point DataFlow at the migrations folder this database "
        "was migrated with (`DataFlow(..., migrations_dir=...)`).",
    ),
]

#: All codes, in order (change data capture's entries are in ``_catalog_cdc``, read replicas' and the
#: gateway's in ``_catalog_services``, the testing support's after DF-701 in ``_catalog_testing``, soft
#: delete's and versioned rows' in ``_catalog_rows``, the Redis query cache's in ``_catalog_cache``, the
#: monitoring's in ``_catalog_monitoring``, multi-tenancy's in ``_catalog_tenancy``, the
#: session-loop isolation's in ``_catalog_performance``).
_MORE = (
    *CDC_ENTRIES, *SERVICE_ENTRIES, *TESTING_ENTRIES, *ROW_ENTRIES, *CACHE_ENTRIES, *MONITORING_ENTRIES,
    *TENANCY_ENTRIES, *PERFORMANCE_ENTRIES,
)
CATALOG: dict[str, ErrorInfo] = dict(sorted((e.code, e) for e in [*_ENTRIES, *(ErrorInfo(*t) for t in _MORE)]))
