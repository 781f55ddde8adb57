"""Which query cache ``DataFlow(enable_query_cache=..., cache_backend=...)`` gets, checked (DF-802,
DF-820, DF-821). redis-py is imported here only when ``cache_backend`` names a Redis server."""

from __future__ import annotations

import hashlib
import os
import re
from urllib.parse import parse_qsl, urlsplit

from ._errors import CacheBackendConfigurationError, CacheBackendNotInstalledError
from ._query_cache import QueryCache, query_cache
from ._url import DatabaseURL, redact

__all__ = ["MEMORY_BACKEND", "cache_for", "database_namespace", "redact_cache_url"]

#: ``cache_backend="memory"`` (or ``None``): the in-process cache.
MEMORY_BACKEND = "memory"
_SCHEMES = ("redis", "rediss", "unix")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")


def redact_cache_url(url: str) -> str:
    """The Redis URL without its password (in the user info or a ``?password=`` parameter)."""
    return _QUERY_PASSWORD.sub(r"\1***", redact(url))


def database_namespace(database: DatabaseURL) -> str:
    """A short hash of the database (backend, host, port, name; a file's real path): instances that
    name the same database share cache entries, no other ones do."""
    if database.path_style:
        where = os.path.realpath(database.database)
    else:
        where = f"{database.host or 'localhost'}:{database.port or database.default_port}/{database.database}"
    return hashlib.sha256(f"{database.dialect}|{where}".encode()).hexdigest()[:16]


def cache_for(
    enabled: bool, ttl: float | None, max_size: int, backend: object, database: DatabaseURL
) -> QueryCache | None:
    """The instance's query cache: ``None`` when off, in process, or a :class:`RedisQueryCache`.

    Raises:
        ConfigurationError: DF-802, a bad ``cache_ttl`` or ``cache_max_size``.
        CacheBackendConfigurationError: DF-820, a bad ``cache_backend``.
        CacheBackendNotInstalledError: DF-821, a Redis URL without redis-py installed.
    """
    if backend is None or backend == MEMORY_BACKEND:
        return query_cache(ttl, max_size) if enabled else None
    problem = _check(backend, enabled, database)
    if problem is not None:
        raise CacheBackendConfigurationError(
            f"Invalid cache_backend: {problem}.", context={"setting": "cache_backend"}
        )
    assert isinstance(backend, str)
    try:
        import redis.asyncio  # noqa: F401 - the optional extra
    except ImportError as exc:
        raise CacheBackendNotInstalledError(
            f"cache_backend={redact_cache_url(backend)!r} needs redis-py, which is not installed ({exc}).",
            context={"setting": "cache_backend", "extra": "redis"},
        ) from exc
    from ._query_cache_redis import RedisQueryCache

    query_cache(ttl, max_size)  # the same checks of cache_ttl (DF-802)
    return RedisQueryCache(backend, shown=redact_cache_url(backend), namespace=database_namespace(database), ttl=ttl)


def _check(backend: object, enabled: bool, database: DatabaseURL) -> str | None:
    """What is wrong with ``cache_backend``, or ``None``."""
    if not isinstance(backend, str):
        return f"it must be 'memory' or a Redis URL string, got {type(backend).__name__}"
    shown = redact_cache_url(backend)
    parts = urlsplit(backend)
    if parts.scheme not in _SCHEMES:
        return (
            f"{shown!r} is neither 'memory' nor a Redis URL (redis://host:6379/0, rediss://... for TLS, "
            "unix:///path/redis.sock)"
        )
    if not enabled:
        return f"{shown!r} is given but enable_query_cache is False, so nothing would be cached"
    if database.is_memory:
        return (
            f"{shown!r} would share entries of an in-memory SQLite database, which no other connection sees; "
            "use a database file or server"
        )
    try:
        port = parts.port
    except ValueError:
        return f"{shown!r} has a port that is not a number from 0 to 65535"
    if parts.scheme != "unix" and (not parts.hostname or port == 0):
        return f"{shown!r} names no host (redis://host:6379/0)"
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path and not path.isdigit():
        return f"{shown!r} names database {path!r}; Redis databases are numbers (redis://host:6379/0)"
    for name, value in parse_qsl(parts.query):
        if name == "db" and not value.isdigit():
            return f"{shown!r} has db={value!r}; Redis databases are numbers"
    return None
