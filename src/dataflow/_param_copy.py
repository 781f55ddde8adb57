"""Copying node parameters: what ``add_node`` keeps and what a run hands to a node, without
``copy.deepcopy``'s cost for the plain JSON-like values almost every workflow has."""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["RecordList", "copy_params", "record_columns"]

_ATOMIC = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


class RecordList(list):  # type: ignore[type-arg]
    """A copy of a list of flat records (same str keys, atomic values) that keeps what the copy saw:
    each column's values as a tuple, in the order of ``names``, and the types of those values.

    The bulk path checks and sends these columns at ``build()`` and at run time instead of walking
    the records again. The records are the builder's own copies, taken when the node was added: what
    the workflow stores is what they held then, and the bulk path does not read them again.
    """

    __slots__ = ("names", "columns", "column_types")

    def __init__(
        self, records: Iterable[dict[str, Any]], names: tuple[str, ...], columns: list[tuple[Any, ...]],
        column_types: list[set[type]],
    ) -> None:
        super().__init__(records)
        self.names = names
        self.columns = columns
        self.column_types = column_types


def record_columns(records: list[dict[str, Any]], names: tuple[str, ...]) -> list[tuple[Any, ...]] | None:
    """Each name's values over ``records``, one tuple per name (no tuple per row), or None when a
    record lacks one of the names."""
    try:
        return [tuple(map(operator.itemgetter(name), records)) for name in names]
    except KeyError:
        return None


def _flat_dicts(value: list[Any]) -> RecordList | None:
    """A copy of a list of dicts with the same str keys and atomic values (bulk records), checked
    column by column; None for anything else."""
    if set(map(type, value)) != {dict}:
        return None
    names = tuple(value[0])
    if not names or set(map(len, value)) != {len(names)} or not set(map(type, names)) <= _STR:
        return None
    columns = record_columns(value, names)  # as long as names and holding them all: the same keys
    if columns is None:
        return None
    column_types = [set(map(type, column)) for column in columns]
    if not all(types <= _ATOMIC for types in column_types):
        return None
    # Atomic values only: a record that appears twice is copied twice, which nobody can tell apart.
    return RecordList(map(dict.copy, value), names, columns, column_types)


def _plain_copy(value: Any, seen: set[int]) -> Any:
    """Copy a tree of dicts/lists of atomic values; raise LookupError for anything else."""
    t = type(value)
    if t in _ATOMIC:
        return value
    if t is dict or t is list:
        if id(value) in seen:  # shared or cyclic: deepcopy's memo semantics are needed
            raise LookupError
        seen.add(id(value))
        if t is list and len(value) > 8 and (records := _flat_dicts(value)) is not None:
            return records
        if t is dict:
            if _plain_leaf(value):
                return value.copy()  # str keys and atomic values (a filter such as {"active": True})
            return {
                k if type(k) is str else _plain_copy(k, seen): _plain_copy(v, seen) for k, v in value.items()
            }
        return [_plain_copy(v, seen) for v in value]
    raise LookupError


def _plain_leaf(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether ``value`` holds only atomic values (and str keys): a shallow copy is a deep one."""
    if len(value) > 8:  # long: C-level passes beat a Python loop
        if type(value) is dict:
            return set(map(type, value.values())) <= _ATOMIC and set(map(type, value)) <= _STR
        return set(map(type, value)) <= _ATOMIC
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or type(item) not in _ATOMIC:
                return False
        return True
    for item in value:
        if type(item) not in _ATOMIC:
            return False
    return True


def copy_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``copy.deepcopy(dict(params or {}))``, without deepcopy's cost for plain JSON-like params."""
    source = dict(params or {})
    # Str keys with atomic values, or one level of plain dicts and lists (an upsert's where / create /
    # update), in one loop; anything deeper is walked by _plain_copy.
    seen: set[int] = set()
    for key, value in source.items():
        if type(key) is not str:
            return _copied(dict(params or {}))
        t = type(value)
        if t in _ATOMIC:
            continue
        if (t is dict or t is list) and id(value) not in seen and _plain_leaf(value):
            seen.add(id(value))
            source[key] = value.copy()
            continue
        try:
            source[key] = _plain_copy(value, seen)
        except LookupError:
            return copy.deepcopy(dict(params or {}))
    return source


def _copied(source: dict[Any, Any]) -> dict[str, Any]:
    try:
        return _plain_copy(source, set())  # type: ignore[no-any-return]
    except LookupError:
        return copy.deepcopy(source)
