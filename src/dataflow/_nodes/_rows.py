"""Turning input records into rows: the fast path for plain values, defaults, grouping by columns."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from .._model import ModelSpec
from .._param_copy import RecordList, record_columns
from .._types import FieldType, check_value
from ._base import Node

if TYPE_CHECKING:
    from .._query import Statements

__all__ = [
    "ColumnRows",
    "PlainTable",
    "RowPlan",
    "checked_rows",
    "converted_columns",
    "db_values",
    "group_by_columns",
    "plain_table",
    "row_plan",
]

_INT_MIN, _INT_MAX = -(2**63), 2**63


_PLAIN_TYPES = {FieldType.STR: str, FieldType.INT: int, FieldType.BOOL: bool, FieldType.FLOAT: float}


class RowPlan:
    """The fast path of ``check_values`` + ``complete_for_insert`` for records of plain values.

    :meth:`row` returns exactly what the two calls return (same keys, order and values) when every
    value is a plain str/int/bool/float the full check would accept unchanged and no required field
    is missing; otherwise it returns None and the caller runs the full path, which raises the same
    errors as before. This keeps validation of bulk records and single creates cheap.
    """

    __slots__ = ("kinds", "types", "model", "required", "defaults", "size")

    def __init__(self, model: ModelSpec) -> None:
        self.model = model
        self.kinds = {name: spec.kind for name, spec in model.fields.items()}
        #: The one Python type a plain value of each field has (fields of other kinds are absent).
        self.types = {
            name: _PLAIN_TYPES[kind]
            for name, kind in self.kinds.items()
            if kind in _PLAIN_TYPES and name not in model.managed  # managed fields: the full check refuses them
        }
        self.required = tuple(spec.name for spec in model.fields.values() if spec.required)
        auto_id = model.auto_id
        self.defaults = tuple(spec for spec in model.fields.values() if not (spec.primary_key and auto_id))
        self.size = len(self.defaults)

    def values(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """``check_values(record)`` when every value is plain (then it is a copy of ``record``), else None."""
        types = self.types
        for name, value in record.items():
            t = type(value)
            if t is not types.get(name):  # also: an unknown or non-str name, a non-plain kind
                return None
            if t is str:
                if not value.isascii() or "\x00" in value:
                    return None
            elif t is int:
                if not _INT_MIN <= value < _INT_MAX:
                    return None
            elif t is float and not math.isfinite(value):
                return None
        return dict(record)

    def has_required(self, values: Mapping[str, Any]) -> bool:
        """Whether ``check_required(values)`` passes (every required field has a value)."""
        for name in self.required:
            if values.get(name) is None:
                return False
        return True

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        """``complete_for_insert(values)`` for checked values whose required fields are present.

        Returns ``values`` itself when there is nothing to add (the caller must not change it).
        """
        if len(values) == self.size and "id" not in values:
            return values
        return self.model.complete_for_insert(values)

    def row(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        row = self.values(record)
        if row is None:
            return None
        if len(row) < self.size or "id" in row:
            for name in self.required:
                if name not in row:
                    return None
            for spec in self.defaults:
                if spec.name not in row:
                    default = spec.default_value()
                    row[spec.name] = (
                        check_value(spec.kind, default, field=spec.name, model=self.model.name)
                        if default is not None
                        else None
                    )
        return row


def _plain_column(kind: FieldType, types: set[type], column: tuple[Any, ...]) -> bool:
    """Whether every value of a column (``types``: its values' types) is plain for ``kind`` (what
    ``check_value`` accepts and returns unchanged: ASCII str without NUL, 64-bit int, bool, finite
    float), by C-level passes over the column."""
    if kind is FieldType.STR:
        if types != {str}:
            return False
        text = "".join(column)
        return text.isascii() and "\x00" not in text
    if kind is FieldType.INT:
        return types == {int} and min(column) >= _INT_MIN and max(column) < _INT_MAX
    if kind is FieldType.BOOL:
        return types == {bool}
    if kind is FieldType.FLOAT:
        return types == {float} and all(map(math.isfinite, column))
    return False


class ColumnRows(Sequence[tuple[Any, ...]]):
    """Rows read across columns: what a driver's ``executemany`` or ``COPY`` iterates, built one
    row at a time as it goes instead of a list of tuples held up front."""

    __slots__ = ("columns", "size")

    def __init__(self, columns: Sequence[Sequence[Any]], size: int) -> None:
        self.columns = columns
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns, strict=True)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return list(itertools.islice(self, *index.indices(self.size)))
        return tuple(column[index] for column in self.columns)


class PlainTable:
    """Bulk records whose values are all plain, checked column by column: one column set.

    ``columns`` hold exactly what ``check_values`` returns for each record, one tuple per name of
    ``names`` (the records' keys, the same for every record). Defaults are not applied here.
    """

    __slots__ = ("names", "columns", "size", "missing")

    def __init__(
        self, names: tuple[str, ...], columns: list[tuple[Any, ...]], size: int, missing: tuple[Any, ...]
    ) -> None:
        self.names = names
        self.columns = columns
        self.size = size
        self.missing = missing  # FieldSpecs with a default that the records leave out

    def defaults(self, model: ModelSpec) -> tuple[Any, ...] | None:
        """The values of the missing fields, the same for every row (None: a default factory runs per row)."""
        if any(spec.default_factory is not None for spec in self.missing):
            return None
        defaults = [(spec, spec.default_value()) for spec in self.missing]
        return tuple(
            check_value(spec.kind, value, field=spec.name, model=model.name) if value is not None else None
            for spec, value in defaults
        )

    def complete(self, model: ModelSpec) -> tuple[tuple[str, ...], list[tuple[Any, ...]]] | None:
        """Names and columns with the defaults applied (None: a default factory needs the per-row path)."""
        if not self.missing:
            return self.names, self.columns
        extra = self.defaults(model)
        if extra is None:
            return None
        size = self.size
        return self.names + tuple(spec.name for spec in self.missing), self.columns + [(v,) * size for v in extra]


def plain_table(cls: type[Node], records: Sequence[Mapping[str, Any]]) -> PlainTable | None:
    """The records as a :class:`PlainTable` when every value is plain and every record has the same
    keys, no required field is missing and ``id`` is not given; else None (the caller takes the
    per-record path, which raises the errors). A :class:`RecordList` (what ``add_node`` copied)
    brings its columns; other lists are read column by column here."""
    if type(records) is RecordList:
        names, columns, types = records.names, records.columns, records.column_types
    else:
        if not records or set(map(type, records)) != {dict}:
            return None
        names = tuple(records[0])
        if not names or set(map(len, records)) != {len(names)}:
            return None
        found = record_columns(records, names)  # type: ignore[arg-type]
        if found is None:
            return None  # not the same keys
        columns, types = found, [set(map(type, column)) for column in found]
    if "id" in names or (cls.model.managed and not cls.model.managed.isdisjoint(names)):
        return None  # the per-record path handles explicit ids and refuses deleted_at / version (DF-417)
    plan = row_plan(cls)
    kinds = [plan.kinds.get(n) if type(n) is str else None for n in names]
    if None in kinds:
        return None
    for kind, column_types, column in zip(kinds, types, columns, strict=True):  # one column at a time
        if not _plain_column(kind, column_types, column):  # type: ignore[arg-type]
            return None
    given = set(names)
    if any(name not in given for name in plan.required):
        return None
    return PlainTable(names, columns, len(records), tuple(spec for spec in plan.defaults if spec.name not in given))


def converted_columns(st: Statements, names: tuple[str, ...], columns: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``columns`` with those that need a driver conversion converted (``columns`` itself when none do)."""
    converters = {i: convert for i, n in enumerate(names) if (convert := st.converter(n)) is not None}
    if not converters:
        return columns
    return [
        tuple(None if v is None else converters[i](v) for v in column) if i in converters else column
        for i, column in enumerate(columns)
    ]


def row_plan(cls: type[Node]) -> RowPlan:
    plan: RowPlan | None = cls.__dict__.get("_row_plan")
    if plan is None:
        plan = RowPlan(cls.model)
        cls._row_plan = plan  # type: ignore[attr-defined]
    return plan


def checked_rows(cls: type[Node], records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    plan = row_plan(cls)
    for index, record in enumerate(records):
        fast = plan.row(record)
        if fast is not None:
            rows.append(fast)
            continue
        try:
            values = cls.model.check_values(record, node=cls.type_name, where=f"records[{index}]")
            rows.append(cls.model.complete_for_insert(values, node=cls.type_name))
        except Exception as exc:
            if hasattr(exc, "add_context"):
                exc.add_context(record_index=index)
            raise
    return rows


def db_values(st: Statements, names: tuple[str, ...], group: list[dict[str, Any]]) -> list[list[Any]]:
    """``[[st.to_db(n, r[n]) for n in names] for r in group]``, converting only the columns that need it.

    Every row of ``group`` has exactly the keys ``names``, in that order (see ``group_by_columns``).
    """
    converters = [(i, convert) for i, n in enumerate(names) if (convert := st.converter(n)) is not None]
    if not converters:
        return [list(r.values()) for r in group]
    values = []
    for r in group:
        row = list(r.values())
        for i, convert in converters:
            if row[i] is not None:
                row[i] = convert(row[i])
        values.append(row)
    return values


def group_by_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups
