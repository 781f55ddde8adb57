"""The query cache's Redis backend: one set of entries for every process on the same database.

``DataFlow(enable_query_cache=True, cache_backend="redis://host:6379/0")``. Keys, for a database
identified by ``ns`` (its backend, host, port and name, hashed) and a model ``M``::

    dataflow:qc:v1:<ns>:gen:M                         the model's generation (a counter)
    dataflow:qc:v1:<ns>:gen:*                         the generation of "any table" (raw SQL, clear())
    dataflow:qc:v1:<ns>:e:M:<gen M>:<gen *>:<sha256>  an entry: the statement's hash, under both

Every write through any instance bumps (``INCR``) the model's generation before it runs and again
after it (a write inside a transaction: again once the transaction has ended). A read looks up the
generations and the entry in one Lua script, and stores what it read under the generations it saw.
An entry made before a write returned therefore sits under a generation nobody reads any more, so
no instance can be served it afterwards (ARCHITECTURE.md, "The query cache", has the argument); the
unreachable entries expire with ``cache_ttl`` (``PX``) or go with Redis's eviction. A generation
that does not exist (a new database, a restarted or evicting server) starts at a random value, so it
cannot come back to an old one whose entries are still there.

A Redis that fails (down, refusing the password, refusing a command) is left alone for
``retry_interval`` seconds: reads go to the database, with one DF-521/522/523 warning per outage,
never failing and never stale. Writes then cannot bump anything, so the first thing the instance
sends once Redis answers again is a bump of ``gen:*``: every entry made before is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from ._cache_codec import Unencodable, decode, encode
from ._errors import (
    CacheAuthenticationWarning,
    CacheRejectedWarning,
    CacheUnavailableWarning,
    DataFlowWarning,
)
from ._loops import forget_loop_shutdown, on_loop_shutdown
from ._query_cache import ALL_MODELS, QueryCache, entry_key
from ._transaction import Transaction
from ._url import redact

__all__ = ["PREFIX", "RedisQueryCache"]

T = TypeVar("T")
logger = logging.getLogger("dataflow")

#: The first part of every key (``v1``: the codec's version; another version never reads these).
PREFIX = "dataflow:qc:v1"

#: KEYS: the model's and "any table"'s generation; ARGV: a start for a missing one, the entry's prefix,
#: the statement's hash. Returns both generations and the entry (nil when there is none).
_LOOKUP = """
local function generation(key, start)
  local value = redis.call('GET', key)
  if not value then
    redis.call('SET', key, start, 'NX')
    value = redis.call('GET', key)
  end
  return value
end
local model = generation(KEYS[1], ARGV[1])
local any = generation(KEYS[2], ARGV[1])
return {model, any, redis.call('GET', ARGV[2] .. ':' .. model .. ':' .. any .. ':' .. ARGV[3])}
"""

#: KEYS: the generations to move on; ARGV[1]: a start for a missing one.
_BUMP = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then redis.call('SET', key, ARGV[1]) end
  redis.call('INCR', key)
end
return #KEYS
"""

#: What a failing Redis raises through redis-py (its own errors, and the socket's).
FAILURES: tuple[type[BaseException], ...] = (redis_errors.RedisError, OSError, asyncio.TimeoutError)


def _start() -> int:
    """Where a missing generation starts: random, so a lost counter never meets its old values again."""
    return random.getrandbits(52)


def warning_for(exc: BaseException) -> type[DataFlowWarning]:
    """DF-522 for refused credentials, DF-523 for a refused command, DF-521 for the rest."""
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return CacheAuthenticationWarning
    if isinstance(exc, redis_errors.ResponseError):
        text = str(exc)
        if text.startswith(("WRONGPASS", "NOAUTH", "invalid password", "invalid username-password")):
            return CacheAuthenticationWarning
        return CacheRejectedWarning
    return CacheUnavailableWarning


@dataclass
class _Client:
    """redis-py's client for one event loop, with the scripts registered on it."""

    redis: aioredis.Redis
    lookup: AsyncScript
    bump: AsyncScript


