"""What a change feed delivers: :class:`ChangeEvent` at a :class:`ChangePosition`, and the checks of
the capture parameters (DF-411)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import InvalidCaptureParameterError

__all__ = [
    "OPERATIONS",
    "ChangeEvent",
    "ChangePosition",
    "check_feed_name",
    "check_limit",
    "check_operations",
    "read_event",
]

#: The row operations a feed captures, in the spelling of the seed and of SQL.
OPERATIONS: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True, order=True)
class ChangePosition:
    """Where a change sits in commit order: ``commit`` orders transactions, ``index`` changes within one.

    On PostgreSQL ``commit`` is the end LSN of the transaction's commit record; on SQLite it is the
    change's number in ``dataflow_changes`` (``index`` is 0). Positions compare in commit order;
    ``str(position)`` (``"23578192:3"``) and :meth:`parse` round-trip, to store one elsewhere.
    """

    commit: int
    index: int = 0

    def __str__(self) -> str:
        return f"{self.commit}:{self.index}"

    @classmethod
    def parse(cls, text: str) -> ChangePosition:
        """The position ``str(position)`` wrote (DF-411 for anything else)."""
        commit, sep, index = str(text).partition(":")
        if not (sep and commit.isdigit() and index.isdigit()):
            raise InvalidCaptureParameterError(
                f"{text!r} is not a change position; positions read like '23578192:3' (str(event.position)).",
                context={"parameter": "position"},
            )
        return cls(int(commit), int(index))


@dataclass(frozen=True)
class ChangeEvent:
    """One committed row change of a feed's source table.

    Attributes:
        operation: ``"INSERT"``, ``"UPDATE"`` or ``"DELETE"``.
        table: The source table.
        primary_key: ``{"id": 1}``.
        new: The row after the change (``None`` for a delete), values typed as the model's fields.
        old: The row before the change (``None`` for an insert).
        position: Acknowledge it (``await feed.ack(event.position)``) once the change is handled.
    """

    operation: str
    table: str
    primary_key: dict[str, Any]
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    position: ChangePosition

    def to_dict(self) -> dict[str, Any]:
        """The event as plain data (the node's output): the position as ``str(position)``."""
        return {
            "operation": self.operation,
            "table": self.table,
            "primary_key": dict(self.primary_key),
            "new": None if self.new is None else dict(self.new),
            "old": None if self.old is None else dict(self.old),
            "position": str(self.position),
        }


_new = object.__new__


def read_event(
    operation: str, table: str, primary_key: dict[str, Any], new: dict[str, Any] | None,
    old: dict[str, Any] | None, commit: int, index: int,
) -> ChangeEvent:
    """``ChangeEvent(operation, table, primary_key, new, old, ChangePosition(commit, index))``, made
    the way a read makes one per change: the frozen dataclasses' ``__init__`` sets each field with
    ``object.__setattr__``, and this fills the same instance dicts in one update each."""
    position = _new(ChangePosition)
    position.__dict__.update(commit=commit, index=index)
    event = _new(ChangeEvent)
    event.__dict__.update(operation=operation, table=table, primary_key=primary_key, new=new, old=old,
                          position=position)
    return event


def check_operations(value: Any, context: Mapping[str, Any] | None = None) -> frozenset[str]:
    """``["INSERT", "UPDATE"]`` -> a frozenset of upper-case operations (DF-411 otherwise)."""
    context = {"parameter": "capture_operations", **(context or {})}
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidCaptureParameterError(
            f"capture_operations must be a list of operations such as {list(OPERATIONS)}, got {value!r:.80}.",
            context=context,
        )
    found: set[str] = set()
    for item in value:
        name = item.upper() if isinstance(item, str) else item
        if name not in OPERATIONS:
            raise InvalidCaptureParameterError(
                f"{item!r:.40} is not an operation change capture supports; use {', '.join(OPERATIONS)}.",
                context=context,
            )
        found.add(name)
    if not found:
        raise InvalidCaptureParameterError(
            f"capture_operations is empty; capture at least one of {', '.join(OPERATIONS)}.", context=context
        )
    return frozenset(found)


def check_feed_name(value: Any) -> str:
    """A feed name: 1 to 40 lowercase letters, digits and underscores, starting with a letter (DF-411)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidCaptureParameterError(
            f"{value!r:.60} is not a feed name; use 1 to 40 lowercase letters, digits and underscores "
            "starting with a letter, such as 'billing'.",
            context={"parameter": "name"},
        )
    return value


def check_limit(value: Any, parameter: str = "limit") -> int:
    """A positive number of changes (DF-411)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidCaptureParameterError(
            f"{parameter} must be a positive integer, got {value!r:.40}.", context={"parameter": parameter}
        )
    return value


def check_flag(value: Any, parameter: str) -> bool:
    """``True`` or ``False`` (DF-411 for anything else, such as the string ``"false"``)."""
    if not isinstance(value, bool):
        raise InvalidCaptureParameterError(
            f"{parameter} must be True or False, got {value!r:.40}.", context={"parameter": parameter}
        )
    return value
