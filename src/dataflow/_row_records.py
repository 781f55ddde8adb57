"""Result rows to record dicts, through functions generated once per model and backend.

Every node turns the rows its statement returned into dicts keyed by field name, with the backend's
conversions applied (SQLite's 0/1 to ``bool``, text to ``datetime``, ...). A loop over the names
costs a ``zip``, a pair per column and a call per converted value; the generated function is one dict
display per row, which is several times cheaper (the technique of ``dataclasses`` and ``attrs``).
Field names come from ``@db.model`` (identifiers) and are written as literals with ``repr()``;
converters are passed in as globals of the generated code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["RecordMaker", "record_maker"]

Record = dict[str, Any]


class RecordMaker:
    """``one(row)`` and ``many(rows)``: a row (columns in the model's field order, extra columns after
    them) as a record dict, converted; a row with fewer columns keeps the columns it has."""

    __slots__ = ("one", "many")

    def __init__(
        self, one: Callable[[Sequence[Any]], Record], many: Callable[[Sequence[Sequence[Any]]], list[Record]]
    ) -> None:
        self.one = one
        self.many = many


def _slow_one(names: tuple[str, ...], converters: dict[str, Callable[[Any], Any]]) -> Callable[[Sequence[Any]], Record]:
    def one(row: Sequence[Any]) -> Record:
        record = dict(zip(names, row, strict=False))
        for name, convert in converters.items():
            value = record.get(name)
            if value is not None:
                record[name] = convert(value)
        return record

    return one


def record_maker(names: Sequence[str], converters: dict[str, Callable[[Any], Any]]) -> RecordMaker:
    """The :class:`RecordMaker` of a model whose columns are ``names``; ``converters``: the backend's
    conversion of each field's stored value (fields without one are taken as they are).

    Made once per set of columns and converters: every DataFlow instance that declares the same
    model (one per test, with a function-scoped fixture) shares it.
    """
    return _maker(tuple(names), tuple(converters.items()))


@lru_cache(maxsize=512)
def _maker(fields: tuple[str, ...], conversions: tuple[tuple[str, Callable[[Any], Any]], ...]) -> RecordMaker:
    converters = dict(conversions)
    namespace: dict[str, Any] = {"_short": _slow_one(fields, converters), "_width": len(fields)}
    items = []
    for index, name in enumerate(fields):
        if name in converters:
            namespace[f"_c{index}"] = converters[name]
            items.append(f"{name!r}: None if (_v{index} := r[{index}]) is None else _c{index}(_v{index})")
        else:
            items.append(f"{name!r}: r[{index}]")
    display = "{" + ", ".join(items) + "}"
    source = (
        "def one(r):\n"
        "    if len(r) < _width:\n"
        "        return _short(r)\n"
        f"    return {display}\n"
        "def many(rows):\n"
        "    if rows and len(rows[0]) < _width:\n"
        "        return [_short(r) for r in rows]\n"
        f"    return [{display} for r in rows]\n"
    )
    exec(compile(source, f"<dataflow records of {', '.join(fields)[:60]}>", "exec"), namespace)
    return RecordMaker(namespace["one"], namespace["many"])
