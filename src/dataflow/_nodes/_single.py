"""The single-record nodes: Create, Read, Update, Delete."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._dialects import Connection
from .._errors import InvalidParameterError, MultipleRecordsError, RecordNotFoundError
from .._model import ModelSpec
from .._query import Statement
from ._base import Node
from ._params import check_fields, fields_param, filter_param, id_param, record_outputs
from ._row_options import deleted_now, raise_stale_or_missing, restore_fields
from ._rows import row_plan
from ._spec import NodeSpec, ParamSpec

__all__ = ["CreateNode", "DeleteNode", "ReadNode", "UpdateNode"]


class CreateNode(Node):
    """Insert one record; output: the stored record."""

    operation = "create"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        params = tuple(
            ParamSpec(f.name, f"Field {f.name} ({f.kind}).", f.required, field_type=f.kind)
            for f in model.fields.values()
        )
        return NodeSpec(params, record_outputs(model), takes_fields=True)

    @classmethod
    def prepare(cls, params: Mapping[str, Any], connected: set[str] | frozenset[str] = frozenset()) -> Any:
        # Names, types and required fields only: default factories run when the node runs, not here.
        mapping = cls._mapping(params)
        if not connected:
            plan = row_plan(cls)
            values = plan.values(mapping)
            if values is None:
                values = cls.model.check_values(mapping, node=cls.type_name)
            if not plan.has_required(values):
                cls.model.check_required(values, node=cls.type_name)  # raises DF-101
            return values
        static = {k: v for k, v in mapping.items() if k not in connected}
        for name in connected:
            cls.model.get_field(name, node=cls.type_name)
        values = cls.model.check_values(static, node=cls.type_name)
        cls.model.check_required({**values, **{k: True for k in connected}}, node=cls.type_name)
        return values

    @classmethod
    def _mapping(cls, params: Any) -> Mapping[str, Any]:
        if type(params) is not dict and not isinstance(params, Mapping):
            raise InvalidParameterError(
                f"{cls.type_name} parameters must be a dict, got {type(params).__name__}.",
                context=cls.error_context(),
            )
        return params

    async def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cls = type(self)
        row = row_plan(cls).row(cls._mapping(params))
        if row is None:
            values = cls.model.check_values(params, node=cls.type_name)
            row = cls.model.complete_for_insert(values, node=cls.type_name)
        return await self._insert(row)

    async def run_prepared(self, prepared: Any) -> dict[str, Any]:
        # Checked at build(); only the defaults (factories included) are computed per run.
        return await self._insert(row_plan(type(self)).complete(prepared))

    async def _insert(self, row: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        sql, args = st.insert(row)
        if "id" not in row or not (sync := st.sync_identity()):
            rows = await cls.on_connection(lambda c: c.fetch(sql, args))
            return st.record(rows[0])

        async def op(c: Connection) -> list[Any]:
            rows = await c.fetch(sql, args)
            await c.fetch(sync)
            return rows

        return st.record((await cls.on_connection(op))[0])


class ReadNode(Node):
    """Fetch one record by id; DF-301 when it does not exist."""

    operation = "read"
    reads_only = True

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        return NodeSpec((id_param(model, required=True),), record_outputs(model))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        record_id = values["id"]
        st = cls.statements
        if "include_deleted" in values and values["include_deleted"]:
            sql, args = st.select_by_id(record_id, cls.type_name, include_deleted=True)
        else:
            sql, args = st.select_by_id(record_id, cls.type_name)
        rows = await cls.on_connection(lambda c: c.fetch(sql, args), (sql, args))
        if not rows:
            raise RecordNotFoundError(
                f"{cls.type_name} found no {cls.model.name} with id {record_id!r}.",
                context=cls.error_context(id=record_id),
            )
        return st.record(rows[0])


class _SingleWriteNode(Node):
    """Update/Delete of exactly one record (DF-301 for none, DF-304 for several)."""

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        super().check_static(values, connected)
        if not connected & {"id", "filter", "filters"}:
            cls._target(values)

    @classmethod
    def _target(cls, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """``id`` or ``filter``: exactly one of them."""
        flt: Mapping[str, Any] | None = values.get("filter")
        if "id" in values:
            if flt:
                raise InvalidParameterError(
                    f"{cls.type_name} takes 'id' or 'filter', not both.",
                    context=cls.error_context(parameter="id"),
                )
            return {"id": values["id"]}
        if not flt:
            raise InvalidParameterError(
                f"{cls.type_name} needs 'id' or a non-empty 'filter' to select the record.",
                context=cls.error_context(parameter="id"),
            )
        return flt

    async def _write_options(
        self,
        flt: Mapping[str, Any],
        build: Callable[[Mapping[str, Any]], Statement],
        include_deleted: bool,
        expected_version: int | None,
    ) -> dict[str, Any]:
        """:meth:`_write` of a model with row options: DF-310 when ``expected_version`` is stale."""
        if expected_version is None:
            return await self._write(flt, build, include_deleted)
        cls = type(self)
        try:
            return await self._write(flt, build, include_deleted)
        except RecordNotFoundError as error:
            await raise_stale_or_missing(
                cls,
                flt,
                expected_version,
                error,
                lambda sql, args: cls.on_connection(lambda c: c.fetch(sql, args)),
                include_deleted,
            )
            raise

    async def _write(
        self, flt: Mapping[str, Any], build: Callable[[Mapping[str, Any]], Statement], include_deleted: bool = False
    ) -> dict[str, Any]:
        cls = type(self)
        st = cls.statements
        if set(flt) == {"id"} and not isinstance(flt["id"], Mapping):
            sql, args = build(flt)
            rows = await cls.on_connection(lambda c: c.fetch(sql, args))
        else:
            id_sql, id_args = st.select_ids(flt, 2, cls.type_name, include_deleted=include_deleted)
            context = cls.execution_context()
            async with context.transaction():
                await cls.ensure_table()
                cls.wrote()
                async with context.connection() as c:
                    ids = await c.fetch(id_sql, id_args)
                if len(ids) > 1:
                    raise MultipleRecordsError(
                        f"{cls.type_name} filter {dict(flt)!r:.120} matched more than one {cls.model.name}; "
                        f"it changes exactly one.",
                        context=cls.error_context(),
                    )
                rows = []
                if ids:
                    sql, args = build({"id": ids[0][0]})
                    async with context.connection() as c:
                        rows = await c.fetch(sql, args)
        if not rows:
            raise RecordNotFoundError(
                f"{cls.type_name} found no {cls.model.name} matching {dict(flt)!r:.120}.",
                context=cls.error_context(),
            )
        return st.record(rows[0])


class UpdateNode(_SingleWriteNode):
    """Change exactly one record (by ``id`` or ``filter``); output: the updated record."""

    operation = "update"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        params = (
            id_param(model, required=False),
            filter_param(what="The one record"),
            fields_param(required=True),
        )
        return NodeSpec(params, record_outputs(model))

    @classmethod
    def missing(cls, name: str) -> None:
        check_fields(cls, None)

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        super().check_static(values, connected)
        if "fields" not in values and not values.get("restore") and not connected & {"fields", "restore"}:
            check_fields(cls, None)  # a soft delete model's Update needs fields or restore=True

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        flt = cls._target(values)
        st = cls.statements
        if not cls.model.managed:
            fields = values["fields"]
            return await self._write(flt, lambda f: st.update(f, fields, node=cls.type_name, returning=True))
        restore = values.get("restore", False)
        fields = values.get("fields") or (restore_fields() if restore else check_fields(cls, None))
        if restore:
            fields = {**fields, **restore_fields()}
        version = values.get("expected_version")
        return await self._write_options(
            flt,
            lambda f: st.update(
                f, fields, node=cls.type_name, returning=True, include_deleted=restore, version=version
            ),
            restore,
            version,
        )


class DeleteNode(_SingleWriteNode):
    """Delete exactly one record (by ``id`` or ``filter``); output: the deleted record."""

    operation = "delete"

    @classmethod
    def describe(cls, model: ModelSpec) -> NodeSpec:
        return NodeSpec((id_param(model, required=False), filter_param(what="The one record")), record_outputs(model))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        flt = cls._target(values)
        st = cls.statements
        if not cls.model.managed:
            return await self._write(flt, lambda f: st.delete(f, node=cls.type_name, returning=True))
        version = values.get("expected_version")
        if st.live and not values.get("hard"):  # soft delete: mark the live record
            fields = deleted_now()
            return await self._write_options(
                flt, lambda f: st.update(f, fields, node=cls.type_name, returning=True, version=version), False, version
            )
        hard = bool(st.live)  # hard=True removes a soft-deleted record too
        return await self._write_options(
            flt,
            lambda f: st.delete(f, node=cls.type_name, returning=True, include_deleted=hard, version=version),
            hard,
            version,
        )

