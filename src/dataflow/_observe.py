"""What the execution context and the runtimes tell the monitoring recorder (``dataflow.watch``).

The context holds a :class:`Watcher` only while someone watches the instance; without one, the hook
points cost an attribute check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from ._dialects import Connection
    from ._error_base import DataFlowError
    from ._transaction import Transaction

__all__ = ["WatchState", "Watcher"]

T = TypeVar("T")


class Watcher(Protocol):
    """The recorder of one instance's statements, conflicts, lock waits and row writes."""

    #: True while statements are timed and recorded (``watch(db)``; ``stop()`` ends it).
    capturing: bool

    def wrap(
        self, operation: Callable[[Connection], Awaitable[T]], model: str | None, host: Any
    ) -> Callable[[Connection], Awaitable[T]]:
        """``operation`` with its statements recorded (``host``: the execution context)."""
        ...

    def wrap_connection(self, connection: Connection, model: str | None, host: Any) -> Connection:
        """``connection`` with its statements recorded."""
        ...

    def failed(self, error: DataFlowError, transaction: Transaction | None) -> None:
        """A node or transaction block raised ``error``."""
        ...

    def node_ran(self, model: str, operation: str, output: Mapping[str, Any], transaction: Transaction | None) -> None:
        """A model's node ran ``operation`` and gave ``output`` (single-row writes are recorded)."""
        ...


class WatchState:
    """Whether any instance has been watched in this process (the runtime's hook is skipped until then)."""

    watching: ClassVar[bool] = False
