"""Test mode: resolved once per DataFlow instance from the argument, the process default, or pytest.

Test mode changes behaviour, not only logging: pools are sized for tests, idle-connection timers
are off, stale pools are closed before a new pool is handed out, and pools record where they were
created so the leak check can say so.
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["DefaultModeCalls", "get_default", "resolve", "set_default"]

_default: bool | None = None
_lock = threading.Lock()


def set_default(value: bool | None) -> None:
    """Set the process-wide default (``None``: auto-detect)."""
    global _default
    with _lock:
        _default = value


class DefaultModeCalls:
    """``DataFlow``'s class methods for the process-wide test-mode default."""

    @classmethod
    def enable_test_mode(cls) -> None:
        """Make test mode the default for instances created from now on (an explicit ``test_mode=`` still wins)."""
        set_default(True)

    @classmethod
    def disable_test_mode(cls) -> None:
        """Make production mode the default for new instances (an explicit ``test_mode=`` still wins)."""
        set_default(False)

    @classmethod
    def reset_test_mode(cls) -> None:
        """Forget the process default set by :meth:`enable_test_mode` / :meth:`disable_test_mode`."""
        set_default(None)


def get_default() -> bool | None:
    """The process-wide default, if one is set."""
    return _default


def resolve(explicit: bool | None) -> tuple[bool, str, str]:
    """``(test_mode, reason, detail)``: an explicit value wins, then the process default, then pytest.

    ``reason`` is the short form the log line shows in parentheses ("auto-detected pytest
    environment"); ``detail`` says what was seen.
    """
    if explicit is not None:
        return bool(explicit), f"test_mode={bool(explicit)} was passed to DataFlow()", ""
    if _default is not None:
        return _default, (
            "DataFlow.enable_test_mode() was called" if _default else "DataFlow.disable_test_mode() was called"
        ), ""
    if os.environ.get("PYTEST_CURRENT_TEST"):
        return True, "auto-detected pytest environment", "PYTEST_CURRENT_TEST is set"
    if "pytest" in sys.modules or "_pytest" in sys.modules:
        return True, "auto-detected pytest environment", "pytest is imported"
    return False, "no pytest detected", ""
