"""The eleven nodes generated for every model, and the registry that finds them by name.

A node validates its parameters before any SQL runs (unknown parameter: DF-105; unknown field:
DF-102; wrong type: DF-103; missing required field: DF-101) and raises typed errors on failure.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, ClassVar

from ._errors import (
    InvalidConflictTargetError,
    InvalidParameterError,
    MultipleRecordsError,
    PoolClosedError,
    RecordNotFoundError,
)
from ._model import ModelSpec
from ._types import FieldType, check_value

if TYPE_CHECKING:
    from ._dataflow import DataFlow
    from ._dialects import Connection

__all__ = ["OPERATIONS", "Node", "find_node_type", "register_nodes", "unregister_nodes"]

_FILTER = ("filter", "filters")


class Node:
    """A generated node. Subclasses set ``operation`` and ``params``; instances are stateless."""

    operation: ClassVar[str] = ""
    #: Accepted parameter names (``None``: the model's field names, for Create).
    params: ClassVar[tuple[str, ...] | None] = ()
    model: ClassVar[ModelSpec]
    type_name: ClassVar[str]
    _db_ref: ClassVar[weakref.ref[DataFlow]]

    @classmethod
    def db(cls) -> DataFlow:
        """The DataFlow instance this node type belongs to."""
        db = cls._db_ref()
        if db is None:  # a workflow built earlier outlived its DataFlow instance
            raise PoolClosedError(
                f"The DataFlow instance that generated {cls.type_name} no longer exists (it was garbage-collected); "
                "keep a reference to it for as long as its workflows run.",
                context={"node_type": cls.type_name},
            )
        return db

    # --- validation ---------------------------------------------------------------------------

    @classmethod
    def _context(cls, **extra: Any) -> dict[str, Any]:
        return {"model": cls.model.name, "node_type": cls.type_name, "operation": cls.operation, **extra}

    @classmethod
    def check_keys(cls, params: Mapping[str, Any]) -> None:
        """DF-105 for parameters this node does not take (or both ``filter`` and ``filters``)."""
        if not isinstance(params, Mapping):
            raise InvalidParameterError(
                f"{cls.type_name} parameters must be a dict, got {type(params).__name__}.",
                context=cls._context(),
            )
        accepted = cls.params
        if accepted is None:
            return  # field names, checked as fields (DF-102)
        unknown = [k for k in params if k not in accepted]
        if unknown:
            hint = get_close_matches(str(unknown[0]), accepted, n=1)
            raise InvalidParameterError(
                f"{cls.type_name} does not take parameter {unknown[0]!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f". It takes: {', '.join(accepted)}.",
                context=cls._context(parameter=unknown[0]),
            )
        if "filter" in params and "filters" in params:
            raise InvalidParameterError(
                f"{cls.type_name} got both 'filter' and 'filters'; they are the same parameter, pass one.",
                context=cls._context(parameter="filters"),
            )

    @classmethod
    def validate(cls, params: Mapping[str, Any], connected: set[str]) -> None:
        """Check static parameters when a workflow is built (connected ones are checked at run time)."""
        cls.check_keys(params)
        static = {k: v for k, v in params.items() if k not in connected}
        cls._validate_static(static, connected)

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        db = cls.db()
        statements = db._statements(cls.model)
        for key in _FILTER:
            if key in static:
                cls._filter({key: static[key]})  # DF-105 naming the parameter, as at run time
                statements.where(static[key], db._dialect.params(), cls.type_name)
        for key in ("limit", "offset"):
            if key in static:
                _non_negative_int(cls, key, static[key])
        if "fields" in static:
            _fields(cls, static["fields"])
        if "order_by" in static:
            statements.order_by(static["order_by"], cls.type_name)

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Execute with fully resolved parameters."""
        raise NotImplementedError  # every generated subclass overrides it

    # --- helpers ------------------------------------------------------------------------------

    @classmethod
    def _filter(cls, params: Mapping[str, Any], *, required: bool = False) -> Mapping[str, Any] | None:
        for key in _FILTER:
            if key in params:
                value = params[key]
                if value is not None and not isinstance(value, Mapping):
                    raise InvalidParameterError(
                        f"{cls.type_name} parameter {key!r} must be a dict, got {type(value).__name__}.",
                        context=cls._context(parameter=key),
                    )
                return value or {}
        if required:
            raise InvalidParameterError(
                f"{cls.type_name} needs a 'filter' (use {{}} to match every record).",
                context=cls._context(parameter="filter"),
            )
        return None

    @classmethod
    def _target(cls, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """``id`` or ``filter`` for single-record nodes."""
        flt = cls._filter(params)
        if "id" in params:
            if flt:
                raise InvalidParameterError(
                    f"{cls.type_name} takes 'id' or 'filter', not both.", context=cls._context(parameter="id")
                )
            return {"id": _id(cls, params["id"])}
        if not flt:
            raise InvalidParameterError(
                f"{cls.type_name} needs 'id' or a non-empty 'filter' to select the record.",
                context=cls._context(parameter="id"),
            )
        return flt


def _id(cls: type[Node], value: Any) -> Any:
    if value is None:
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'id' is None.", context=cls._context(parameter="id")
        )
    return check_value(cls.model.primary_key.kind, value, field="id", model=cls.model.name)


