"""Backends, picked by URL scheme through one map. No driver is imported here."""

from __future__ import annotations

from .._url import DatabaseURL, split_scheme, unsupported_scheme
from ._base import (
    Backend,
    Connection,
    Params,
    Pool,
    PoolSettings,
    PoolSource,
    SchemaEditor,
    TableDDL,
    quote_ident,
)
from ._commits import CommitProbe, IsolationWatch
from ._row_security import RowSecurity
from .postgresql import BACKEND as _POSTGRESQL
from .sqlite import BACKEND as _SQLITE

__all__ = [
    "BACKENDS",
    "SCHEMES",
    "Backend",
    "CommitProbe",
    "Connection",
    "IsolationWatch",
    "Params",
    "Pool",
    "PoolSettings",
    "PoolSource",
    "RowSecurity",
    "SchemaEditor",
    "TableDDL",
    "backend_for",
    "dialect_for",
    "parse_url",
    "quote_ident",
]

#: Every backend by name.
BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (_SQLITE, _POSTGRESQL)}

#: The one map from URL scheme to backend.
SCHEMES: dict[str, Backend] = {scheme: backend for backend in BACKENDS.values() for scheme in backend.schemes}


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL with the backend its scheme names; DF-801 naming the accepted forms."""
    scheme, rest = split_scheme(url)
    backend = SCHEMES.get(scheme)
    if backend is None:
        raise unsupported_scheme(url, scheme)
    return backend.parse_url(url.strip(), rest)


def backend_for(url: DatabaseURL) -> Backend:
    """The backend of a parsed URL."""
    return BACKENDS[url.dialect]


def dialect_for(name: str) -> Backend:
    """The backend called ``name`` (``"sqlite"`` or ``"postgresql"``)."""
    return BACKENDS[name]
