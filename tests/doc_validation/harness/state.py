"""Process-wide settings of the harness, set by the harness's pytest plugin before collection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIG_FILE: Path | None = None
PAGES: list[str] = []
UPDATE = False
BUILD: Callable[[], Any] | None = None
_INVENTORY: Any = None


def inventory() -> Any:
    """The inventory (built once per process)."""
    global _INVENTORY
    if _INVENTORY is None:
        assert BUILD is not None, "the harness pytest plugin sets BUILD"
        _INVENTORY = BUILD()
    return _INVENTORY
