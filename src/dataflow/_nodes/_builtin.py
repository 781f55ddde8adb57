"""The base of the built-in nodes that belong to no model (SwitchNode, TransactionContextNode,
QueryRouterNode, the saga, distributed, CDC and monitoring nodes).

Such a node has no model and no instance of its own (``needs_database`` is False), its errors name
the node type and operation only, and its class pickles by name as ``dataflow.nodes.<TypeName>``
(the registry resolves built-in names there).
"""

from __future__ import annotations

from typing import Any

from ._base import Node

__all__ = ["BuiltinNode"]

#: Where built-in node classes pickle by name (``dataflow.nodes`` resolves them).
NODES_MODULE = "dataflow.nodes"


class BuiltinNode(Node):
    """A node type that belongs to no model: subclasses set ``operation``, ``type_name`` and ``spec``."""

    needs_database = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("dataflow."):  # DataFlow's own node types, not a user's subclass
            cls.__module__ = NODES_MODULE

    @classmethod
    def error_context(cls, **extra: Any) -> dict[str, Any]:
        """The ``context`` of an error raised by this node type (no model to name)."""
        return {"node_type": cls.type_name, "operation": cls.operation, **extra}
