"""Read replicas: which server each read goes to.

A read outside any transaction goes to a replica that is up, is not behind the primary by more
than ``max_replica_lag`` seconds, and has replayed every write this instance made before the read
(read-your-writes). Everything else — writes, reads inside ``db.transaction()`` or
``db.isolated()``, reads no replica can serve — runs on the primary. A replica that fails to
connect or loses its connection is left out for ``replica_retry_interval`` seconds and the read is
retried elsewhere, so stopping a replica loses no read; when every replica is down, reads go to
the primary with a DF-520 warning.
"""

from __future__ import annotations

import itertools
import logging
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ._dialects import Connection, backend_for, parse_url
from ._dialects._replication import Replication
from ._errors import (
    ConnectionLostError,
    PoolTimeoutError,
    ReplicaConfigurationError,
    ReplicasUnavailableWarning,
    ServerUnavailableError,
    TooManyConnectionsError,
)
from ._pool import PoolManager
from ._transaction import Transaction, TransactionState
from ._url import DatabaseURL

__all__ = ["ReplicaRouter", "Routing", "replica_router"]

logger = logging.getLogger("dataflow")

T = TypeVar("T")

#: Runs an operation on the primary (the execution context's own connection choice).
OnPrimary = Callable[[Callable[[Connection], Awaitable[Any]]], Awaitable[Any]]

#: Errors that mean "this server cannot serve reads now", not "this read is wrong".
_DOWN = (ServerUnavailableError, ConnectionLostError, PoolTimeoutError, TooManyConnectionsError)


@dataclass(frozen=True)
class Routing:
    """How reads are served inside a QueryRouterNode's scope."""

    #: Reads may go to read replicas (``False``: the primary only).
    read_write_split: bool = True
    #: Reads use the query cache (``None``: as the instance is configured).
    cache_reads: bool | None = None


class _Replica:
    """One replica's pools and what the router last learned about it."""

    def __init__(self, url: DatabaseURL, pools: PoolManager) -> None:
        self.url = url
        self.pools = pools
        self.replayed = 0
        self.lag_seconds = 0.0
        self.checked_at = float("-inf")
        self.down_until = 0.0
        self.reads = 0
        self.failures = 0
        self.last_error: str | None = None

    def metrics(self, now: float) -> dict[str, Any]:
        return {
            "url": self.url.redacted,
            "up": self.down_until <= now,
            "reads": self.reads,
            "failures": self.failures,
            "lag_seconds": self.lag_seconds,
            "last_error": self.last_error,
        }


