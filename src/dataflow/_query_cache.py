"""The query cache: Read, List and Count results of one instance, never stale for its own writes.

An entry is keyed by its model and its statement (SQL and bound values), so a different filter,
order, page or tenant is a different entry. Every write to a model through the instance drops the
model's entries before the write runs and again after it, and a read that started before a write
cannot store what it read (each model has a generation that every write moves on). While a
transaction that wrote to a model is open, reads of that model neither use nor fill the cache, so
uncommitted rows never enter it and a rollback leaves nothing stale. ``ttl`` bounds how long an
entry can be stale because of writers the instance does not see (other processes).

This is the in-process backend; ``_query_cache_redis.RedisQueryCache`` (``cache_backend="redis://..."``)
keeps the entries in Redis instead, shared by every process on the same database, through the same
methods the execution context calls: :meth:`QueryCache.usable`, :meth:`QueryCache.read`,
:meth:`QueryCache.invalidate` and :meth:`QueryCache.flush`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from ._errors import ConfigurationError
from ._transaction import Transaction, TransactionState

__all__ = ["ALL_MODELS", "QueryCache", "entry_key", "query_cache"]

T = TypeVar("T")

#: ``invalidate(ALL_MODELS)``: a write whose tables are not known (raw SQL, schema changes).
ALL_MODELS = "*"

_OPEN = (TransactionState.NEW, TransactionState.ACTIVE)


def entry_key(statement: tuple[str, Sequence[Any]]) -> tuple[str, str]:
    """The key of a read's entry within its model: the statement's SQL and bound values (another
    filter, order, page or tenant is another statement). Both backends key their entries by it."""
    return (statement[0], repr(statement[1]))


class QueryCache:
    """Cached read results of one DataFlow instance (``db.query_cache``).

    Args:
        ttl: Seconds an entry is served at most (``None``: until a write drops it).
        max_size: Entries kept at most; the least recently used goes first.
    """

    def __init__(self, *, ttl: float | None = None, max_size: int = 10_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: OrderedDict[tuple[str, Hashable], tuple[float, Any]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._writers: dict[str, weakref.WeakSet[Transaction]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.invalidations = 0
        self.evictions = 0
        self.expirations = 0

    # --- what the execution context uses ------------------------------------------------------

    async def read(self, model: str, statement: tuple[str, Sequence[Any]], fetch: Callable[[], Awaitable[T]]) -> T:
        """The cached result of ``statement`` (a read of ``model``), else ``await fetch()``, kept
        unless a write to ``model`` ran meanwhile."""
        key = entry_key(statement)
        found, value, generation = self.lookup(model, key)
        if found:
            return list(value) if isinstance(value, list) else value  # type: ignore[return-value]
        result = await fetch()
        self.store(model, key, result, generation)
        return result

    async def flush(self) -> None:
        """Send the invalidations recorded so far to the backend (in process: nothing to send)."""

    async def close(self) -> None:
        """Flush, then release the backend's connections (in process: nothing to release)."""

    def usable(self, model: str) -> bool:
        """False while a transaction that wrote to ``model`` (or to any table) is open."""
        for name in (model, ALL_MODELS):
            writers = self._writers.get(name)
            if writers and any(tx.state in _OPEN for tx in writers):
                return False
        return True

    def lookup(self, model: str, key: Hashable) -> tuple[bool, Any, int]:
        """``(found, value, generation)``; pass the generation to :meth:`store` after a miss."""
        with self._lock:
            generation = self._generations.get(model, 0) + self._generations.get(ALL_MODELS, 0)
            entry = self._entries.get((model, key))
            if entry is not None:
                stored_at, value = entry
                if self.ttl is None or time.monotonic() - stored_at < self.ttl:
                    self.hits += 1
                    self._entries.move_to_end((model, key))
                    return True, value, generation
                del self._entries[(model, key)]
                self.expirations += 1
            self.misses += 1
            return False, None, generation

    def store(self, model: str, key: Hashable, value: Any, generation: int) -> None:
        """Keep ``value`` unless a write to ``model`` ran since :meth:`lookup` gave ``generation``."""
        with self._lock:
            if generation != self._generations.get(model, 0) + self._generations.get(ALL_MODELS, 0):
                return
            self._entries[(model, key)] = (time.monotonic(), value)
            self._entries.move_to_end((model, key))
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
                self.evictions += 1

    def invalidate(self, model: str, transaction: Transaction | None = None) -> None:
        """A write to ``model`` (``ALL_MODELS``: any table) runs now, inside ``transaction`` if given."""
        with self._lock:
            self._generations[model] = self._generations.get(model, 0) + 1
            if model == ALL_MODELS:
                dropped = len(self._entries)
                self._entries.clear()
            else:
                stale = [key for key in self._entries if key[0] == model]
                for key in stale:
                    del self._entries[key]
                dropped = len(stale)
            self.invalidations += dropped
            if transaction is not None:
                self._writers.setdefault(model, weakref.WeakSet()).add(transaction.root)

    def table_created(self, model: str, transaction: Transaction | None = None) -> None:
        """``model``'s table was just created (``IF NOT EXISTS``): a read that raced the CREATE must not
        keep what it saw. Not a write of rows, so other processes need not hear of it."""
        self.invalidate(model, transaction)

    # --- the public API (``db.query_cache``) ----------------------------------------------------

    def clear(self) -> None:
        """Drop every entry (the next read of each query goes to the database)."""
        self.invalidate(ALL_MODELS)

    def get_metrics(self) -> dict[str, Any]:
        """``backend`` (``"memory"``), ``hits``, ``misses``, ``hit_rate``, ``invalidations`` (entries
        dropped by writes), ``entries``, ``evictions``, ``expirations`` and the settings."""
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "backend": "memory",
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "invalidations": self.invalidations,
                "entries": len(self._entries),
                "evictions": self.evictions,
                "expirations": self.expirations,
                "ttl": self.ttl,
                "max_size": self.max_size,
            }


def query_cache(ttl: float | None, max_size: int) -> QueryCache:
    """The cache of ``DataFlow(enable_query_cache=True, cache_ttl=..., cache_max_size=...)``; DF-802 for
    a bad setting."""
    problems = []
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0):
        problems.append(f"cache_ttl must be a number of seconds > 0 or None, got {ttl!r}")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        problems.append(f"cache_max_size must be an int >= 1, got {max_size!r}")
    if problems:
        raise ConfigurationError(
            "Invalid query cache settings: " + "; ".join(problems) + ".",
            context={"settings": [p.split(" ", 1)[0] for p in problems]},
        )
    return QueryCache(ttl=ttl, max_size=max_size)
