"""The change data capture calls of ``DataFlow``: ``db.change_feed(...)`` and node lookup that
includes the instance's own ``ChangeDataCaptureNode``.

A mixin, so the ``DataFlow`` module stays about the instance; the work is done by
:class:`~dataflow.ChangeFeed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._model import ModelSpec
from ._feed import ChangeFeed
from ._node import bound_builtin

if TYPE_CHECKING:
    from .._executor import ExecutionContext
    from .._nodes import Node
    from .._query import Statements

__all__ = ["ChangeFeedCalls"]


class ChangeFeedCalls:
    """``change_feed`` and ``node_type``."""

    _context: ExecutionContext
    _models: dict[str, ModelSpec]
    _statements: dict[str, Statements]
    _nodes: dict[str, type[Node]]

    def node_type(self, name: str) -> type[Node] | None:
        """The node type called ``name`` (``"UserCreateNode"``, ``"ChangeDataCaptureNode"``), or ``None``."""
        return self._nodes.get(name) or bound_builtin(self, name)  # type: ignore[arg-type]

    def change_feed(
        self, source: Any, *, name: str | None = None, operations: Iterable[str] | None = None
    ) -> ChangeFeed:
        """The change feed ``name`` (default: the table name) of a model (its class, name or table name).

        Nothing happens in the database until ``await feed.create()``; see :class:`ChangeFeed` (DF-410, DF-411).
        """
        return ChangeFeed.of(
            self._context, self._models, self._statements, source, name=name, operations=operations
        )
