"""Where generated node classes live by name, so they pickle.

``dataflow.nodes.UserCreateNode`` is the ``UserCreateNode`` of the one live DataFlow instance that
declares the model ``User`` (DF-407 when several do, DF-401 when none does).
"""

from __future__ import annotations

from typing import Any

from ._nodes import resolve_unbound

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if not name.endswith("Node") or name.startswith("_"):
        raise AttributeError(name)
    return resolve_unbound(name)
