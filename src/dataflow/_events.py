"""Pool lifecycle events: who created a pool, who closed it and why.

The pool manager publishes; the test plugin's leak check subscribes for the duration of one test
and unsubscribes after it, so nothing here grows with the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ClosedBy", "PoolEvent", "PoolEventKind", "has_subscribers", "publish", "subscribe"]


class PoolEventKind(StrEnum):
    """What happened to a pool."""

    CREATED = "created"
    CLOSED = "closed"


class ClosedBy(StrEnum):
    """Who closed a pool."""

    #: ``close()``, ``cleanup_all_pools()`` or the owner of the loop (``LocalRuntime``).
    OWNER = "its owner"
    #: The loop shut down while the pool was open (DataFlow's safety net).
    LOOP_SHUTDOWN = "loop shutdown"
    #: The loop was closed without shutting the pool down; a later sweep closed it (safety net).
    STALE_SWEEP = "stale sweep"
    #: The interpreter exited with the pool open.
    EXIT = "interpreter exit"


@dataclass(frozen=True)
class PoolEvent:
    """One pool created or closed.

    Attributes:
        kind: Created or closed.
        url: The database URL, password redacted.
        owner: ``repr()`` of the DataFlow instance that owns the pool.
        loop_id: ``id()`` of the event loop the pool belongs to.
        created_at: Where the pool was created (user frames; filled in test mode).
        closed_by: For a closed pool, who closed it.
    """

    kind: PoolEventKind
    url: str
    owner: str
    loop_id: int
    created_at: str = ""
    closed_by: ClosedBy | None = None

    @property
    def by_safety_net(self) -> bool:
        """True when nobody closed the pool and DataFlow had to (a leak, in a test)."""
        return self.closed_by in (ClosedBy.LOOP_SHUTDOWN, ClosedBy.STALE_SWEEP)


Subscriber = Callable[[PoolEvent], None]

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> Callable[[], None]:
    """Call ``subscriber(event)`` for every pool event from now on; return the unsubscribe function."""
    with _lock:
        _subscribers.append(subscriber)

    def unsubscribe() -> None:
        with _lock:
            if subscriber in _subscribers:
                _subscribers.remove(subscriber)

    return unsubscribe


def has_subscribers() -> bool:
    """Whether anyone listens (publishers skip building events nobody reads)."""
    return bool(_subscribers)


def publish(event: PoolEvent) -> None:
    """Hand ``event`` to every subscriber (a subscriber's failure does not stop the pool manager)."""
    if not _subscribers:
        return
    with _lock:
        subscribers = list(_subscribers)
    for subscriber in subscribers:
        try:
            subscriber(event)
        except Exception:  # noqa: BLE001 - an observer must never break pool management
            pass
