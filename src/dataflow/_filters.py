"""MongoDB-style filters, validated against the model and compiled to a SQL ``WHERE`` expression.

Grammar::

    filter     := {key: clause, ...}                      (keys are ANDed)
    key        := field name | "$and" | "$or" | "$not"
    clause     := value                                   (equality; None means IS NULL)
                | {operator: value, ...}                  (operators are ANDed)
    "$and"/"$or" take a list of filters; "$not" takes a filter (top level) or operators (field level).

Every value is validated against the field's type and bound as a parameter; field names are checked
against the model and quoted. Nothing from a value ever becomes SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._dialects import Backend, Params, quote_ident
from ._errors import InvalidFilterError, UnknownOperatorError
from ._model import FieldSpec, ModelSpec
from ._types import FieldType, check_value

__all__ = ["FIELD_OPERATORS", "LOGICAL_OPERATORS", "FilterPlans", "compile_filter"]

FIELD_OPERATORS = (
    "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin",
    "$like", "$ilike", "$contains", "$startswith", "$endswith", "$null", "$not",
)  # fmt: skip
LOGICAL_OPERATORS = ("$and", "$or", "$not")
_COMPARISONS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_TEXT_ONLY = {"$like", "$ilike", "$contains", "$startswith", "$endswith"}
_MAX_DEPTH = 32
#: SQLite fails LIKE/GLOB patterns over 50,000 bytes ("pattern too complex"); $like becomes a GLOB
#: pattern up to 3 times longer. The same limit applies on both backends.
_MAX_PATTERN_BYTES = 16_000


_SCALARS = (str, int, float, bool, type(None))


class _Compiler:
    def __init__(self, model: ModelSpec, backend: Backend, params: Params, node: str | None) -> None:
        self.model = model
        self.backend = backend
        self.params = params
        self.node = node

    def _context(self, **extra: Any) -> dict[str, Any]:
        context: dict[str, Any] = {"model": self.model.name, **extra}
        if self.node:
            context["node"] = self.node
        return context

    def _bad(self, detail: str, **extra: Any) -> InvalidFilterError:
        return InvalidFilterError(detail, context=self._context(**extra))

    def filter(self, flt: Any, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise self._bad(f"Filter nesting is deeper than {_MAX_DEPTH} levels.")
        if not isinstance(flt, Mapping):
            raise self._bad(f"A filter must be a dict, got {type(flt).__name__} {flt!r:.60}.")
        parts = []
        for key, clause in flt.items():
            if not isinstance(key, str):
                raise self._bad(f"Filter keys must be field names or operators, got {key!r:.60}.")
            if key.startswith("$"):
                parts.append(self._logical(key, clause, depth))
            else:
                spec = self.model.get_field(key, node=self.node, where="filter")
                parts.append(self._field(spec, clause, depth))
        return " AND ".join(f"({p})" for p in parts) if len(parts) > 1 else (parts[0] if parts else "TRUE")

    def _logical(self, op: str, clause: Any, depth: int) -> str:
        if op in ("$and", "$or"):
            if not isinstance(clause, (list, tuple)) or not all(isinstance(c, Mapping) for c in clause):
                raise self._bad(f"{op} takes a list of filters, got {clause!r:.60}.", operator=op)
            if not clause:
                return "TRUE" if op == "$and" else "FALSE"
            joiner = " AND " if op == "$and" else " OR "
            return joiner.join(f"({self.filter(c, depth + 1)})" for c in clause)
        if op == "$not":
            return f"NOT COALESCE(({self.filter(clause, depth + 1)}), FALSE)"
        raise UnknownOperatorError(
            f"Unknown logical operator {op!r:.40} in filter. At the top level use {', '.join(LOGICAL_OPERATORS)}; "
            f"per field use {', '.join(FIELD_OPERATORS)}.",
            context=self._context(operator=op),
        )

    def _value(self, spec: FieldSpec, value: Any) -> Any:
        value = check_value(spec.kind, value, field=spec.name, model=self.model.name)
        convert = self.backend.to_db.get(spec.kind)
        return convert(value) if convert else value

    def _bind(self, spec: FieldSpec, value: Any) -> str:
        return self.backend.placeholder_value(spec.kind, self.params.add(self._value(spec, value)))

    def _field(self, spec: FieldSpec, clause: Any, depth: int) -> str:
        if isinstance(clause, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in clause):
            if not all(isinstance(k, str) and k.startswith("$") for k in clause):
                raise self._bad(
                    f"Filter on '{spec.name}' mixes operators and plain keys: {list(clause)!r:.80}.",
                    field=spec.name,
                )
            if not clause:
                return "TRUE"
            parts = [self._operator(spec, op, value, depth) for op, value in clause.items()]
            return " AND ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]
        return self._operator(spec, "$eq", clause, depth)

    def _operator(self, spec: FieldSpec, op: str, value: Any, depth: int) -> str:
        column = quote_ident(spec.name)
        if spec.kind is FieldType.JSON and op == "$contains" and spec.python_type is list:
            return self._list_contains(spec, column, value)
        if spec.kind is FieldType.JSON and op not in ("$null", "$not"):
            also = " (and $contains on list fields)" if spec.python_type is list else ""
            raise self._bad(
                f"Field '{spec.name}' holds JSON; filter it with $null{also} only (got {op}).",
                field=spec.name,
                operator=op,
            )
        if op in _TEXT_ONLY and spec.kind is not FieldType.STR:
            raise self._bad(
                f"{op} works on str fields; '{spec.name}' is {spec.kind.value}.", field=spec.name, operator=op
            )
        comparable = self.backend.comparable(column, spec.kind)
        if op == "$eq":
            if value is None:
                return f"{column} IS NULL"
            return f"{comparable} = {self._bind(spec, value)}"
        if op == "$ne":
            if value is None:
                return f"{column} IS NOT NULL"
            return f"{column} IS NULL OR {comparable} <> {self._bind(spec, value)}"
        if op in _COMPARISONS:
            if value is None:
                raise self._bad(
                    f"{op} on '{spec.name}' needs a value, not None.", field=spec.name, operator=op
                )
            return f"{comparable} {_COMPARISONS[op]} {self._bind(spec, value)}"
        if op in ("$in", "$nin"):
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise self._bad(
                    f"{op} on '{spec.name}' takes a list, got {value!r:.60}.", field=spec.name, operator=op
                )
            items = list(value)
            has_null = any(v is None for v in items)
            binds = [self._bind(spec, v) for v in items if v is not None]
            matches = f"{comparable} IN ({', '.join(binds)})" if binds else "FALSE"
            if has_null:
                matches = f"{matches} OR {column} IS NULL"
            if op == "$in":
                return matches
            return f"NOT COALESCE(({matches}), FALSE)"
        if op in ("$like", "$ilike"):
            pattern = self._text(spec, op, value)
            if pattern.endswith("\\") and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
                raise self._bad(
                    f"{op} pattern for '{spec.name}' ends with an escape character '\\'.",
                    field=spec.name,
                    operator=op,
                )
            if len(pattern.encode("utf-8")) > _MAX_PATTERN_BYTES:
                raise self._bad(
                    f"{op} pattern for '{spec.name}' is longer than {_MAX_PATTERN_BYTES} bytes (SQLite's "
                    "limit, enforced on both backends). Use $contains/$startswith/$endswith for long literal text.",
                    field=spec.name,
                    operator=op,
                )
            case_sensitive = op == "$like"
            bound = self.params.add(self.backend.like_param(pattern, case_sensitive=case_sensitive))
            return self.backend.like(column, bound, case_sensitive=case_sensitive)
        if op in ("$contains", "$startswith", "$endswith"):
            text = self._text(spec, op, value)
            if not text:
                return f"{column} IS NOT NULL"
            return self.backend.literal_condition(
                column,
                text,
                prefix=op in ("$contains", "$endswith"),
                suffix=op in ("$contains", "$startswith"),
                params=self.params,
            )
        if op == "$null":
            if not isinstance(value, bool):
                raise self._bad(
                    f"$null on '{spec.name}' takes True or False, got {value!r:.60}.", field=spec.name
                )
            return f"{column} IS NULL" if value else f"{column} IS NOT NULL"
        if op == "$not":
            if not isinstance(value, Mapping):
                raise self._bad(
                    f"$not on '{spec.name}' takes operators such as {{'$gt': 5}}, got {value!r:.60}.",
                    field=spec.name,
                )
            if depth > _MAX_DEPTH:
                raise self._bad(f"Filter nesting is deeper than {_MAX_DEPTH} levels.")
            return f"NOT COALESCE(({self._field(spec, value, depth + 1)}), FALSE)"
        raise UnknownOperatorError(
            f"Unknown operator {op!r:.40} on field '{spec.name}'. Supported: {', '.join(FIELD_OPERATORS)}.",
            context=self._context(field=spec.name, operator=op),
        )

    def _list_contains(self, spec: FieldSpec, column: str, value: Any) -> str:
        """``$contains`` on a list field: the stored list holds every one of these elements."""
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, _SCALARS) for v in value):
            raise self._bad(
                f"$contains on list field '{spec.name}' takes a list of str, int, float, bool or None elements, "
                f"got {value!r:.60}.",
                field=spec.name,
                operator="$contains",
            )
        elements = []
        for element in value:
            if isinstance(element, bool) or element is None:
                elements.append(element)
            elif isinstance(element, str):
                elements.append(check_value(FieldType.STR, element, field=spec.name, model=self.model.name))
            elif isinstance(element, int):
                elements.append(check_value(FieldType.INT, element, field=spec.name, model=self.model.name))
            else:
                elements.append(check_value(FieldType.FLOAT, element, field=spec.name, model=self.model.name))
        if not elements:
            return f"{column} IS NOT NULL"
        return self.backend.list_contains(column, elements, self.params)

    def _text(self, spec: FieldSpec, op: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self._bad(
                f"{op} on '{spec.name}' takes a str, got {value!r:.60}.", field=spec.name, operator=op
            )
        checked: str = check_value(FieldType.STR, value, field=spec.name, model=self.model.name)
        return checked


def compile_filter(
    flt: Mapping[str, Any] | None,
    model: ModelSpec,
    backend: Backend,
    params: Params,
    *,
    node: str | None = None,
) -> str:
    """Validate ``flt`` and return a SQL boolean expression (``"TRUE"`` for an empty filter).

    Raises:
        UnknownFieldError: DF-102.
        UnknownOperatorError: DF-201.
        InvalidFilterError: DF-202.
        TypeMismatchError: DF-103.
    """
    if flt is None:
        return "TRUE"
    return _Compiler(model, backend, params, node).filter(flt)


#: Operators whose SQL depends only on the field and the value's type (never on the value itself).
_PLAN_OPERATORS = frozenset({"$eq", "$ne", "$lt", "$lte", "$gt", "$gte"})
_PLAN_TYPES = frozenset({str, int, float, bool})
_MAX_PLANS = 512


class FilterPlans:
    """Compiled filters remembered by shape, so a filter seen before is not compiled again.

    A shape is the parameter position the filter starts at and its ``(field, operator, type of
    the value)`` triples, for flat filters of non-None ``str``/``int``/``float``/``bool`` values with
    ``$eq``, ``$ne``, ``$lt``, ``$lte``, ``$gt``, ``$gte`` (or a plain value): their SQL does not
    depend on the values. The first filter of a shape is compiled by :func:`compile_filter` (so
    every error is raised as before and nothing is remembered for an invalid filter); later ones
    reuse its SQL, and each value is still validated and converted for the driver exactly as the
    compiler does. Any other filter is compiled every time.
    """

    __slots__ = ("backend", "model", "_plans")

    def __init__(self, model: ModelSpec, backend: Backend) -> None:
        self.model = model
        self.backend = backend
        self._plans: dict[tuple[Any, ...], tuple[str, tuple[FieldSpec, ...]]] = {}

    def compile(self, flt: Mapping[str, Any], params: Params, node: str | None) -> str:
        """What ``compile_filter(flt, model, backend, params, node=node)`` returns."""
        shape = _shape(flt, len(params.values))
        if shape is None:
            return compile_filter(flt, self.model, self.backend, params, node=node)
        key, values = shape
        plan = self._plans.get(key)
        if plan is None:
            sql = compile_filter(flt, self.model, self.backend, params, node=node)
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[key] = (sql, tuple(self.model.fields[name] for name, _, _ in key[1]))
            return sql
        sql, specs = plan
        to_db, model, bound = self.backend.to_db, self.model.name, params.values
        for spec, value in zip(specs, values, strict=True):
            value = check_value(spec.kind, value, field=spec.name, model=model)
            convert = to_db.get(spec.kind)
            bound.append(convert(value) if convert else value)
        return sql


def _shape(flt: Any, start: int) -> tuple[tuple[Any, ...], list[Any]] | None:
    """``((start, triples), values)`` for a filter :class:`FilterPlans` can remember, else None."""
    if type(flt) is not dict:
        return None
    triples: list[tuple[str, str, type]] = []
    values: list[Any] = []
    for name, clause in flt.items():
        if type(name) is not str or name.startswith("$"):
            return None
        kind = type(clause)
        if kind in _PLAN_TYPES:
            triples.append((name, "$eq", kind))
            values.append(clause)
        elif kind is dict and clause:
            for op, value in clause.items():
                if op not in _PLAN_OPERATORS or type(value) not in _PLAN_TYPES:
                    return None
                triples.append((name, op, type(value)))
                values.append(value)
        else:
            return None
    return (start, tuple(triples)), values
