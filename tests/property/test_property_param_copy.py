"""``add_node`` keeps a deep copy of its parameters: ``copy_params`` must agree with
``copy.deepcopy`` on every JSON-like tree, shared and repeated containers included, while taking
its cheaper paths (atomic values, one level of plain dicts and lists, flat record lists)."""

from __future__ import annotations

import copy
from typing import Any

from _hostile import FAST
from hypothesis import given
from hypothesis import strategies as st

from dataflow._param_copy import copy_params

ATOMS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
KEYS = st.text(min_size=1, max_size=4)
TREES = st.recursive(
    ATOMS,
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)
RECORD = st.fixed_dictionaries({"name": st.text(max_size=3), "age": st.integers(), "ok": st.booleans()})


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value`` (itself included)."""
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


def _check(params: dict[str, Any]) -> None:
    expected = copy.deepcopy(params)
    copied = copy_params(params)
    assert copied == expected
    assert not {id(c) for c in _containers(copied)} & {id(c) for c in _containers(params)}
    for container in _containers(params):  # changing the source afterwards leaves the copy alone
        if isinstance(container, dict):
            container["__changed__"] = 1
        else:
            container.append("__changed__")
    assert copied == expected


@FAST
@given(st.dictionaries(KEYS, TREES, max_size=6))
def test_copy_params_is_a_deep_copy(params: dict[str, Any]) -> None:
    _check(params)


@FAST
@given(st.lists(RECORD, min_size=9, max_size=20), st.dictionaries(KEYS, ATOMS, max_size=3))
def test_record_lists_and_one_level_dicts_are_deep_copies(records: list[dict[str, Any]], where: dict[str, Any]) -> None:
    _check({"records": records, "where": where, "update": dict(where), "conflict_on": list(where)})


def test_a_container_given_twice_stays_one_object_as_with_deepcopy() -> None:
    shared = {"email": "a@example.com"}
    copied = copy_params({"where": shared, "create": shared, "conflict_on": ["email"]})
    assert copied["where"] is copied["create"] and copied["where"] is not shared
    names = ["email"]
    copied = copy_params({"conflict_on": names, "again": names, "where": {"email": "a@example.com"}})
    assert copied["conflict_on"] is copied["again"] and copied["conflict_on"] is not names
