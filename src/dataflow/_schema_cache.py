"""The schema cache: which models' tables are known to exist, so first-use DDL runs once.

Every operation asks the cache first (a hit costs a dictionary lookup); a miss runs the table's
idempotent CREATE statements and, with validation on, compares the live table with the model.
Entries can expire (``ttl``) and the cache is bounded (``max_size``, least recently used first).
It is safe to use from several threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from ._dialects import parse_url
from ._errors import DataFlowError

__all__ = ["SchemaCache"]


class SchemaCache:
    """The tables of one DataFlow instance that are known to exist.

    Args:
        url: The instance's database URL, redacted (``clear_table`` and ``is_table_ensured`` take
            it to check that the call is about this instance's database).
        resolve: Maps a model class, model name or table name to the model name, or ``None``.
        enabled: False: nothing is cached, every operation checks its table.
        ttl: Seconds an entry stays valid (``None``: until cleared).
        max_size: Entries kept at most; the least recently used goes first.
        validation: Compare a table's columns with its model whenever its entry is (re)made.
    """

    def __init__(
        self,
        url: str,
        resolve: Callable[[Any], str | None],
        *,
        enabled: bool = True,
        ttl: float | None = None,
        max_size: int = 10_000,
        validation: bool = False,
    ) -> None:
        self.url = url
        self._resolve = resolve
        self.enabled = enabled
        self.ttl = ttl
        self.max_size = max_size
        self.validation = validation
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.expirations = 0

    # --- what operations use --------------------------------------------------------------------

    def check(self, model: str) -> bool:
        """Whether ``model``'s table is known to exist; counted as a hit or a miss."""
        with self._lock:
            # Inline for the common case (no TTL): this runs before every operation.
            if model in self._entries if self.ttl is None else self._valid(model):
                self.hits += 1
                self._entries.move_to_end(model)
                return True
            self.misses += 1
            return False

    def contains(self, model: str) -> bool:
        """Like :meth:`check`, without counting (the re-check under the DDL lock)."""
        with self._lock:
            return self._valid(model)

    def mark(self, model: str) -> None:
        """``model``'s table exists now."""
        if not self.enabled:
            return
        with self._lock:
            self._entries[model] = time.monotonic()
            self._entries.move_to_end(model)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
                self.evictions += 1

    def forget(self, models: Iterable[str]) -> None:
        """These tables may be gone (dropped, or their CREATE rolled back)."""
        with self._lock:
            for model in models:
                self._entries.pop(model, None)

    def _valid(self, model: str) -> bool:
        created = self._entries.get(model)
        if created is None:
            return False
        if self.ttl is not None and time.monotonic() - created >= self.ttl:
            del self._entries[model]
            self.expirations += 1
            return False
        return True

    # --- the public cache API (``db.schema_cache``) -------------------------------------------

    def clear(self) -> None:
        """Forget every table: the next operation on each model checks its table again."""
        with self._lock:
            self._entries.clear()

    def clear_table(self, model_or_table: Any, url: str | None = None) -> bool:
        """Forget one model's table (a model class, model name or table name).

        Args:
            model_or_table: What to forget.
            url: The database URL the caller means; when it is not this instance's, nothing changes.

        Returns:
            True when an entry was removed.
        """
        model = self._model(model_or_table, url)
        with self._lock:
            return model is not None and self._entries.pop(model, None) is not None

    def is_table_ensured(self, model_or_table: Any, url: str | None = None) -> bool:
        """Whether the table of a model (class, model name or table name) is cached as existing."""
        model = self._model(model_or_table, url)
        return model is not None and self.contains(model)

    def get_metrics(self) -> dict[str, Any]:
        """``hits``, ``misses``, ``hit_rate`` (a fraction; 0.0 before any lookup), ``cached_tables``,
        ``evictions``, ``expirations`` and the settings."""
        with self._lock:
            lookups = self.hits + self.misses
            return {
                "hits": self.hits,
                "misses": self.misses,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "cached_tables": len(self._entries),
                "evictions": self.evictions,
                "expirations": self.expirations,
                "enabled": self.enabled,
                "ttl": self.ttl,
                "max_size": self.max_size,
                "validation": self.validation,
            }

    def _model(self, model_or_table: Any, url: str | None) -> str | None:
        if url is not None and not self._same_database(url):
            return None
        return self._resolve(model_or_table)

    def _same_database(self, url: str) -> bool:
        try:
            return parse_url(url).redacted == self.url
        except DataFlowError:  # an unparsable URL is not this database
            return False
