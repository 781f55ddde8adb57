"""The upsert nodes: Upsert (one record, reports created vs updated) and BulkUpsert.

Both are one ``INSERT ... ON CONFLICT`` per statement; the conflict target must be the primary key
or a declared unique field or constraint (DF-305).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._dialects import Connection
from .._errors import InvalidParameterError
from .._model import ModelSpec
from .._types import FieldType
from ._base import Node
from ._bulk import needs_records
from ._params import check_field_names, check_fields, conflict_target, records_param
from ._row_options import deleted_conflict, refuse_deleted_keys
from ._rows import checked_rows, db_values, group_by_columns, row_plan
from ._spec import NodeSpec, OutputSpec, ParamSpec

__all__ = ["BulkUpsertNode", "UpsertNode"]

_PARAMETERS_PER_STATEMENT = 900
_ON_CONFLICT = ("update", "ignore")


def _check_on_conflict(cls: type[Node], value: Any) -> str:
    if value is None:
        return "update"
    if value not in _ON_CONFLICT:
        raise InvalidParameterError(
            f"{cls.type_name} parameter 'on_conflict' must be 'update' or 'ignore', got {value!r:.40}.",
            context=cls.error_context(parameter="on_conflict"),
        )
    return str(value)


def _check_dict(key: str) -> Any:
    def check(cls: type[Node], value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if type(value) is not dict and not isinstance(value, Mapping):  # a dict skips the ABC check
            raise InvalidParameterError(
                f"{cls.type_name} parameter {key!r} must be a dict.", context=cls.error_context(parameter=key)
            )
        return value

    return check


class UpsertNode(Node):
    """Insert a record, or update it when one with the same conflict key exists."""

    operation = "upsert"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        params = (
            ParamSpec("where", "Field values that identify the record (a non-empty dict).", True),
            ParamSpec("conflict_on", "The unique fields to match on (default: the keys of 'where')."),
            ParamSpec("update", "Field values to set when the record exists.", check=_check_dict("update")),
            ParamSpec("create", "Extra field values for a new record.", check=_check_dict("create")),
        )
        outputs = (
            OutputSpec("created", FieldType.BOOL, "True when the record was inserted."),
            OutputSpec("action", FieldType.STR, "'created' or 'updated'."),
            OutputSpec("record", None, "The stored record."),
        )
        return NodeSpec(params, outputs)

    @classmethod
    def missing(cls, name: str) -> None:
        cls._prepare({})

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if not connected & {"where", "conflict_on", "create", "update"}:
            cls._prepare(values)

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        if connected:
            return super().prepare(params, connected)
        # Everything but the defaults is checked once, here; run_prepared completes the row per run.
        merged, conflict_on, update = cls._checked(cls.checked(params))
        cls._complete(merged, conflict_on)
        return merged, conflict_on, update

    @classmethod
    def _checked(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        """The insert values before defaults, the conflict target and the update values, all checked."""
        where = values.get("where")
        if (type(where) is not dict and not isinstance(where, Mapping)) or not where:
            raise InvalidParameterError(
                f"{cls.type_name} needs 'where': a non-empty dict of field values that identify the record.",
                context=cls.error_context(parameter="where"),
            )
        model = cls.model
        plan = row_plan(cls)
        where_values = plan.values(where)
        if where_values is None:
            where_values = model.check_values(where, node=cls.type_name, where="where")
        create = values.get("create") or {}
        create_values = plan.values(create)
        if create_values is None:
            create_values = model.check_values(create, node=cls.type_name, where="create")
        for key, value in where_values.items():
            if key in create_values and create_values[key] != value:
                raise InvalidParameterError(
                    f"{cls.type_name}: 'where' has {key}={value!r:.40} but 'create' has {key}="
                    f"{create_values[key]!r:.40}; they must agree.",
                    context=cls.error_context(parameter="create", field=key),
                )
        update = values.get("update") or {}
        update_values = check_fields(cls, update, "update") if update else {}
        conflict_on = conflict_target(cls, values.get("conflict_on"), list(where_values))
        return {**create_values, **where_values}, conflict_on, update_values

    @classmethod
    def _given_whole(cls, merged: dict[str, Any]) -> bool:
        """Whether ``merged`` gives every field (no default to compute) and no id."""
        return len(merged) == row_plan(cls).size and "id" not in merged

    @classmethod
    def _complete(cls, merged: dict[str, Any], conflict_on: list[str]) -> dict[str, Any]:
        """The row to insert: ``merged`` with defaults (DF-101 for a missing required field)."""
        if cls._given_whole(merged):
            if not row_plan(cls).has_required(merged):
                cls.model.check_required(merged, node=cls.type_name)  # raises DF-101
            row = merged
        else:
            row = cls.model.complete_for_insert(merged, node=cls.type_name)
        for name in conflict_on:
            if row.get(name) is None:
                raise InvalidParameterError(
                    f"{cls.type_name}: conflict field {name!r} has no value in 'where' or 'create'.",
                    context=cls.error_context(parameter="conflict_on", field=name),
                )
        return row

    @classmethod
    def _prepare(cls, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
        merged, conflict_on, update_values = cls._checked(values)
        return cls._complete(merged, conflict_on), conflict_on, update_values

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        return await self._upsert(*type(self)._prepare(values))

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        merged, conflict_on, update = prepared
        cls = type(self)
        # Every field given: prepare() checked this very row. Otherwise defaults are computed per run.
        row = merged if cls._given_whole(merged) else cls._complete(merged, conflict_on)
        return await self._upsert(row, conflict_on, update)

    async def _upsert(self, row: dict[str, Any], conflict_on: list[str], update: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        upsert = st.upsert(row, conflict_on, update)
        backend = cls.execution_context().backend
        probe = st.upsert_probe(row, conflict_on, cls.type_name) if backend.upsert_inserted_column is None else None
        sync = st.sync_identity() if "id" in row else None

        async def op(c: Connection) -> tuple[bool, Any]:
            # One held connection: the probe (where the backend needs one) and the upsert see the
            # same state.
            return await backend.upsert(c, upsert, probe, sync)

        created, stored = await cls.on_connection(op)
        if not stored:  # the existing row with that key is soft-deleted
            raise deleted_conflict(cls, [{n: row[n] for n in conflict_on}])
        return {"created": created, "action": "created" if created else "updated", "record": st.record(stored)}


class BulkUpsertNode(Node):
    """Insert or update many records in one transaction; output: ``upserted``."""

    operation = "bulk_upsert"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        params = (
            records_param(),
            ParamSpec("conflict_on", "The unique fields to match on (default: ['id'])."),
            ParamSpec(
                "update_fields",
                "The fields to change on a conflict (default: the ones each record gives).",
                check=check_field_names,
            ),
            ParamSpec(
                "on_conflict",
                "'update' (default): change existing records; 'ignore': insert only the new ones.",
                check=_check_on_conflict,
            ),
        )
        outputs = (
            OutputSpec("upserted", FieldType.INT, "How many records were inserted or updated."),
            OutputSpec("skipped", FieldType.INT, "With on_conflict='ignore': records left alone (they existed)."),
        )
        return NodeSpec(params, outputs)

    @classmethod
    def missing(cls, name: str) -> None:
        needs_records(cls)

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if "conflict_on" in values:
            conflict_target(cls, values["conflict_on"], ["id"])
        if "records" in values:
            checked_rows(cls, values["records"])

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        conflict_on = conflict_target(cls, values.get("conflict_on"), ["id"])
        update_fields = values.get("update_fields")
        records = values["records"]
        rows = checked_rows(cls, records)
        if not rows:
            return {"upserted": 0}
        for row in rows:
            for name in conflict_on:
                if row.get(name) is None:
                    raise InvalidParameterError(
                        f"{cls.type_name}: every record needs a value for conflict field {name!r}.",
                        context=cls.error_context(parameter="records", field=name),
                    )
        st = cls.statements
        context = cls.execution_context()
        if values.get("on_conflict") == "ignore":
            if update_fields is not None:
                raise InvalidParameterError(
                    f"{cls.type_name}: 'update_fields' has no effect with on_conflict='ignore' (nothing is updated); "
                    "pass one of them.",
                    context=cls.error_context(parameter="update_fields"),
                )
            inserted = await self._insert_new(rows, conflict_on)
            return {"upserted": inserted, "skipped": len(rows) - inserted}
        async with context.transaction():
            await cls.ensure_table()
            cls.wrote()
            # On conflict, only the fields the caller passed are updated (never the defaults).
            groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
            for record, row in zip(records, rows, strict=True):
                given = tuple(n for n in row if n in record and n not in conflict_on and n != "id")
                groups.setdefault((tuple(row), given), []).append(row)
            async with context.connection() as c:
                if st.live:
                    await refuse_deleted_keys(cls, c, rows, conflict_on)
                for (names, given), group in groups.items():
                    fields = [f for f in update_fields if f in names] if update_fields is not None else list(given)
                    sql = st.upsert_many(names, conflict_on, fields)
                    await c.executemany(sql, [[st.to_db(n, r[n]) for n in names] for r in group])
                if cls.model.auto_id and (sync := st.sync_identity()):
                    await c.fetch(sync)
        return {"upserted": len(rows)}

    async def _insert_new(self, rows: list[dict[str, Any]], conflict_on: list[str]) -> int:
        """Insert the rows whose conflict key does not exist yet; return how many were inserted."""
        cls = type(self)
        st = cls.statements
        context = cls.execution_context()
        inserted = 0
        async with context.transaction():
            await cls.ensure_table()
            cls.wrote()
            async with context.connection() as c:
                if st.live:
                    await refuse_deleted_keys(cls, c, rows, conflict_on)
                for names, group in group_by_columns(rows).items():
                    # Bound parameters per statement stay well under both backends' limits.
                    size = max(1, _PARAMETERS_PER_STATEMENT // len(names))
                    for start in range(0, len(group), size):
                        chunk = group[start : start + size]
                        args = [v for row in db_values(st, names, chunk) for v in row]
                        inserted += len(await c.fetch(st.insert_ignoring(names, len(chunk), conflict_on), args))
                if cls.model.auto_id and (sync := st.sync_identity()):
                    await c.fetch(sync)
        return inserted
