"""The change data capture calls of ``DataFlow``: ``db.change_feed(...)`` and node lookup that
includes the instance's own ``ChangeDataCaptureNode``.

A mixin, so the ``DataFlow`` module stays about the instance; the work is done by
:class:`~dataflow.ChangeFeed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._model import ModelSpec

if TYPE_CHECKING:
    from .._executor import ExecutionContext
    from .._nodes import Node, NodeTypes
    from .._query import Statements
    from ._feed import ChangeFeed

__all__ = ["ChangeFeedCalls"]

#: The one built-in node type an instance has its own class of.
CDC_NODE = "ChangeDataCaptureNode"


class ChangeFeedCalls:
    """``change_feed`` and ``node_type``."""

    _context: ExecutionContext
    _models: dict[str, ModelSpec]
    _statements: dict[str, Statements]
    _nodes: NodeTypes

    def node_type(self, name: str) -> type[Node] | None:
        """The node type called ``name`` (``"UserCreateNode"``, ``"ChangeDataCaptureNode"``), or ``None``."""
        found = self._nodes.get(name)
        if found is not None or name != CDC_NODE:
            return found
        from ._node import bound_builtin  # change capture is imported on first use

        return bound_builtin(self, name)  # type: ignore[arg-type]

    def change_feed(
        self, source: Any, *, name: str | None = None, operations: Iterable[str] | None = None
    ) -> ChangeFeed:
        """The change feed ``name`` (default: the table name) of a model (its class, name or table name).

        Nothing happens in the database until ``await feed.create()``; see :class:`ChangeFeed` (DF-410, DF-411).
        """
        from ._feed import ChangeFeed

        return ChangeFeed.of(
            self._context, self._models, self._statements, source, name=name, operations=operations
        )
