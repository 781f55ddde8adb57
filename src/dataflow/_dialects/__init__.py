"""Backends. ``dialect_for`` picks the SQL spelling from the URL without importing any driver."""

from __future__ import annotations

from ._base import Connection, Params, Pool, SQLDialect, quote_ident

__all__ = ["Connection", "Params", "Pool", "SQLDialect", "dialect_for", "quote_ident"]


def dialect_for(name: str) -> SQLDialect:
    """The :class:`SQLDialect` for ``"sqlite"`` or ``"postgresql"``."""
    if name == "sqlite":
        from .sqlite import DIALECT as sqlite_dialect

        return sqlite_dialect
    from .postgresql import DIALECT as postgres_dialect

    return postgres_dialect
