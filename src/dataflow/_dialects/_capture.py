"""What a backend provides for change data capture: :class:`ChangeCapture` and :class:`CapturedChange`.

The backends implement it in ``_cdc_sqlite`` (triggers into a change table) and ``_cdc_postgres``
(logical decoding with ``test_decoding``); ``dataflow._cdc`` builds feeds, events and the node on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._types import FieldType

__all__ = ["CapturedChange", "ChangeCapture", "SQLConnection"]


class SQLConnection(Protocol):
    """What change capture needs from a connection (a :class:`~dataflow._dialects.Connection`)."""

    tx_depth: int

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...


@dataclass(slots=True)  # not frozen: one is made per change read, and nothing keeps it
class CapturedChange:
    """One row change read back by a :class:`ChangeCapture`, at position ``(commit, index)``."""

    commit: int
    index: int
    operation: str
    new: dict[str, Any] | None
    old: dict[str, Any] | None


class ChangeCapture(ABC):
    """How a backend captures a table's row changes for change feeds (``dataflow._cdc``).

    A feed has a name (an identifier checked by ``dataflow._cdc``) and a source table. Positions are
    ``(commit, index)``: ``commit`` orders transactions by commit, ``index`` changes within one; a
    feed's consumer position is kept by ``dataflow._cdc`` in ``dataflow_change_feeds``.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    @abstractmethod
    async def check(self, connection: SQLConnection) -> None:
        """Raise DF-513 when this database cannot capture changes."""

    @abstractmethod
    async def install(self, connection: SQLConnection, table: str) -> None:
        """Start capturing ``table``'s changes, or refresh the capture after its columns changed."""

    @abstractmethod
    async def uninstall(self, connection: SQLConnection, table: str) -> None:
        """Stop capturing ``table``: its last feed was dropped."""

    @abstractmethod
    async def outdated(self, connection: SQLConnection, table: str) -> str | None:
        """Why ``table``'s capture no longer matches its columns, or ``None``."""

    @abstractmethod
    async def create_slot(self, connection: SQLConnection, feed: str) -> tuple[int, int] | None:
        """Start ``feed``'s record of changes now; its start position, or ``None`` if it exists."""

    @abstractmethod
    async def drop_slot(self, connection: SQLConnection, feed: str) -> bool:
        """Drop ``feed``'s record of changes; False if there was none."""

    @abstractmethod
    async def fetch(
        self,
        connection: SQLConnection,
        feed: str,
        table: str,
        after: tuple[int, int],
        operations: frozenset[str],
        types: dict[str, FieldType],
        limit: int,
    ) -> list[CapturedChange]:
        """Up to ``limit`` changes of ``table`` after ``after``, in commit order, values as ``types``."""

    @abstractmethod
    async def prune(self, connection: SQLConnection, table: str, upto: tuple[int, int]) -> None:
        """Forget ``table``'s changes every feed has acknowledged (up to ``upto``)."""

    @abstractmethod
    async def retained_bytes(
        self, connection: SQLConnection, feed: str, table: str, after: tuple[int, int]
    ) -> int:
        """Bytes the database keeps for ``feed`` because its consumer has not acknowledged them."""

    @abstractmethod
    async def orphans(self, connection: SQLConnection, feeds: Sequence[str]) -> dict[str, int]:
        """Capture records (slots) of feeds not in ``feeds``, with the bytes each retains."""