def _non_negative_int(cls: type[Node], key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"{cls.type_name} parameter {key!r} must be a non-negative int, got {value!r:.40}.",
            context=cls._context(parameter=key),
        )
    return value


def _fields(cls: type[Node], value: Any, key: str = "fields") -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidParameterError(
            f"{cls.type_name} parameter {key!r} must be a non-empty dict of field values, got {value!r:.60}.",
            context=cls._context(parameter=key),
        )
    if "id" in value and key == "fields":
        raise InvalidParameterError(
            f"{cls.type_name} cannot change 'id'; create a new record instead.",
            context=cls._context(parameter="id"),
        )
    return cls.model.check_values(value, node=cls.type_name, where=key)


def _records(cls: type[Node], params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = params.get("records")
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, Mapping) for r in records):
        raise InvalidParameterError(
            f"{cls.type_name} needs 'records': a list of dicts, got {type(records).__name__}.",
            context=cls._context(parameter="records"),
        )
    return list(records)


_INT_MIN, _INT_MAX = -(2**63), 2**63


def _plain(kind: FieldType, value: Any) -> bool:
    """True when ``check_value(kind, value)`` would accept ``value`` and return it unchanged."""
    t = type(value)
    if kind is FieldType.STR:
        return t is str and value.isascii() and "\x00" not in value
    if kind is FieldType.INT:
        return t is int and _INT_MIN <= value < _INT_MAX
    if kind is FieldType.BOOL:
        return t is bool
    if kind is FieldType.FLOAT:
        return t is float and math.isfinite(value)
    return False


