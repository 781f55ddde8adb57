"""What ``soft_delete=True`` and ``versioned=True`` add to a model's nodes.

The parameters (``include_deleted``, ``hard``, ``restore``, ``expected_version``) exist only on the
node types of models with the option, so nodes of other models keep their specs and their speed;
passing one to a model without the option is DF-416. The SQL side (the ``deleted_at IS NULL``
condition, the ``version`` increment) is in :class:`~dataflow._query.Statements`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .._errors import (
    DeletedRecordConflictError,
    InvalidParameterError,
    RecordNotFoundError,
    RowOptionNotEnabledError,
    StaleRecordError,
)
from .._model import DELETED_AT, VERSION, ModelSpec
from ._spec import NodeSpec, ParamSpec

__all__ = [
    "OPTION_PARAMS",
    "deleted_conflict",
    "refuse_deleted_keys",
    "deleted_now",
    "option_not_enabled",
    "raise_stale_or_missing",
    "restore_fields",
    "with_row_options",
]

#: parameter -> (the model option it needs, the operations that take it)
OPTION_PARAMS: dict[str, tuple[str, frozenset[str]]] = {
    "include_deleted": ("soft_delete", frozenset({"read", "list", "count"})),
    "hard": ("soft_delete", frozenset({"delete", "bulk_delete"})),
    "restore": ("soft_delete", frozenset({"update", "bulk_update"})),
    "expected_version": ("versioned", frozenset({"update", "delete"})),
}

_DESCRIPTIONS = {
    "include_deleted": "True: soft-deleted records count too (default False: they are invisible).",
    "hard": "True: remove the rows for good (GDPR erasure), deleted or not; default False: set deleted_at.",
    "restore": "True: clear deleted_at of the matching records (deleted ones included), with any fields.",
    "expected_version": "The version the caller read: DF-310 when the record changed since.",
}


def _check_flag(key: str) -> Callable[[Any, Any], bool]:
    def check(cls: Any, value: Any) -> bool:
        if value is None:
            return False
        if type(value) is not bool:
            raise InvalidParameterError(
                f"{cls.type_name} parameter {key!r} must be True or False, got {value!r:.40}.",
                context=cls.error_context(parameter=key),
            )
        return value

    return check


def _check_version(cls: Any, value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'expected_version' must be the record's version (an int >= 1) as "
            f"read, got {value!r:.40}.",
            context=cls.error_context(parameter="expected_version"),
        )
    return value


def _param(name: str) -> ParamSpec:
    check = _check_version if name == "expected_version" else _check_flag(name)
    return ParamSpec(name, _DESCRIPTIONS[name], check=check)


def with_row_options(spec: NodeSpec, model: ModelSpec, operation: str) -> NodeSpec:
    """``spec`` with the parameters the model's options give ``operation`` (``spec`` itself for none)."""
    if not model.managed:
        return spec
    params = [p for p in spec.params if not (spec.takes_fields and p.name in model.managed)]
    if model.soft_delete and operation in ("update", "bulk_update"):  # a restore needs no fields
        params = [replace(p, required=False) if p.name == "fields" else p for p in params]
    for name, (option, operations) in OPTION_PARAMS.items():
        if operation in operations and getattr(model, option):
            params.append(_param(name))
    return NodeSpec(tuple(params), spec.outputs, spec.takes_fields)


def option_not_enabled(cls: Any, key: Any) -> None:
    """Raise DF-416 when ``key`` is an option parameter this operation takes with the model option."""
    entry = OPTION_PARAMS.get(key) if isinstance(key, str) else None
    if entry is None or cls.operation not in entry[1]:
        return
    option = entry[0]
    raise RowOptionNotEnabledError(
        f"{cls.type_name} got {key!r}, which only models declared with @db.model({option}=True) take; "
        f"model {cls.model.name} is declared without it.",
        context=cls.error_context(parameter=key, option=option),
    )


def deleted_conflict(cls: Any, keys: list[dict[str, Any]]) -> DeletedRecordConflictError:
    """DF-311 for an upsert whose key belongs to a soft-deleted record."""
    key = keys[0]
    return DeletedRecordConflictError(
        f"{cls.type_name}: the {cls.model.name} with {key!r:.80} is soft-deleted, so an upsert neither updates "
        "it nor can insert another record with that primary key. Restore it first (an Update node with "
        "restore=True), or remove it for good (a Delete node with hard=True).",
        context=cls.error_context(id=key.get("id")),
    )


async def refuse_deleted_keys(
    cls: Any, connection: Any, rows: list[dict[str, Any]], conflict_on: list[str]
) -> None:
    """DF-311 when a bulk upsert on the primary key names a soft-deleted record (one query per 900 ids)."""
    st = cls.statements
    if not st.live or conflict_on != ["id"]:
        return  # unique fields of a soft delete model are unique among live rows: no conflict with deleted ones
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), 900):
        flt = {"id": {"$in": ids[start : start + 900]}, DELETED_AT: {"$null": False}}
        sql, args = st.select_ids(flt, 1, cls.type_name, include_deleted=True)
        found = await connection.fetch(sql, args)
        if found:
            raise deleted_conflict(cls, [{"id": found[0][0]}])


def restore_fields() -> dict[str, Any]:
    """The ``fields`` of a restore: ``deleted_at`` cleared."""
    return {DELETED_AT: None}


def deleted_now() -> dict[str, datetime]:
    """The ``fields`` of a soft delete: ``deleted_at`` set to now (UTC)."""
    return {DELETED_AT: datetime.now(UTC)}


async def raise_stale_or_missing(
    cls: Any,
    flt: Mapping[str, Any],
    expected: int,
    error: RecordNotFoundError,
    fetch: Callable[[str, list[Any]], Awaitable[list[Any]]],
    include_deleted: bool = False,
) -> None:
    """After a write with ``expected_version`` matched nothing: DF-310 when the record exists at
    another version, else ``error`` (DF-301). ``fetch(sql, args)`` runs a query."""
    st = cls.statements
    sql, args = st.select(flt, limit=1, node=cls.type_name, include_deleted=include_deleted)
    rows = await fetch(sql, args)
    if not rows:
        raise error
    record = st.record(rows[0])
    current = record[VERSION]
    raise StaleRecordError(
        f"{cls.type_name}: {cls.model.name} {record['id']!r} is at version {current}, not the expected "
        f"version {expected}: it changed since it was read. Read it again and redo the change on the new "
        "values (or give up).",
        context=cls.error_context(id=record["id"], expected_version=expected, current_version=current),
    ) from None
