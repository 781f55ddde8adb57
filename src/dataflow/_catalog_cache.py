"""The catalog entries of the query cache's Redis backend (DF-521..DF-523, DF-820, DF-821), as plain text.

``_catalog`` turns each into an :class:`~dataflow._catalog.ErrorInfo` and keeps the whole catalog in
code order, as it does with ``_catalog_cdc``.
"""

from __future__ import annotations

__all__ = ["CACHE_ENTRIES"]

#: (code, exception, title, cause, fix) for each code.
CACHE_ENTRIES: list[tuple[str, str, str, str, str]] = [
    (
        "DF-521", "CacheUnavailableWarning", "Redis query cache unreachable",
        "The Redis server of `cache_backend` did not answer (refused the connection, timed out or dropped "
        "it), so reads went to the database; Redis is left alone for a second, then tried again.",
        "Start the Redis server or fix the host and port in `cache_backend`; reads use it again by themselves "
        "once it answers (every entry made before the outage is dropped then). Check it with "
        "`db.query_cache.get_metrics()`.",
    ),
    (
        "DF-522", "CacheAuthenticationWarning", "Redis query cache refused the credentials",
        "The Redis server of `cache_backend` requires a password (or an ACL user) and the URL gives none "
        "or a wrong one, so reads went to the database.",
        "Put the user and password in the URL, `redis://user:password@host:6379/0` (`redis://:password@...` "
        "for the default user); DataFlow never shows the password in messages or metrics.",
    ),
    (
        "DF-523", "CacheRejectedWarning", "Redis query cache refused a command",
        "The Redis server of `cache_backend` answered a command with an error: its ACL does not allow "
        "`EVALSHA`, `SET`, `GET` or `INCR` on the `dataflow:qc:*` keys (NOPERM), it is out of memory under "
        "`maxmemory-policy noeviction` (OOM), or it is a read-only replica (READONLY); reads went to the database.",
        "Point `cache_backend` at a writable primary, allow the user `+@read +@write +@scripting ~dataflow:qc:*`, "
        "and give the server a `maxmemory` with `maxmemory-policy allkeys-lru` (or set `cache_ttl`).",
    ),
    (
        "DF-820", "CacheBackendConfigurationError", "Invalid query cache backend",
        "`cache_backend` is neither `\"memory\"` nor a Redis URL (`redis://`, `rediss://`, `unix://`), its host, "
        "port or database number is malformed, `enable_query_cache` is not True, or the database is an "
        "in-memory SQLite one that no other process can share.",
        "Pass `DataFlow(url, enable_query_cache=True, cache_backend=\"redis://host:6379/0\")` with a database "
        "file or server, or leave `cache_backend` out for the in-process cache.",
    ),
    (
        "DF-821", "CacheBackendNotInstalledError", "Redis client not installed",
        "`cache_backend` names a Redis server, but redis-py, the client the Redis backend uses, is not "
        "installed (it is an extra, so a plain install does not bring it).",
        "Install the extra: `pip install \"dataflow[redis]\"` (or `pip install \"redis>=5\"`).",
    ),
]