class ReplicaRouter:
    """Routes one DataFlow instance's reads between its primary and its replicas.

    Args:
        replicas: Each replica's parsed URL and pool manager.
        replication: The backend's replication positions.
        max_lag: Seconds a replica may be behind before it is skipped (``None``: no bound).
        retry_interval: Seconds a failed replica is left out before it is tried again.
        status_interval: How often (seconds) a replica's lag is measured when ``max_lag`` is set.
    """

    def __init__(
        self,
        replicas: list[tuple[DatabaseURL, PoolManager]],
        replication: Replication,
        *,
        max_lag: float | None,
        retry_interval: float,
        status_interval: float = 1.0,
    ) -> None:
        self.replicas = [_Replica(url, pools) for url, pools in replicas]
        self.replication = replication
        self.max_lag = max_lag
        self.retry_interval = retry_interval
        self.status_interval = status_interval
        self.primary_reads = 0
        self._turn = itertools.count()
        # Read-your-writes: after a write, the primary position at the next read (fetched then,
        # so writes cost nothing extra) is what a replica must have replayed.
        self._position_unknown = False
        self._required = 0
        self._writing: weakref.WeakSet[Transaction] = weakref.WeakSet()
        self._warned = False

    # --- what the execution context tells the router ----------------------------------------

    def wrote(self, transaction: Transaction | None) -> None:
        """A write ran (inside ``transaction``, if given: its commit is what later reads must see)."""
        self._position_unknown = True
        if transaction is not None:
            self._writing.add(transaction.root)

    async def read(self, operation: Callable[[Connection], Awaitable[T]], on_primary: OnPrimary) -> T:
        """Run a read on a replica that can serve it, else with ``on_primary``."""
        required = await self._required_position(on_primary)
        if required is not None:
            start = next(self._turn)
            count = len(self.replicas)
            for offset in range(count):
                replica = self.replicas[(start + offset) % count]
                served, found = await self._try(replica, required, operation)
                if served:
                    return found  # type: ignore[return-value]  # served: the operation's result
            self._warn_if_all_down()
        self.primary_reads += 1
        result: T = await on_primary(operation)
        return result

    async def _required_position(self, on_primary: OnPrimary) -> int | None:
        """The position a replica must have replayed; ``None``: only the primary will do."""
        if any(tx.state is TransactionState.ACTIVE for tx in self._writing):
            return None  # a write is not committed yet: its position is not known
        self._writing.clear()
        if self._position_unknown:
            self._position_unknown = False
            self._required = max(self._required, await on_primary(self.replication.write_position))
        return self._required

    async def _try(
        self, replica: _Replica, required: int, operation: Callable[[Connection], Awaitable[T]]
    ) -> tuple[bool, T | None]:
        now = time.monotonic()
        if replica.down_until > now:
            return False, None
        try:
            pool = await replica.pools.get()
            connection = await pool.acquire()
            try:
                stale = self.max_lag is not None and now - replica.checked_at >= self.status_interval
                if replica.replayed < required or stale:
                    status = await self.replication.status(connection)
                    replica.replayed, replica.lag_seconds, replica.checked_at = (
                        status.replayed,
                        status.lag_seconds,
                        now,
                    )
                if replica.replayed < required:
                    return False, None
                if self.max_lag is not None and replica.lag_seconds > self.max_lag:
                    return False, None
                result = await operation(connection)
            finally:
                await pool.release(connection)
        except _DOWN as exc:
            replica.failures += 1
            replica.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            replica.down_until = time.monotonic() + self.retry_interval
            logger.warning(
                "DataFlow: read replica %s is unavailable (%s); retrying it in %.1f s",
                replica.url.redacted,
                type(exc).__name__,
                self.retry_interval,
            )
            # Its connections died with it: the next try opens new ones.
            await replica.pools.cleanup_all()
            return False, None
        replica.reads += 1
        self._warned = False
        return True, result

    def _warn_if_all_down(self) -> None:
        now = time.monotonic()
        if self._warned or any(replica.down_until <= now for replica in self.replicas):
            return
        self._warned = True
        names = ", ".join(replica.url.redacted for replica in self.replicas)
        warnings.warn(
            ReplicasUnavailableWarning(
                f"Every read replica is unavailable ({names}); reads go to the primary until one is back."
            ),
            stacklevel=4,
        )

    # --- metrics and closing -----------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        """``primary_reads`` and, per replica, ``reads``, ``failures``, ``up`` and ``lag_seconds``."""
        now = time.monotonic()
        return {
            "primary_reads": self.primary_reads,
            "replicas": [replica.metrics(now) for replica in self.replicas],
        }

    async def cleanup_all(self) -> int:
        """Close every replica pool; return how many."""
        return sum([await replica.pools.cleanup_all() for replica in self.replicas])

    def close(self) -> None:
        """Refuse new pools from now on (the instance is closed)."""
        for replica in self.replicas:
            replica.pools.retire()


def replica_router(
    primary: PoolManager, urls: Sequence[str], max_lag: float | None, retry_interval: float
) -> ReplicaRouter:
    """The router of ``DataFlow(read_replicas=urls)`` next to the primary's pools; DF-810 for a bad setting."""
    backend = backend_for(primary.url)
    where = primary.url.redacted
    if isinstance(urls, (str, bytes)) or not isinstance(urls, Sequence):
        raise ReplicaConfigurationError(
            f"read_replicas must be a list of URLs, got {type(urls).__name__}; write read_replicas=[url].",
            context={"setting": "read_replicas"},
        )
    if backend.replication is None:
        raise ReplicaConfigurationError(
            f"read_replicas needs a database server with streaming replication; {where} is "
            f"{backend.name}, which has none. Leave read_replicas out for this database.",
            context={"setting": "read_replicas", "url": where},
        )
    for name, value, lowest in (("max_replica_lag", max_lag, 0.0), ("replica_retry_interval", retry_interval, 0.0)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < lowest):
            raise ReplicaConfigurationError(
                f"{name} must be a number of seconds >= 0, got {value!r}.", context={"setting": name}
            )
    replicas: list[tuple[DatabaseURL, PoolManager]] = []
    for index, raw in enumerate(urls):
        url = parse_url(raw) if isinstance(raw, str) else None
        if url is None or backend_for(url) is not backend:
            shown = url.redacted if url is not None else repr(raw)
            raise ReplicaConfigurationError(
                f"read_replicas[{index}] ({shown}) is not a {backend.name} URL like the primary's ({where}); "
                "a replica is a copy of the primary's server.",
                context={"setting": "read_replicas", "index": index},
            )
        if url.redacted == where:
            raise ReplicaConfigurationError(
                f"read_replicas[{index}] is the primary itself ({where}); list the replicas' URLs only.",
                context={"setting": "read_replicas", "index": index},
            )
        owner = f"{primary.owner} replica {index}"
        pools = PoolManager(url, backend, primary.settings, test_mode=primary.test_mode, owner=owner)
        replicas.append((url, pools))
    return ReplicaRouter(
        replicas, backend.replication, max_lag=max_lag, retry_interval=retry_interval
    )
