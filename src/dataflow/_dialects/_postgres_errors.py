"""PostgreSQL errors: asyncpg and socket exceptions translated to the DataFlow error that explains them."""

from __future__ import annotations

import re

from .._errors import (
    AuthenticationError,
    ConnectionLostError,
    ConstraintViolationError,
    DatabaseError,
    DatabaseNotFoundError,
    DataFlowError,
    EventLoopClosedError,
    PoolClosedError,
    SerializationFailureError,
    ServerUnavailableError,
    TooManyConnectionsError,
    TransactionTimeoutError,
    UniqueViolationError,
    WrongEventLoopError,
)
from .._url import DatabaseURL, redact

__all__ = ["DEFAULT_PORT", "translatable", "translate"]

DEFAULT_PORT = 5432


def translate(exc: BaseException, url: DatabaseURL) -> DataFlowError:
    """Map an asyncpg / socket exception to the DataFlow error that explains it."""
    import asyncpg

    where = url.location
    message = redact(str(exc))
    context = {"host": url.host or "localhost", "port": url.port or DEFAULT_PORT, "database": url.database}
    if isinstance(exc, asyncpg.UniqueViolationError):
        detail = getattr(exc, "detail", None) or message
        constraint = getattr(exc, "constraint_name", None) or ""
        if constraint.startswith("pg_"):
            # A unique index of the system catalog: two sessions ran the same DDL at once (for example
            # CREATE TABLE IF NOT EXISTS from code that does not take DataFlow's DDL lock).
            return UniqueViolationError(
                f"PostgreSQL rejected concurrent DDL on the same object (a catalog race on {constraint}): "
                f"{message}. Another session created it at the same moment; running the statement again "
                "finds it.",
                context={"constraint": constraint},
            )
        return UniqueViolationError(f"PostgreSQL rejected a duplicate value: {message} ({detail}).")
    conflict = _conflict(exc, message)
    if conflict is not None:
        return conflict
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolationError(f"PostgreSQL rejected the write: {message}.")
    if isinstance(exc, (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        return AuthenticationError(
            f"PostgreSQL at {where} rejected user '{url.user or ''}': {message}.", context=context
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return DatabaseNotFoundError(
            f"PostgreSQL at {where} has no database '{url.database}' ({message}).", context=context
        )
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return TooManyConnectionsError(
            f"PostgreSQL at {where} refused a new connection: {message}.", context=context
        )
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return ServerUnavailableError(
            f"PostgreSQL at {where} is starting up or shutting down: {message}.", context=context
        )
    if isinstance(exc, (asyncpg.ConnectionDoesNotExistError, ConnectionResetError, BrokenPipeError)) or (
        isinstance(exc, asyncpg.AdminShutdownError)
    ):
        return ConnectionLostError(
            f"The connection to PostgreSQL at {where} was closed during the operation: {message}.",
            context=context,
        )
    if isinstance(exc, asyncpg.InternalClientError):
        # e.g. "cannot switch to state 11; another operation (2) is in progress" after the server
        # killed the connection during COPY: asyncpg's protocol is stuck, the connection is unusable.
        return ConnectionLostError(
            f"The connection to PostgreSQL at {where} is in an unusable state after a failure: {message}.",
            context=context,
        )
    if isinstance(exc, asyncpg.InterfaceError):
        if "pool is clos" in message:
            return PoolClosedError(f"The asyncpg pool for {url.redacted} is closed ({message}).")
        if "released back to the pool" in message:
            # asyncpg detaches a connection from DataFlow's handle as soon as the server drops it;
            # DataFlow itself never uses a connection after releasing it.
            return ConnectionLostError(
                f"The connection to PostgreSQL at {where} was closed by the server and discarded by the pool: "
                f"{message}.",
                context=context,
            )
        if "connection is closed" in message:
            return ConnectionLostError(
                f"The connection to PostgreSQL at {where} is closed: {message}.", context=context
            )
        if "another operation is in progress" in message:
            return WrongEventLoopError(
                f"A PostgreSQL connection was used by two operations at once ({message}); this follows a "
                "connection being shared across tasks or event loops.",
                context=context,
            )
    if isinstance(exc, OSError):  # ConnectionRefusedError, "Multiple exceptions: ..." from both families
        return ServerUnavailableError(
            f"Could not connect to PostgreSQL at {where}: {message or type(exc).__name__}. "
            "Is the server running and listening on that port?",
            context=context,
        )
    if isinstance(exc, TimeoutError):
        return ServerUnavailableError(
            f"Connecting to PostgreSQL at {where} timed out; the host may be unreachable.", context=context
        )
    if isinstance(exc, RuntimeError) and "attached to a different loop" in message:
        return WrongEventLoopError(
            f"A PostgreSQL connection created on one event loop was used from another ({message}).",
            context=context,
        )
    if isinstance(exc, RuntimeError) and "Event loop is closed" in message:
        return EventLoopClosedError(
            f"The event loop that owns a PostgreSQL connection to {where} is closed.", context=context
        )
    return DatabaseError(f"PostgreSQL error at {where}: {type(exc).__name__}: {message}", context=context)


def _conflict(exc: BaseException, message: str) -> DataFlowError | None:
    """DF-602 for a serialization failure or deadlock, DF-603 for a statement or lock timeout."""
    import asyncpg

    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)):
        kind = "deadlock" if isinstance(exc, asyncpg.DeadlockDetectedError) else "serialization failure"
        detail = getattr(exc, "detail", None)
        return SerializationFailureError(
            f"PostgreSQL rolled the transaction back ({kind}, SQLSTATE {sqlstate}): {message}"
            + (f" ({redact(detail)})" if detail else "")
            + ". It conflicted with a concurrent transaction; running it again usually succeeds.",
            context={"sqlstate": sqlstate, "conflict": kind, **_deadlock_sessions(detail)},
        )
    timeout = isinstance(exc, asyncpg.LockNotAvailableError) and "lock timeout" in message
    if timeout or (isinstance(exc, asyncpg.QueryCanceledError) and "statement timeout" in message):
        kind = "lock wait" if timeout else "statement"
        return TransactionTimeoutError(
            f"PostgreSQL canceled a {kind} that outlasted the timeout ({message}); the transaction is rolled back.",
            context={"sqlstate": sqlstate, "waited_for": kind},
        )
    return None


def _deadlock_sessions(detail: str | None) -> dict[str, list[int]]:
    """The server pids of a deadlock's sessions, from its detail ("Process 12 waits for ... blocked by
    process 34."), the victim first: ``{"sessions": [12, 34]}`` (empty when there is no detail)."""
    sessions: list[int] = []
    for pid in re.findall(r"[Pp]rocess (\d+)", detail or ""):
        if int(pid) not in sessions:
            sessions.append(int(pid))
    return {"sessions": sessions} if sessions else {}


def translatable() -> tuple[type[BaseException], ...]:
    import asyncpg

    return (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
        TimeoutError,
        RuntimeError,
    )
