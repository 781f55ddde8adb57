"""How error messages are written: three performance modes over one catalog.

``FULL`` (the default) writes the layout kailash-dataflow users know: ``DF-nnn: Title``, what
happened, ``Context:`` (node, operation, model, parameter or field), numbered ``Causes:`` and
``Solutions:`` from the catalog, and the documentation link. ``MINIMAL`` writes the code, the title,
the first line of what happened and the link. ``DISABLED`` writes the code and that line only.
Messages are rendered when an error is turned into text, not when it is raised, so an error that
is caught and handled costs no formatting in any mode; FULL messages are kept in a small LRU cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from ._catalog import CATALOG, error_url

__all__ = ["ENV_MODE", "ErrorEnhancer", "ErrorEnhancerConfig", "PerformanceMode", "default_enhancer"]

#: The environment variable that sets the process's default mode (``full``, ``minimal``, ``disabled``).
ENV_MODE = "DATAFLOW_ERROR_MODE"

#: Context keys in the order the ``Context:`` section lists them, with their labels.
_LABELS = {
    "node": "Node",
    "node_type": "Node type",
    "operation": "Operation",
    "model": "Model",
    "parameter": "Parameter",
    "field": "Field",
    "operator": "Operator",
    "table": "Table",
    "host": "Host",
    "port": "Port",
    "database": "Database",
    "test": "Test",
}


class _Enhanceable(Protocol):
    enhancer: ErrorEnhancer | None


E = TypeVar("E", bound=_Enhanceable)


class PerformanceMode(StrEnum):
    """How much work an error message gets."""

    FULL = "full"
    MINIMAL = "minimal"
    DISABLED = "disabled"


@dataclass(frozen=True)
class ErrorEnhancerConfig:
    """Settings of an :class:`ErrorEnhancer`.

    Attributes:
        mode: ``PerformanceMode.FULL`` (default), ``MINIMAL`` or ``DISABLED``.
        cache_size: Rendered FULL messages kept for reuse (0 keeps none).
    """

    mode: PerformanceMode = PerformanceMode.FULL
    cache_size: int = 500

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", PerformanceMode(self.mode))
        except ValueError:
            modes = ", ".join(m.value for m in PerformanceMode)
            raise ValueError(f"ErrorEnhancerConfig mode must be one of {modes}, got {self.mode!r}") from None
        if isinstance(self.cache_size, bool) or not isinstance(self.cache_size, int) or self.cache_size < 0:
            raise ValueError(f"ErrorEnhancerConfig cache_size must be an int >= 0, got {self.cache_size!r}")


class ErrorEnhancer:
    """Writes the message of a ``DF-`` error in the configured mode.

    Example:
        ```python
        from dataflow import ErrorEnhancer, ErrorEnhancerConfig, PerformanceMode

        enhancer = ErrorEnhancer(config=ErrorEnhancerConfig(mode=PerformanceMode.MINIMAL))
        ```
    """

    def __init__(self, config: ErrorEnhancerConfig | None = None) -> None:
        self.config = config or ErrorEnhancerConfig()
        self._cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.RLock()

    @property
    def mode(self) -> PerformanceMode:
        """The configured mode."""
        return self.config.mode

    def enhance(self, error: E) -> E:
        """Have ``error`` (a ``DataFlowError``) write its message with this enhancer; return it."""
        error.enhancer = self
        return error

    def render(
        self, code: str, detail: str, context: Mapping[str, Any] | None = None, fix: str | None = None
    ) -> str:
        """The message for ``code`` with what happened (``detail``), where (``context``) and a fix."""
        mode = self.config.mode
        first_line = detail.split("\n", 1)[0]
        if mode is PerformanceMode.DISABLED:
            return f"{code}: {first_line}"
        info = CATALOG[code]
        if mode is PerformanceMode.MINIMAL:
            return f"{code}: {info.title}\n{first_line}\nDocumentation: {error_url(code)}"
        context = context or {}
        link = error_url(code)  # follows DATAFLOW_DOCS_URL, so it is part of the key
        key = (code, detail, fix, link, tuple((k, repr(v)) for k, v in context.items() if k in _LABELS))
        cached = self._cached(key)
        if cached is not None:
            return cached
        lines = [f"{code}: {info.title}", detail]
        shown = [(label, context[key]) for key, label in _LABELS.items() if context.get(key) not in (None, "")]
        if shown:
            lines += ["", "Context:", *(f"- {label}: {value}" for label, value in shown)]
        lines += ["", "Causes:", *_numbered(info.causes)]
        solutions = (fix, *info.solutions[1:]) if fix else info.solutions
        lines += ["", "Solutions:", *_numbered(solutions)]
        lines += ["", f"Documentation: {link}"]
        message = "\n".join(lines)
        self._store(key, message)
        return message

    def _cached(self, key: tuple[Any, ...]) -> str | None:
        if not self.config.cache_size:
            return None
        with self._lock:
            message = self._cache.get(key)
            if message is not None:
                self._cache.move_to_end(key)
            return message

    def _store(self, key: tuple[Any, ...], message: str) -> None:
        if not self.config.cache_size:
            return
        with self._lock:
            self._cache[key] = message
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)


def _numbered(items: tuple[str, ...]) -> list[str]:
    lines = []
    for number, item in enumerate(items, 1):
        first, *rest = item.split("\n")
        lines.append(f"{number}. {first}")
        lines += [f"   {line}" if line else "" for line in rest]
    return lines


_defaults: dict[PerformanceMode, ErrorEnhancer] = {}
_defaults_lock = threading.Lock()


def enhancer_for(mode: PerformanceMode) -> ErrorEnhancer:
    """The shared enhancer of ``mode`` (one per mode per process)."""
    with _defaults_lock:
        enhancer = _defaults.get(mode)
        if enhancer is None:
            enhancer = _defaults[mode] = ErrorEnhancer(ErrorEnhancerConfig(mode=mode))
        return enhancer


def mode_from_environment() -> PerformanceMode | None:
    """``DATAFLOW_ERROR_MODE`` as a mode; None when unset. Raises ValueError for an unknown value."""
    value = os.environ.get(ENV_MODE, "").strip().lower()
    return PerformanceMode(value) if value else None


def default_enhancer() -> ErrorEnhancer:
    """The enhancer for errors no DataFlow instance claimed: ``DATAFLOW_ERROR_MODE``, else FULL."""
    try:
        mode = mode_from_environment() or PerformanceMode.FULL
    except ValueError:
        mode = PerformanceMode.FULL  # an unknown value is reported by DataFlow() as DF-802
    return enhancer_for(mode)