class RedisQueryCache(QueryCache):
    """The query cache of ``cache_backend="redis://..."``: entries shared through a Redis server.

    Metrics are this instance's own (hits, misses, invalidations); the entries are everybody's.

    Args:
        url: The Redis URL (``redis://``, ``rediss://`` or ``unix://``); never shown.
        shown: The URL as messages, logs and metrics show it (without the password).
        namespace: Identifies the database: instances on the same database share entries.
        ttl: Seconds an entry lives in Redis at most (``PX``); ``None``: until evicted.
        timeout: Seconds to wait for Redis (connecting, and each command) before falling back.
        retry_interval: Seconds a failed Redis is left alone before it is tried again.
    """

    def __init__(
        self,
        url: str,
        *,
        shown: str,
        namespace: str,
        ttl: float | None,
        timeout: float = 1.0,
        retry_interval: float = 1.0,
    ) -> None:
        super().__init__(ttl=ttl, max_size=1)
        self._dsn = url
        #: The Redis URL with its password replaced by ``***``.
        self.url = shown
        self.namespace = namespace
        self.timeout = timeout
        self.retry_interval = retry_interval
        self._base = f"{PREFIX}:{namespace}"
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Client] = weakref.WeakKeyDictionary()
        self._marks = count(1)
        #: Models whose generation this instance must still bump, with the mark of the latest write.
        self._pending: dict[str, int] = {}
        #: Models written inside each open transaction (bumped again once it has ended).
        self._in_transactions: weakref.WeakKeyDictionary[Transaction, set[str]] = weakref.WeakKeyDictionary()
        #: Mark of the latest failure while Redis has not been bumped for every model since (0: none).
        self._unsure = 0
        self._down_until = 0.0
        self._warned = False
        self._state_lock = threading.Lock()
        self.errors = 0
        self.fallbacks = 0
        self.unstorable = 0
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"RedisQueryCache({self.url!r}, ttl={self.ttl!r})"

    # --- what the execution context uses ------------------------------------------------------

    async def read(self, model: str, statement: tuple[str, Sequence[Any]], fetch: Callable[[], Awaitable[T]]) -> T:
        """The entry of ``statement`` in Redis, else ``await fetch()`` stored under the generations
        the lookup saw; straight from the database while Redis is failing."""
        await self.flush()
        client = self._client()
        if client is None or self._unsure:
            self.fallbacks += 1
            return await fetch()
        digest = hashlib.sha256("\0".join(entry_key(statement)).encode()).hexdigest()
        prefix = f"{self._base}:e:{model}"
        try:
            model_gen, any_gen, data = await client.lookup(
                keys=[self._gen(model), self._gen(ALL_MODELS)], args=[_start(), prefix, digest], client=client.redis
            )
        except FAILURES as exc:
            self._failed(exc)
            self.fallbacks += 1
            return await fetch()
        self._answered()
        if data is not None:
            try:
                value = decode(data)
            except ValueError:
                logger.warning("DataFlow: query cache entry %s:... is not one DataFlow wrote; reading again", prefix)
            else:
                self.hits += 1
                return value  # type: ignore[no-any-return]
        self.misses += 1
        result = await fetch()
        try:
            payload = encode(result)
        except Unencodable as exc:
            self.unstorable += 1
            logger.debug("DataFlow: a %s result is not cached in Redis: %s", model, exc)
            return result
        key = f"{prefix}:{model_gen.decode()}:{any_gen.decode()}:{digest}"
        expires = None if self.ttl is None else max(1, round(self.ttl * 1000))
        try:
            await client.redis.set(key, payload, px=expires)
        except FAILURES as exc:
            self._failed(exc)
        return result

    def invalidate(self, model: str, transaction: Transaction | None = None) -> None:
        """A write to ``model`` runs now: bump its generation at the next :meth:`flush`, and once
        ``transaction`` (its outermost block) has ended."""
        super().invalidate(model, transaction)
        with self._state_lock:
            self.invalidations += 1
            self._pending[model] = next(self._marks)
            if transaction is None:
                return
            root = transaction.root
            models = self._in_transactions.get(root)
            if models is None:
                models = self._in_transactions[root] = set()
                root.after_end.append(self._transaction_ended)
            models.add(model)

    def table_created(self, model: str, transaction: Transaction | None = None) -> None:
        """Only this process's bookkeeping: every instance creates its tables (``IF NOT EXISTS``) on
        first use, and that must not drop the entries of the others."""
        QueryCache.invalidate(self, model, transaction)

    async def flush(self) -> None:
        """Bump the generations of the writes recorded so far (every generation after a failure),
        with a command sent after them; a failing Redis is only marked as such."""
        if not self._pending and not self._unsure:
            return
        client = self._client()
        if client is None:
            return  # still failing: ``_unsure`` has every model bumped once it answers
        with self._state_lock:
            unsure, pending = self._unsure, dict(self._pending)
        models = [ALL_MODELS] if unsure else sorted(pending)
        try:
            await client.bump(keys=[self._gen(m) for m in models], args=[_start()], client=client.redis)
        except FAILURES as exc:
            self._failed(exc)
            return
        with self._state_lock:
            for model, mark in pending.items():
                if self._pending.get(model) == mark:  # a later write is bumped by its own flush
                    del self._pending[model]
            if unsure and self._unsure == unsure:  # writes marked since are bumped by their own flush
                self._unsure = 0
        self._answered()

    async def close(self) -> None:
        """Send what is pending, then close the client of the running loop."""
        await self.flush()
        clients, self._clients = dict(self._clients), weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        client = clients.get(loop)
        if client is not None:
            forget_loop_shutdown(self, loop)
            await client.redis.aclose()

    # --- the public API (``db.query_cache``) ----------------------------------------------------

    def clear(self) -> None:
        """Drop every entry of this database, for every instance: ``gen:*`` is bumped at the next
        operation of this instance, or at once with ``await db.query_cache.flush()``."""
        self.invalidate(ALL_MODELS)

    def get_metrics(self) -> dict[str, Any]:
        """``backend`` (``"redis"``), ``url`` (no password), ``hits``, ``misses``, ``hit_rate``,
        ``invalidations`` (writes that moved a generation on), ``fallbacks`` (reads sent to the database
        because Redis failed), ``errors``, ``last_error``, ``available``, ``unstorable`` and ``ttl``."""
        lookups = self.hits + self.misses
        return {
            "backend": "redis",
            "url": self.url,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / lookups if lookups else 0.0,
            "invalidations": self.invalidations,
            "fallbacks": self.fallbacks,
            "errors": self.errors,
            "last_error": self.last_error,
            "available": time.monotonic() >= self._down_until and not self._unsure,
            "unstorable": self.unstorable,
            "ttl": self.ttl,
        }

    # --- internals --------------------------------------------------------------------------------

    def _gen(self, model: str) -> str:
        return f"{self._base}:gen:{model}"

    def _client(self) -> _Client | None:
        """The running loop's client, or ``None`` while a failed Redis is left alone."""
        if time.monotonic() < self._down_until:
            return None
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # URL parameters (?socket_timeout=5) win over these; no retries: a failure falls back at once.
            connection = aioredis.Redis.from_url(
                self._dsn, socket_timeout=self.timeout, socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0)
            )
            lookup, bump = connection.register_script(_LOOKUP), connection.register_script(_BUMP)
            client = self._clients[loop] = _Client(connection, lookup, bump)
            on_loop_shutdown(self, self._close_loop_client)  # its connections die with the loop
        return client

    async def _close_loop_client(self, loop: asyncio.AbstractEventLoop, by_owner: bool) -> None:
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.redis.aclose()

    async def _transaction_ended(self, transaction: Transaction) -> None:
        with self._state_lock:
            models = self._in_transactions.pop(transaction, set())
            for model in models:
                self._pending[model] = next(self._marks)
        await self.flush()

    def _failed(self, exc: BaseException) -> None:
        detail = redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        with self._state_lock:
            self.errors += 1
            self.last_error = detail
            self._down_until = time.monotonic() + self.retry_interval
            self._unsure = next(self._marks)
            warn, self._warned = not self._warned, True
        logger.warning("DataFlow: the Redis query cache %s failed (%s); reads go to the database", self.url, detail)
        if warn:
            warnings.warn(warning_for(exc)(self._message(exc, detail)), stacklevel=5)

    def _answered(self) -> None:
        self._warned = False  # the next failure is a new outage, with a new warning

    def _message(self, exc: BaseException, detail: str) -> str:
        cls = warning_for(exc)
        what = {
            CacheAuthenticationWarning: "refused the credentials of the URL",
            CacheRejectedWarning: "refused a command",
        }.get(cls, "is unreachable")
        return (
            f"The Redis query cache at {self.url} {what} ({detail}); reads go to the database, and Redis is "
            f"tried again every {self.retry_interval:g} s. Once it answers, every entry made before is dropped."
        )
