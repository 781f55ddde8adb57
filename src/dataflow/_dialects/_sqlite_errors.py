"""SQLite's driver exceptions, mapped to the DataFlow errors that explain them."""

from __future__ import annotations

from .._errors import (
    ConstraintViolationError,
    DatabaseError,
    DatabaseLockedError,
    DataFlowError,
    EventLoopClosedError,
    PoolClosedError,
    UniqueViolationError,
)

__all__ = ["sqlite_error", "translate"]


def translate(exc: BaseException, *, path: str, busy_timeout: float) -> DataFlowError:
    """Map a sqlite3/aiosqlite exception to the DataFlow error that explains it."""
    import sqlite3

    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in message or "PRIMARY KEY" in message:
            return UniqueViolationError(f"SQLite rejected a duplicate value: {message}.")
        return ConstraintViolationError(f"SQLite rejected the write: {message}.")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return DatabaseLockedError(
            f"SQLite database '{path}' is locked: another connection held the write lock for more than "
            f"sqlite_busy_timeout={busy_timeout:g}s ({message}).",
            context={"database": path},
        )
    if isinstance(exc, ValueError) and ("closed" in message.lower() or "no active connection" in message):
        return PoolClosedError(f"The SQLite connection to '{path}' is closed ({message}).")
    if isinstance(exc, RuntimeError) and "Event loop is closed" in message:
        return EventLoopClosedError(f"The event loop used for '{path}' is closed.")
    return DatabaseError(f"SQLite error on '{path}': {type(exc).__name__}: {message}")


def sqlite_error() -> type[Exception]:
    # Imported on first use: ``import dataflow`` loads no driver, sqlite3 included.
    import sqlite3

    return sqlite3.Error