class _RowPlan:
    """The fast path of ``check_values`` + ``complete_for_insert`` for records of plain values.

    :meth:`row` returns exactly what the two calls return (same keys, order and values) when every
    value is a plain str/int/bool/float the full check would accept unchanged and no required field
    is missing; otherwise it returns None and the caller runs the full path, which raises the same
    errors as before. This keeps validation of bulk records and single creates cheap.
    """

    __slots__ = ("kinds", "model", "required", "defaults", "size")

    def __init__(self, model: ModelSpec) -> None:
        self.model = model
        self.kinds = {name: spec.kind for name, spec in model.fields.items()}
        self.required = tuple(spec.name for spec in model.fields.values() if spec.required)
        auto_id = model.auto_id
        self.defaults = tuple(spec for spec in model.fields.values() if not (spec.primary_key and auto_id))
        self.size = len(self.defaults)

    def row(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        kinds = self.kinds
        for name, value in record.items():
            kind = kinds.get(name) if type(name) is str else None
            if kind is None or not _plain(kind, value):
                return None
        row = dict(record)
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


def _plan(cls: type[Node]) -> _RowPlan:
    plan: _RowPlan | None = cls.__dict__.get("_row_plan")
    if plan is None:
        plan = _RowPlan(cls.model)
        cls._row_plan = plan  # type: ignore[attr-defined]
    return plan


def _rows(cls: type[Node], records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    plan = _plan(cls)
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


def _db_values(st: Any, names: tuple[str, ...], group: list[dict[str, Any]]) -> list[list[Any]]:
    """``[[st.to_db(n, r[n]) for n in names] for r in group]``, converting only the columns that need it.

    Every row of ``group`` has exactly the keys ``names``, in that order (see ``_group_by_columns``).
    """
    converters = [(i, st._to_db[n]) for i, n in enumerate(names) if n in st._to_db]
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


def _copy(
    table: str, names: Sequence[str], values: list[list[Any]]
) -> Callable[[Connection], Awaitable[bool]]:
    async def copy(connection: Connection) -> bool:
        return await connection.copy_records(table, names, values)

    return copy


def _executemany(sql: str, values: list[list[Any]]) -> Callable[[Connection], Awaitable[None]]:
    async def run(connection: Connection) -> None:
        await connection.executemany(sql, values)

    return run


def _group_by_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups


def _conflict_target(cls: type[Node], value: Any, default: Sequence[str]) -> list[str]:
    target = list(default) if value is None else value
    if isinstance(target, str):
        target = [target]
    if not isinstance(target, (list, tuple)) or not target or not all(isinstance(t, str) for t in target):
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'conflict_on' must be a non-empty list of field names, got {value!r:.60}.",
            context=cls._context(parameter="conflict_on"),
        )
    for name in target:
        cls.model.get_field(name, node=cls.type_name, where="conflict_on")
    if not any(set(group) == set(target) for group in cls.model.unique_targets()):
        uniques = ", ".join("(" + ", ".join(g) + ")" for g in cls.model.unique_targets())
        raise InvalidConflictTargetError(
            f"{cls.type_name}: conflict_on={list(target)!r} is not the primary key or a unique field/constraint of "
            f"model {cls.model.name}. Unique targets: {uniques}.",
            context=cls._context(parameter="conflict_on"),
        )
    return list(target)


# --- the eleven operations ----------------------------------------------------------------------


class CreateNode(Node):
    operation = "create"
    params = None

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        # Names, types and required fields only: default factories run when the node runs, not here.
        values = cls.model.check_values(static, node=cls.type_name)
        cls.model.check_required({**values, **{k: True for k in connected}}, node=cls.type_name)

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        row = _plan(cls).row(params)
        if row is None:
            values = cls.model.check_values(params, node=cls.type_name)
            row = cls.model.complete_for_insert(values, node=cls.type_name)
        st = db._statements(cls.model)
        sql, args = st.insert(row)
        sync = st.sync_identity() if "id" in row else None

        async def op(c: Connection) -> list[Any]:
            rows = await c.fetch(sql, args)
            if sync:
                await c.fetch(sync)
            return rows

        return st.record((await db._run(cls.model, op))[0])


class ReadNode(Node):
    operation = "read"
    params = ("id",)

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        if "id" in static:
            _id(cls, static["id"])
        elif "id" not in connected:
            raise InvalidParameterError(f"{cls.type_name} needs 'id'.", context=cls._context(parameter="id"))

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        if "id" not in params:
            raise InvalidParameterError(f"{cls.type_name} needs 'id'.", context=cls._context(parameter="id"))
        record_id = _id(cls, params["id"])
        st = db._statements(cls.model)
        sql, args = st.select({"id": record_id}, limit=1, node=cls.type_name)
        rows = await db._run(cls.model, lambda c: c.fetch(sql, args))
        if not rows:
            raise RecordNotFoundError(
                f"{cls.type_name} found no {cls.model.name} with id {record_id!r}.",
                context=cls._context(id=record_id),
            )
        return st.record(rows[0])


class _SingleWriteNode(Node):
    """Update/Delete of exactly one record (DF-301 for none, DF-304 for several)."""

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        super()._validate_static(static, connected)
        if "id" in static:
            _id(cls, static["id"])

    async def _write(self, flt: Mapping[str, Any], build: Any) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        st = db._statements(cls.model)
        if set(flt) == {"id"} and not isinstance(flt["id"], Mapping):
            sql, args = build(flt)
            rows = await db._run(cls.model, lambda c: c.fetch(sql, args))
        else:
            id_sql, id_args = st.select_ids(flt, 2, cls.type_name)
            async with db.transaction() as tx:
                await db._ensure_table(cls.model)
                ids = await tx.run(lambda c: c.fetch(id_sql, id_args))
                if len(ids) > 1:
                    raise MultipleRecordsError(
                        f"{cls.type_name} filter {dict(flt)!r:.120} matched more than one {cls.model.name}; "
                        f"it changes exactly one.",
                        context=cls._context(),
                    )
                rows = []
                if ids:
                    sql, args = build({"id": ids[0][0]})
                    rows = await tx.run(lambda c: c.fetch(sql, args))
        if not rows:
            raise RecordNotFoundError(
                f"{cls.type_name} found no {cls.model.name} matching {dict(flt)!r:.120}.",
                context=cls._context(),
            )
        return st.record(rows[0])


class UpdateNode(_SingleWriteNode):
    operation = "update"
    params = ("id", "filter", "filters", "fields")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        cls.check_keys(params)
        flt = cls._target(params)
        fields = _fields(cls, params.get("fields"))
        st = cls.db()._statements(cls.model)
        return await self._write(flt, lambda f: st.update(f, fields, node=cls.type_name, returning=True))


class DeleteNode(_SingleWriteNode):
    operation = "delete"
    params = ("id", "filter", "filters")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        cls.check_keys(params)
        flt = cls._target(params)
        st = cls.db()._statements(cls.model)
        return await self._write(flt, lambda f: st.delete(f, node=cls.type_name, returning=True))


class ListNode(Node):
    operation = "list"
    params = ("filter", "filters", "order_by", "limit", "offset")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        st = db._statements(cls.model)
        sql, args = st.select(
            cls._filter(params),
            order=params.get("order_by"),
            limit=_non_negative_int(cls, "limit", params.get("limit")),
            offset=_non_negative_int(cls, "offset", params.get("offset")),
            node=cls.type_name,
        )
        rows = await db._run(cls.model, lambda c: c.fetch(sql, args))
        records = [st.record(r) for r in rows]
        return {"records": records, "count": len(records)}


class CountNode(Node):
    operation = "count"
    params = ("filter", "filters")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        sql, args = db._statements(cls.model).count(cls._filter(params), cls.type_name)
        rows = await db._run(cls.model, lambda c: c.fetch(sql, args))
        return {"count": int(rows[0][0])}


class UpsertNode(Node):
    operation = "upsert"
    params = ("where", "conflict_on", "update", "create")

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        if not connected & {"where", "conflict_on", "create", "update"}:
            cls._prepare(static)

    @classmethod
    def _prepare(cls, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        where = params.get("where")
        if not isinstance(where, Mapping) or not where:
            raise InvalidParameterError(
                f"{cls.type_name} needs 'where': a non-empty dict of field values that identify the record.",
                context=cls._context(parameter="where"),
            )
        where_values = cls.model.check_values(where, node=cls.type_name, where="where")
        create = params.get("create") or {}
        if not isinstance(create, Mapping):
            raise InvalidParameterError(
                f"{cls.type_name} parameter 'create' must be a dict.",
                context=cls._context(parameter="create"),
            )
        create_values = cls.model.check_values(create, node=cls.type_name, where="create")
        for key, value in where_values.items():
            if key in create_values and create_values[key] != value:
                raise InvalidParameterError(
                    f"{cls.type_name}: 'where' has {key}={value!r:.40} but 'create' has {key}="
                    f"{create_values[key]!r:.40}; they must agree.",
                    context=cls._context(parameter="create", field=key),
                )
        update = params.get("update") or {}
        update_values = _fields(cls, update, "update") if update else {}
        conflict_on = _conflict_target(cls, params.get("conflict_on"), list(where_values))
        row = cls.model.complete_for_insert({**create_values, **where_values}, node=cls.type_name)
        for name in conflict_on:
            if row.get(name) is None:
                raise InvalidParameterError(
                    f"{cls.type_name}: conflict field {name!r} has no value in 'where' or 'create'.",
                    context=cls._context(parameter="conflict_on", field=name),
                )
        return row, conflict_on, update_values

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        row, conflict_on, update = cls._prepare(params)
        st = db._statements(cls.model)
        sql, args = st.upsert(row, conflict_on, update)
        sync = st.sync_identity() if "id" in row else None
        if db._dialect.upsert_inserted_column:

            async def upsert(c: Connection) -> list[Any]:
                rows = await c.fetch(sql, args)
                if sync:  # an explicit id: move the identity past it, as CreateNode does
                    await c.fetch(sync)
                return rows

            rows = await db._run(cls.model, upsert)
            created = bool(rows[0][-1])
        else:
            probe_sql, probe_args = st.select_ids({n: row[n] for n in conflict_on}, 1, cls.type_name)

            async def op(c: Connection) -> tuple[bool, list[Any]]:
                # One held connection: the probe and the upsert see the same state (and on SQLite
                # they run in one worker-thread hop).
                probe, upserted = await c.fetch_many([(probe_sql, probe_args), (sql, args)])
                return not probe, upserted

            created, rows = await db._run(cls.model, op)
        return {
            "created": created,
            "action": "created" if created else "updated",
            "record": st.record(rows[0]),
        }


class BulkCreateNode(Node):
    operation = "bulk_create"
    params = ("records",)

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        if "records" in static:
            _rows(cls, _records(cls, static))

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        rows = _rows(cls, _records(cls, params))
        if not rows:
            return {"created": 0}
        st = db._statements(cls.model)
        explicit_ids = cls.model.auto_id and any("id" in r for r in rows)
        async with db.transaction() as tx:
            await db._ensure_table(cls.model)
            for names, group in _group_by_columns(rows).items():
                values = _db_values(st, names, group)
                copied = await tx.run(_copy(cls.model.table, names, values))
                if not copied:
                    await tx.run(_executemany(st.insert_many(names), values))
            if explicit_ids and (sync := st.sync_identity()):
                await tx.run(lambda c: c.fetch(sync))
        return {"created": len(rows)}


class BulkUpdateNode(Node):
    operation = "bulk_update"
    params = ("filter", "filters", "fields")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        flt = cls._filter(params, required=True)
        fields = _fields(cls, params.get("fields"))
        sql, args = db._statements(cls.model).update(flt, fields, node=cls.type_name, returning=False)
        return {"updated": await db._run(cls.model, lambda c: c.execute(sql, args))}


class BulkDeleteNode(Node):
    operation = "bulk_delete"
    params = ("filter", "filters")

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        flt = cls._filter(params, required=True)
        sql, args = db._statements(cls.model).delete(flt, node=cls.type_name, returning=False)
        return {"deleted": await db._run(cls.model, lambda c: c.execute(sql, args))}


class BulkUpsertNode(Node):
    operation = "bulk_upsert"
    params = ("records", "conflict_on", "update_fields")

    @classmethod
    def _validate_static(cls, static: Mapping[str, Any], connected: set[str]) -> None:
        if "conflict_on" in static:
            _conflict_target(cls, static["conflict_on"], ["id"])
        if "records" in static:
            _rows(cls, _records(cls, static))

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        db = cls.db()
        cls.check_keys(params)
        conflict_on = _conflict_target(cls, params.get("conflict_on"), ["id"])
        update_fields = params.get("update_fields")
        if update_fields is not None:
            if not isinstance(update_fields, (list, tuple)) or not all(
                isinstance(f, str) for f in update_fields
            ):
                raise InvalidParameterError(
                    f"{cls.type_name} parameter 'update_fields' must be a list of field names.",
                    context=cls._context(parameter="update_fields"),
                )
            for name in update_fields:
                cls.model.get_field(name, node=cls.type_name, where="update_fields")
        records = _records(cls, params)
        rows = _rows(cls, records)
        if not rows:
            return {"upserted": 0}
        for row in rows:
            for name in conflict_on:
                if row.get(name) is None:
                    raise InvalidParameterError(
                        f"{cls.type_name}: every record needs a value for conflict field {name!r}.",
                        context=cls._context(parameter="records", field=name),
                    )
        st = db._statements(cls.model)
        async with db.transaction() as tx:
            await db._ensure_table(cls.model)
            # On conflict, only the fields the caller passed are updated (never the defaults).
            groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
            for record, row in zip(records, rows, strict=True):
                given = tuple(n for n in row if n in record and n not in conflict_on and n != "id")
                groups.setdefault((tuple(row), given), []).append(row)
            for (names, given), group in groups.items():
                fields = (
                    [f for f in update_fields if f in names] if update_fields is not None else list(given)
                )
                sql = st.upsert_many(names, conflict_on, fields)
                values = [[st.to_db(n, r[n]) for n in names] for r in group]
                await tx.run(_executemany(sql, values))
            if cls.model.auto_id and (sync := st.sync_identity()):
                await tx.run(lambda c: c.fetch(sync))
        return {"upserted": len(rows)}


OPERATIONS: dict[str, type[Node]] = {
    "Create": CreateNode,
    "Read": ReadNode,
    "Update": UpdateNode,
    "Delete": DeleteNode,
    "List": ListNode,
    "Count": CountNode,
    "Upsert": UpsertNode,
    "BulkCreate": BulkCreateNode,
    "BulkUpdate": BulkUpdateNode,
    "BulkDelete": BulkDeleteNode,
    "BulkUpsert": BulkUpsertNode,
}

# --- registry --------------------------------------------------------------------------------------

_registry: dict[str, list[weakref.ref[type[Node]]]] = {}
_registry_lock = threading.Lock()


def register_nodes(db: DataFlow, model: ModelSpec) -> dict[str, type[Node]]:
    """Generate the eleven node classes for ``model`` and register them by name (latest wins)."""
    created: dict[str, type[Node]] = {}
    db_ref = weakref.ref(db)
    for suffix, base in OPERATIONS.items():
        type_name = f"{model.name}{suffix}Node"
        node_cls = type(
            type_name,
            (base,),
            {
                "model": model,
                "type_name": type_name,
                "_db_ref": db_ref,
                "__doc__": f"{suffix} node for model {model.name} (generated).",
                "__module__": "dataflow.nodes",
            },
        )
        created[type_name] = node_cls
        with _registry_lock:
            entries = [r for r in _registry.get(type_name, []) if _alive(r)]
            entries.append(weakref.ref(node_cls))
            _registry[type_name] = entries
    return created


def unregister_nodes(node_types: Mapping[str, type[Node]]) -> None:
    """Remove a closed instance's node types from the registry."""
    with _registry_lock:
        for name, node_cls in node_types.items():
            entries = [r for r in _registry.get(name, []) if r() is not node_cls and _alive(r)]
            if entries:
                _registry[name] = entries
            else:
                _registry.pop(name, None)


def _alive(ref: weakref.ref[type[Node]]) -> bool:
    node_cls = ref()
    if node_cls is None:
        return False
    db = node_cls._db_ref()
    return db is not None and not db._closed


def find_node_type(name: str) -> type[Node] | None:
    """The most recently registered live node type called ``name``."""
    with _registry_lock:
        for ref in reversed(_registry.get(name, [])):
            if _alive(ref):
                return ref()
    return None


def known_node_types() -> list[str]:
    """Names of every live node type (for suggestions in DF-401)."""
    with _registry_lock:
        return [name for name, refs in _registry.items() if any(_alive(r) for r in refs)]
