"""Checking what ``DataFlow(...)`` was given, and where it was called from."""

from __future__ import annotations

import os
import sys
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from ._dialects import PoolSettings
from ._enhancer import (
    ENV_MODE,
    ErrorEnhancer,
    ErrorEnhancerConfig,
    PerformanceMode,
    default_enhancer,
    enhancer_for,
    mode_from_environment,
)
from ._errors import ConfigurationError

__all__ = ["caller_namespace", "check_schema_cache", "check_settings", "creation_site", "resolve_error_enhancer"]


def caller_namespace(depth: int) -> Mapping[str, Any]:
    """The names visible where the model class was defined, to resolve string annotations.

    ``from __future__ import annotations`` turns every annotation into a string; code run with
    ``exec`` or classes defined inside functions are not resolvable from the class's module alone.
    A view (locals first), not a copy: a module's globals are many, and most models need none of them.
    """
    frame = sys._getframe(depth + 1)
    try:
        return ChainMap(frame.f_locals, frame.f_globals)
    finally:
        del frame


def creation_site() -> str:
    """``file:line`` of the first caller outside DataFlow."""
    frame = sys._getframe(2)
    package = os.path.dirname(__file__)  # this package: skip DataFlow's own frames
    try:
        while frame is not None and frame.f_code.co_filename.startswith(package):
            frame = frame.f_back  # type: ignore[assignment]
        return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "unknown"
    finally:
        del frame


def resolve_error_enhancer(value: Any) -> ErrorEnhancer:
    if isinstance(value, ErrorEnhancer):
        return value
    if isinstance(value, ErrorEnhancerConfig):
        return ErrorEnhancer(value)
    try:
        mode = PerformanceMode(value) if value is not None else mode_from_environment()
    except ValueError:
        modes = ", ".join(repr(m.value) for m in PerformanceMode)
        source = f"error_enhancer={value!r}" if value is not None else f"{ENV_MODE}={os.environ.get(ENV_MODE)!r}"
        raise ConfigurationError(
            f"Invalid DataFlow settings: {source} is not an error mode; use one of {modes}, an "
            "ErrorEnhancerConfig or an ErrorEnhancer."
        ) from None
    return enhancer_for(mode) if mode is not None else default_enhancer()


def check_schema_cache(enabled: Any, ttl: Any, max_size: Any, validation: Any) -> None:
    problems = []
    for name, value in (("schema_cache_enabled", enabled), ("schema_cache_validation", validation)):
        if not isinstance(value, bool):
            problems.append(f"{name} must be True or False, got {value!r}")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0):
        problems.append(f"schema_cache_ttl must be a positive number of seconds or None, got {ttl!r}")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        problems.append(f"schema_cache_max_size must be an int >= 1, got {max_size!r}")
    if problems:
        raise ConfigurationError("Invalid DataFlow settings: " + "; ".join(problems) + ".")


def check_settings(settings: PoolSettings) -> None:
    problems = []
    if not isinstance(settings.min_size, int) or settings.min_size < 0:
        problems.append(f"pool_min_size must be an int >= 0, got {settings.min_size!r}")
    if not isinstance(settings.max_size, int) or settings.max_size < 1:
        problems.append(f"pool_max_size must be an int >= 1, got {settings.max_size!r}")
    elif isinstance(settings.min_size, int) and settings.min_size > settings.max_size:
        problems.append(
            f"pool_min_size ({settings.min_size}) is larger than pool_max_size ({settings.max_size})"
        )
    for name in ("acquire_timeout", "connect_timeout", "sqlite_busy_timeout"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            label = (
                name if name.startswith("sqlite") else ("pool_" + name if name == "acquire_timeout" else name)
            )
            problems.append(f"{label} must be a positive number of seconds, got {value!r}")
    if problems:
        raise ConfigurationError("Invalid DataFlow settings: " + "; ".join(problems) + ".")
