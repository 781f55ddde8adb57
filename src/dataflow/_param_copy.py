"""Copying node parameters: what ``add_node`` keeps and what a run hands to a node, without
``copy.deepcopy``'s cost for the plain JSON-like values almost every workflow has."""

from __future__ import annotations

import copy
import operator
from collections.abc import Mapping
from typing import Any

__all__ = ["copy_params"]

_ATOMIC = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def _flat_dicts(value: list[Any], seen: set[int]) -> list[dict[str, Any]] | None:
    """A copy of a list of distinct dicts with the same str keys and atomic values (bulk records),
    checked column by column; None for anything else."""
    if set(map(type, value)) != {dict}:
        return None
    names = tuple(value[0])
    if not names or set(map(len, value)) != {len(names)} or not set(map(type, names)) <= _STR:
        return None
    ids = set(map(id, value))
    if len(ids) != len(value) or not ids.isdisjoint(seen):
        return None
    try:  # every record has these keys (and, being as long, no other): all keys are str
        for name in names:  # one pass per column, no row tuples to allocate
            if not set(map(type, map(operator.itemgetter(name), value))) <= _ATOMIC:
                return None
    except KeyError:
        return None
    seen |= ids
    return list(map(dict.copy, value))


def _plain_copy(value: Any, seen: set[int]) -> Any:
    """Copy a tree of dicts/lists of atomic values; raise LookupError for anything else."""
    t = type(value)
    if t in _ATOMIC:
        return value
    if t is dict or t is list:
        if id(value) in seen:  # shared or cyclic: deepcopy's memo semantics are needed
            raise LookupError
        seen.add(id(value))
        if t is list and len(value) > 8 and (records := _flat_dicts(value, seen)) is not None:
            return records
        if t is dict:
            if set(map(type, value.values())) <= _ATOMIC and set(map(type, value)) <= _STR:
                return value.copy()  # str keys and atomic values (a filter such as {"active": True})
            return {
                k if type(k) is str else _plain_copy(k, seen): _plain_copy(v, seen) for k, v in value.items()
            }
        return [_plain_copy(v, seen) for v in value]
    raise LookupError


def copy_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``copy.deepcopy(dict(params or {}))``, without deepcopy's cost for plain JSON-like params."""
    source = dict(params or {})
    if set(map(type, source.values())) <= _ATOMIC and set(map(type, source)) <= _STR:
        return source  # str keys and atomic values: the new dict is a deep copy
    try:
        return _plain_copy(source, set())  # type: ignore[no-any-return]
    except LookupError:
        return copy.deepcopy(source)
