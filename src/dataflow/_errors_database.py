"""Errors raised while talking to the database: connections and pools, the database's own
refusals (5xx), transactions (6xx). Import them from ``dataflow._errors``, which re-exports them."""

from __future__ import annotations

from ._error_base import DataFlowError

__all__ = [
    "AuthenticationError", "ChangeCaptureOutdatedError", "ChangeFeedExistsError",
    "ChangeFeedNotFoundError", "ConnectionLostError", "DatabaseConnectionError", "DatabaseError",
    "DatabaseLockedError", "DatabaseNotFoundError", "EventLoopClosedError", "InvalidSagaError",
    "InvalidTransactionOptionError", "LogicalDecodingUnavailableError", "PoolClosedError",
    "PoolTimeoutError", "SerializationFailureError", "ServerUnavailableError", "TooManyConnectionsError",
    "TransactionError", "TransactionTimeoutError", "TwoPhaseCommitError",
    "TwoPhaseCommitUnavailableError", "WrongEventLoopError",
]


class DatabaseConnectionError(DataFlowError):
    """Connecting to the database, or using a pool or event loop, failed."""


class ServerUnavailableError(DatabaseConnectionError):
    """DF-501: connection refused; the message names the host and port."""
    code = "DF-501"


class AuthenticationError(DatabaseConnectionError):
    """DF-502: the server rejected the credentials."""
    code = "DF-502"


class DatabaseNotFoundError(DatabaseConnectionError):
    """DF-503: the database named in the URL does not exist."""
    code = "DF-503"


class PoolClosedError(DatabaseConnectionError):
    """DF-504: the DataFlow instance was closed and is still used."""
    code = "DF-504"


class EventLoopClosedError(DatabaseConnectionError):
    """DF-505: an operation on an event loop that is already closed."""
    code = "DF-505"


class WrongEventLoopError(DatabaseConnectionError):
    """DF-506: a connection or transaction used from a loop other than its own."""
    code = "DF-506"


class TooManyConnectionsError(DatabaseConnectionError):
    """DF-508: the server's ``max_connections`` is reached."""
    code = "DF-508"


class PoolTimeoutError(DatabaseConnectionError):
    """DF-509: no connection became free within ``pool_acquire_timeout``."""
    code = "DF-509"


class DatabaseLockedError(DatabaseConnectionError):
    """DF-510: SQLite's write lock was held past ``sqlite_busy_timeout``."""
    code = "DF-510"


class ConnectionLostError(DatabaseConnectionError):
    """DF-511: the server closed the connection during an operation."""
    code = "DF-511"


class DatabaseError(DataFlowError):
    """DF-512: a database error DataFlow does not translate more precisely."""
    code = "DF-512"


class LogicalDecodingUnavailableError(DatabaseError):
    """DF-513: PostgreSQL runs without ``wal_level=logical``."""

    code = "DF-513"


class ChangeFeedExistsError(DatabaseError):
    """DF-514: ``feed.create()`` for a feed that exists."""

    code = "DF-514"


class ChangeFeedNotFoundError(DatabaseError):
    """DF-515: a feed (or its replication slot) that does not exist."""

    code = "DF-515"


class ChangeCaptureOutdatedError(DatabaseError):
    """DF-516: SQLite capture triggers that no longer match the table."""

    code = "DF-516"


class TransactionError(DataFlowError):
    """DF-601: a transaction used in a way it does not support."""
    code = "DF-601"


class SerializationFailureError(TransactionError):
    """DF-602: the database rolled a transaction back (serialization failure or deadlock); retry it."""
    code = "DF-602"


class TransactionTimeoutError(TransactionError):
    """DF-603: a statement or lock wait outlasted the transaction's ``timeout``."""
    code = "DF-603"


class InvalidTransactionOptionError(TransactionError):
    """DF-604: an isolation level, timeout or retry count a transaction does not accept."""
    code = "DF-604"


class InvalidSagaError(TransactionError):
    """DF-605: a saga's steps or compensations are not in the documented shape."""
    code = "DF-605"


class TwoPhaseCommitUnavailableError(TransactionError):
    """DF-606: a participant cannot prepare transactions (SQLite, max_prepared_transactions = 0)."""
    code = "DF-606"


class TwoPhaseCommitError(TransactionError):
    """DF-607: a two-phase commit failed (rolled back everywhere, or a commit left prepared)."""
    code = "DF-607"
