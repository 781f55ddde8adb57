"""Names a package exports without importing the modules that define them until first used.

``import dataflow`` stays cheap: the migration engine, change capture, sagas, two-phase commit,
the monitoring nodes and the Inspector are imported when a program first names one of their
exports (PEP 562 ``__getattr__``). Type checkers and documentation tools read the
``TYPE_CHECKING`` imports next to each table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps an export to its module (relative
    to ``package``); a resolved name is stored in ``namespace``, so each is imported once."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
