"""Checks for the parameters nodes share, and the ``ParamSpec``s built from them.

Each check takes the node class and the value, raises the DF error that names the node and the
parameter, and returns the normalized value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import InvalidConflictTargetError, InvalidParameterError
from .._model import ModelSpec
from .._param_copy import RecordList
from .._types import check_value
from ._base import Node
from ._spec import OutputSpec, ParamSpec

__all__ = [
    "check_fields",
    "check_filter",
    "check_id",
    "conflict_target",
    "filter_param",
    "record_outputs",
]


def check_id(cls: type[Node], value: Any) -> Any:
    """``id``: not None, of the primary key's type."""
    if value is None:
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'id' is None.", context=cls.error_context(parameter="id")
        )
    return check_value(cls.model.primary_key.kind, value, field="id", model=cls.model.name)


def check_filter(cls: type[Node], value: Any) -> Mapping[str, Any]:
    """``filter``: a dict (``None`` means no filter). Its contents are checked when it is compiled."""
    if value is not None and type(value) is not dict and not isinstance(value, Mapping):
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'filter' must be a dict, got {type(value).__name__}.",
            context=cls.error_context(parameter="filter"),
        )
    return value or {}


def check_non_negative_int(key: str) -> Any:
    """A check for ``limit`` / ``offset``: None or an int >= 0."""

    def check(cls: type[Node], value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidParameterError(
                f"{cls.type_name} parameter {key!r} must be a non-negative int, got {value!r:.40}.",
                context=cls.error_context(parameter=key),
            )
        return value

    return check


def check_fields(cls: type[Node], value: Any, key: str = "fields") -> dict[str, Any]:
    """``fields`` (and upsert's ``update``): a non-empty dict of field values, never ``id``."""
    if (type(value) is not dict and not isinstance(value, Mapping)) or not value:
        raise InvalidParameterError(
            f"{cls.type_name} parameter {key!r} must be a non-empty dict of field values, got {value!r:.60}.",
            context=cls.error_context(parameter=key),
        )
    if "id" in value and key == "fields":
        raise InvalidParameterError(
            f"{cls.type_name} cannot change 'id'; create a new record instead.",
            context=cls.error_context(parameter="id"),
        )
    return cls.model.check_values(value, node=cls.type_name, where=key)


def check_records(cls: type[Node], value: Any) -> list[Mapping[str, Any]]:
    """``records``: a list of dicts (their values are checked by the node)."""
    if type(value) is RecordList:  # add_node's copy: dicts only, and it keeps its columns
        return value
    if not isinstance(value, (list, tuple)) or (
        not set(map(type, value)) <= {dict} and not all(isinstance(r, Mapping) for r in value)
    ):
        raise InvalidParameterError(
            f"{cls.type_name} needs 'records': a list of dicts, got {type(value).__name__}.",
            context=cls.error_context(parameter="records"),
        )
    return list(value)


def conflict_target(cls: type[Node], value: Any, default: Sequence[str]) -> list[str]:
    """``conflict_on``: the primary key or a declared unique field/constraint (DF-305 otherwise)."""
    target = list(default) if value is None else value
    if isinstance(target, str):
        target = [target]
    known: set[tuple[str, ...]] = cls.__dict__.get("_conflict_targets") or set()
    plain = type(target) is list and set(map(type, target)) == {str}
    if plain and tuple(target) in known:  # checked before: a unique target of the model
        return list(target)
    if not isinstance(target, (list, tuple)) or not target or not all(isinstance(t, str) for t in target):
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'conflict_on' must be a non-empty list of field names, got {value!r:.60}.",
            context=cls.error_context(parameter="conflict_on"),
        )
    for name in target:
        cls.model.get_field(name, node=cls.type_name, where="conflict_on")
    if not any(set(group) == set(target) for group in cls.model.unique_targets()):
        uniques = ", ".join("(" + ", ".join(g) + ")" for g in cls.model.unique_targets())
        raise InvalidConflictTargetError(
            f"{cls.type_name}: conflict_on={list(target)!r} is not the primary key or a unique field/constraint of "
            f"model {cls.model.name}. Unique targets: {uniques}.",
            context=cls.error_context(parameter="conflict_on"),
        )
    if plain:
        known.add(tuple(target))
        cls._conflict_targets = known  # type: ignore[attr-defined]
    return list(target)


def check_field_names(cls: type[Node], value: Any) -> list[str] | None:
    """``update_fields``: None or a list of the model's field names."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(f, str) for f in value):
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'update_fields' must be a list of field names.",
            context=cls.error_context(parameter="update_fields"),
        )
    for name in value:
        cls.model.get_field(name, node=cls.type_name, where="update_fields")
    if cls.model.managed and not cls.model.managed.isdisjoint(value):
        cls.model.refuse_managed(value, node=cls.type_name, where="update_fields")
    return list(value)


# --- shared ParamSpecs and OutputSpecs ---------------------------------------------------------


def id_param(model: ModelSpec, *, required: bool) -> ParamSpec:
    """``id``: the primary key of the record."""
    return ParamSpec(
        "id", "The primary key of the record.", required, field_type=model.primary_key.kind, check=check_id
    )


def filter_param(*, required: bool = False, what: str = "Which records") -> ParamSpec:
    """``filter`` (also spelled ``filters``)."""
    return ParamSpec(
        "filter",
        f"{what} to match: a Mongo-style filter dict (see the tour's Filters).",
        required,
        aliases=("filters",),
        check=check_filter,
    )


def fields_param(*, required: bool, aliases: tuple[str, ...] = ()) -> ParamSpec:
    """``fields``: the values to set (BulkUpdate also takes ``updates``, the seeds' spelling)."""
    return ParamSpec(
        "fields", "The field values to set (a dict; never 'id').", required, aliases=aliases, check=check_fields
    )


def records_param() -> ParamSpec:
    """``records`` (also spelled ``data``): the rows of a bulk node."""
    return ParamSpec(
        "records", "The records: a list of dicts of field values.", True, aliases=("data",), check=check_records
    )


def record_outputs(model: ModelSpec) -> tuple[OutputSpec, ...]:
    """The output of a node that returns one record: its fields."""
    return tuple(OutputSpec(f.name, f.kind, f"The record's {f.name}.") for f in model.fields.values())
