"""SQL statements for models: DDL, insert, select, update, delete, upsert.

Statements always list their columns explicitly, so result rows map to fields by position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

from ._dialects import Backend, Params, TableDDL, quote_ident
from ._errors import InvalidParameterError
from ._filters import FilterPlans, compile_filter
from ._model import DELETED_AT, VERSION, ModelSpec
from ._row_records import record_maker
from ._schema import Table, model_table
from ._types import check_value

__all__ = ["Statement", "Statements"]

Statement = tuple[str, list[Any]]

_SCALARS = frozenset({str, int, float, bool})


class Statements:
    """The SQL for one model on one backend (built once per DataFlow instance and model)."""

    def __init__(self, model: ModelSpec, backend: Backend) -> None:
        self.model = model
        self.backend = backend
        self.table = quote_ident(model.table)
        self.names = list(model.fields)
        self.columns = ", ".join(quote_ident(n) for n in self.names)
        self._insert_sql: dict[tuple[str, ...], tuple[str, tuple[tuple[int, Callable[[Any], Any]], ...]]] = {}
        self._by_id_sql: str | None = None
        self._upsert_sql: dict[tuple[tuple[str, ...], ...], str] = {}
        self._probe_sql: dict[tuple[str, ...], str] = {}
        self._update_sql: dict[tuple[str, ...], str] = {}
        #: Soft delete: the condition of the rows reads and writes see (empty without the option).
        self.live = f"{quote_ident(DELETED_AT)} IS NULL" if model.soft_delete else ""
        #: Versioned rows: what every UPDATE also sets (empty without the option).
        self.bump = f", {quote_ident(VERSION)} = {self.table}.{quote_ident(VERSION)} + 1" if model.versioned else ""
        self._filters = FilterPlans(model, backend)
        self._to_db = {
            name: backend.to_db[spec.kind]
            for name, spec in model.fields.items()
            if spec.kind in backend.to_db
        }
        self._from_db: list[tuple[str, Callable[[Any], Any]]] = [
            (name, backend.from_db[spec.kind]) for name, spec in model.fields.items() if spec.kind in backend.from_db
        ]
        maker = record_maker(self.names, dict(self._from_db))
        #: A result row (columns in field order, extra columns after them) as a record dict.
        self.record: Callable[[Sequence[Any]], dict[str, Any]] = maker.one
        #: ``[self.record(r) for r in rows]``, without a call per row.
        self.records: Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]] = maker.many

    # --- values -------------------------------------------------------------------------------

    def to_db(self, name: str, value: Any) -> Any:
        """Convert a validated Python value to what the driver stores."""
        if value is None:
            return None
        convert = self._to_db.get(name)
        return convert(value) if convert else value

    def converter(self, name: str) -> Callable[[Any], Any] | None:
        """The function that converts field ``name``'s values for the driver (None: stored as is)."""
        return self._to_db.get(name)

    # --- DDL ------------------------------------------------------------------------------------

    #: Whether :meth:`create_table` depends on the spec and the backend alone, so the DDL is made
    #: once per spec and backend (``spec.derived``) for every instance that registers the spec.
    ddl_from_spec = True

    @cached_property
    def schema_table(self) -> Table:
        """The model's table, columns and indexes (no backend): what the DDL is made from."""
        derived = self.model.derived
        table: Table | None = derived.get(Table)
        return table if table is not None else derived.setdefault(Table, model_table(self.model))

    def table_ddl(self) -> TableDDL:
        """The table's CREATE statements (idempotent) with the names of what they create."""
        if not self.ddl_from_spec:
            return self._table_ddl()
        key = (TableDDL, self.backend.name)
        ddl: TableDDL | None = self.model.derived.get(key)
        return ddl if ddl is not None else self.model.derived.setdefault(key, self._table_ddl())

    def _table_ddl(self) -> TableDDL:
        table = self.schema_table
        index_names = tuple(i.name for i in table.indexes if i.name is not None and not i.constraint)
        columns = {spec.name: self.backend.column_types[spec.kind] for spec in self.model.fields.values()}
        return TableDDL(self.model.table, tuple(self.create_table()), (self.model.table, *index_names), columns)

    def create_table(self) -> list[str]:
        """CREATE TABLE / CREATE INDEX statements (idempotent), the same DDL migrations produce."""
        return self.backend.editor.create_table_sql(self.schema_table, if_not_exists=True)

    def drop_table(self) -> str:
        """DROP TABLE IF EXISTS."""
        return f"DROP TABLE IF EXISTS {self.table}"

    # --- statements -----------------------------------------------------------------------------

    def insert(self, row: Mapping[str, Any]) -> Statement:
        """INSERT one row, returning it (the SQL is built once per set of columns)."""
        names = tuple(row)
        plan = self._insert_sql.get(names)
        if plan is None:
            params = self.backend.params()
            placeholders = ", ".join(params.add(None) for _ in names)
            cols = ", ".join(quote_ident(n) for n in names)
            values = f"({cols}) VALUES ({placeholders})" if names else "DEFAULT VALUES"
            converters = tuple((i, c) for i, n in enumerate(names) if (c := self._to_db.get(n)) is not None)
            plan = self._insert_sql[names] = (f"INSERT INTO {self.table} {values} RETURNING {self.columns}", converters)
        sql, converters = plan
        args = list(row.values())
        for index, convert in converters:
            if args[index] is not None:
                args[index] = convert(args[index])
        return sql, args

    def select_by_id(self, record_id: Any, node: str | None, *, include_deleted: bool = False) -> Statement:
        """``select({"id": record_id}, limit=1)``, its SQL built once (``record_id``: a checked id)."""
        if include_deleted and self.live:
            return self.select({"id": record_id}, limit=1, node=node, include_deleted=True)
        sql = self._by_id_sql
        if sql is None:
            sql, args = self.select({"id": record_id}, limit=1, node=node)
            self._by_id_sql = sql
            return sql, args
        return sql, [self.to_db("id", record_id), 1]

    def insert_many(self, names: Sequence[str]) -> str:
        """INSERT for executemany, without RETURNING."""
        params = self.backend.params()
        placeholders = ", ".join(params.add(None) for _ in names)
        return (
            f"INSERT INTO {self.table} ({', '.join(quote_ident(n) for n in names)}) VALUES ({placeholders})"
        )

    def where(
        self,
        flt: Mapping[str, Any] | None,
        params: Params,
        node: str | None,
        *,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> str:
        """`` WHERE ...`` for a filter (empty for no filter); soft-deleted rows left out unless
        ``include_deleted``; ``version``: only the row still at that version."""
        if not flt:
            if flt is not None and not isinstance(flt, Mapping):
                compile_filter(flt, self.model, self.backend, params, node=node)  # raises DF-202
            clause = ""
        else:
            clause = f"({self._filters.compile(flt, params, node)})"
        if self.live and not include_deleted:
            clause += f" AND {self.live}" if clause else self.live
        if version is not None:
            check = f"{quote_ident(VERSION)} = {params.add(version)}"
            clause += f" AND {check}" if clause else check
        return f" WHERE {clause}" if clause else ""

    def check_filter(self, flt: Mapping[str, Any], node: str | None) -> None:
        """Compile ``flt`` only to validate it (DF-102, DF-103, DF-201, DF-202)."""
        self.where(flt, self.backend.params(), node)

    def order_by(self, order: Any, node: str | None) -> str:
        """`` ORDER BY ...``; always ends with the primary key, so results are identical on both backends."""
        if order is None:
            items: list[str] = []
        elif isinstance(order, str):
            items = [order]
        elif isinstance(order, (list, tuple)) and all(isinstance(o, str) for o in order):
            items = list(order)
        else:
            raise InvalidParameterError(
                f"order_by takes a field name, '-field' for descending, or a list of those; got {order!r:.60}.",
                context={"model": self.model.name, "node": node, "parameter": "order_by"},
            )
        clauses = []
        seen = set()
        for item in items:
            descending = item.startswith("-")
            name = item[1:] if descending or item.startswith("+") else item
            spec = self.model.get_field(name, node=node, where="order_by")
            seen.add(name)
            column = self.backend.comparable(quote_ident(name), spec.kind)
            # NULLs sort as the smallest value on both backends.
            clauses.append(f"{column} {'DESC NULLS LAST' if descending else 'ASC NULLS FIRST'}")
        if "id" not in seen:
            clauses.append(f"{self.backend.comparable(quote_ident('id'), self.model.primary_key.kind)} ASC")
        return " ORDER BY " + ", ".join(clauses)

    def select(
        self,
        flt: Mapping[str, Any] | None,
        *,
        order: Any = None,
        limit: int | None = None,
        offset: int | None = None,
        node: str | None = None,
        include_deleted: bool = False,
    ) -> Statement:
        """SELECT records matching a filter."""
        params = self.backend.params()
        where = self.where(flt, params, node, include_deleted=include_deleted)
        order_sql = self.order_by(order, node)
        limit_ph = params.add(limit) if limit is not None else None
        offset_ph = params.add(offset) if offset else None
        tail = self.backend.limit_offset(limit_ph, offset_ph)
        return f"SELECT {self.columns} FROM {self.table}{where}{order_sql}{tail}", params.values

    def select_ids(
        self, flt: Mapping[str, Any] | None, limit: int, node: str | None, *, include_deleted: bool = False
    ) -> Statement:
        """SELECT the ids of up to ``limit`` matching records."""
        params = self.backend.params()
        where = self.where(flt, params, node, include_deleted=include_deleted)
        return f'SELECT "id" FROM {self.table}{where} LIMIT {params.add(limit)}', params.values

    def count(
        self, flt: Mapping[str, Any] | None, node: str | None = None, *, include_deleted: bool = False
    ) -> Statement:
        """SELECT COUNT(*)."""
        params = self.backend.params()
        where = self.where(flt, params, node, include_deleted=include_deleted)
        return f"SELECT COUNT(*) FROM {self.table}{where}", params.values

    def _set(self, fields: Mapping[str, Any], params: Params) -> str:
        return ", ".join(f"{quote_ident(n)} = {params.add(self.to_db(n, v))}" for n, v in fields.items())

    def update(
        self,
        flt: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
        *,
        node: str | None,
        returning: bool,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> Statement:
        """UPDATE matching records (by id alone: the SQL built once per set of fields).

        A versioned model's ``version`` goes up by one in the same statement; ``version``: only
        the row still at that version; ``include_deleted``: soft-deleted rows too.
        """
        if include_deleted or version is not None:
            return self._update(
                flt, fields, node=node, returning=returning, include_deleted=include_deleted, version=version
            )
        if returning and flt is not None and len(flt) == 1 and type(flt.get("id")) in _SCALARS:
            key = tuple(fields)
            sql = self._update_sql.get(key)
            args = [self.to_db(n, v) for n, v in fields.items()]
            if sql is not None:
                pk = self.model.primary_key
                record_id = check_value(pk.kind, flt["id"], field="id", model=self.model.name)
                return sql, [*args, self.to_db("id", record_id)]
            sql, args = self._update(flt, fields, node=node, returning=returning)
            self._update_sql[key] = sql
            return sql, args
        return self._update(flt, fields, node=node, returning=returning)

    def _update(
        self,
        flt: Mapping[str, Any] | None,
        fields: Mapping[str, Any],
        *,
        node: str | None,
        returning: bool,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> Statement:
        params = self.backend.params()
        assignments = self._set(fields, params) + self.bump
        where = self.where(flt, params, node, include_deleted=include_deleted, version=version)
        tail = f" RETURNING {self.columns}" if returning else ""
        return f"UPDATE {self.table} SET {assignments}{where}{tail}", params.values

    def delete(
        self,
        flt: Mapping[str, Any] | None,
        *,
        node: str | None,
        returning: bool,
        include_deleted: bool = False,
        version: int | None = None,
    ) -> Statement:
        """DELETE matching records (``include_deleted`` / ``version`` as for :meth:`update`)."""
        params = self.backend.params()
        where = self.where(flt, params, node, include_deleted=include_deleted, version=version)
        tail = f" RETURNING {self.columns}" if returning else ""
        return f"DELETE FROM {self.table}{where}{tail}", params.values

    def upsert(
        self, row: Mapping[str, Any], conflict_on: Sequence[str], update: Mapping[str, Any]
    ) -> Statement:
        """INSERT ... ON CONFLICT (...) DO UPDATE, returning the row (and, on PostgreSQL, whether it was new).

        The SQL is built once per set of columns, conflict target and updated fields.
        """
        key = (tuple(row), tuple(conflict_on), tuple(update))
        sql = self._upsert_sql.get(key)
        if sql is None:
            sql = self._upsert_sql[key] = self._upsert_sql_for(*key)
        to_db = self.to_db
        return sql, [to_db(n, v) for n, v in row.items()] + [to_db(n, v) for n, v in update.items()]

    def _upsert_sql_for(self, names: tuple[str, ...], conflict_on: tuple[str, ...], update: tuple[str, ...]) -> str:
        params = self.backend.params()
        placeholders = ", ".join(params.add(None) for _ in names)
        target = self.conflict_target(conflict_on)
        if update:
            assignments = ", ".join(f"{quote_ident(n)} = {params.add(None)}" for n in update) + self.bump
        else:  # a no-op update, so RETURNING still yields the existing row
            first = quote_ident(conflict_on[0])
            assignments = f"{first} = EXCLUDED.{first}"
        returning = self.columns
        if self.backend.upsert_inserted_column:
            returning += ", " + self.backend.upsert_inserted_column
        return (
            f"INSERT INTO {self.table} ({', '.join(quote_ident(n) for n in names)}) VALUES ({placeholders}) "
            f"ON CONFLICT {target} DO UPDATE SET {assignments}{self.upsert_guard(conflict_on)} RETURNING {returning}"
        )

    def conflict_target(self, conflict_on: Sequence[str]) -> str:
        """``(cols)``, with the partial unique index's predicate for a soft delete model's unique fields."""
        target = f"({', '.join(quote_ident(n) for n in conflict_on)})"
        if self.live and tuple(conflict_on) != ("id",):
            target += f" WHERE {self.live}"
        return target

    def upsert_guard(self, conflict_on: Sequence[str]) -> str:
        """The ``DO UPDATE ... WHERE`` of an upsert (empty when nothing is guarded)."""
        conditions = self.upsert_conditions(conflict_on)
        return " WHERE " + " AND ".join(conditions) if conditions else ""

    def upsert_conditions(self, conflict_on: Sequence[str]) -> list[str]:
        """What a conflicting row must satisfy to be updated: a soft delete model's row not deleted."""
        return [f"{self.table}.{self.live}"] if self.live else []

    def upsert_probe(self, row: Mapping[str, Any], conflict_on: Sequence[str], node: str | None) -> Statement:
        """``select_ids`` of the record with ``row``'s conflict key (the SQL built once per target)."""
        key = tuple(conflict_on)
        values = [row[n] for n in key]
        if not all(type(v) in _SCALARS for v in values):  # containers compile as filter clauses
            return self.select_ids(dict(zip(key, values, strict=True)), 1, node)
        sql = self._probe_sql.get(key)
        if sql is None:
            sql, args = self.select_ids(dict(zip(key, values, strict=True)), 1, node)
            self._probe_sql[key] = sql
            return sql, args
        return sql, [self.to_db(n, v) for n, v in zip(key, values, strict=True)] + [1]

    def upsert_many(
        self, names: Sequence[str], conflict_on: Sequence[str], update_fields: Sequence[str]
    ) -> str:
        """INSERT ... ON CONFLICT DO UPDATE SET col = EXCLUDED.col, for executemany."""
        params = self.backend.params()
        placeholders = ", ".join(params.add(None) for _ in names)
        target = self.conflict_target(conflict_on)
        fields = list(update_fields) or [conflict_on[0]]
        assignments = ", ".join(f"{quote_ident(n)} = EXCLUDED.{quote_ident(n)}" for n in fields)
        if update_fields:
            assignments += self.bump
        return (
            f"INSERT INTO {self.table} ({', '.join(quote_ident(n) for n in names)}) VALUES ({placeholders}) "
            f"ON CONFLICT {target} DO UPDATE SET {assignments}{self.upsert_guard(conflict_on)}"
        )

    def insert_ignoring(self, names: Sequence[str], rows: int, conflict_on: Sequence[str]) -> str:
        """A multi-row INSERT that skips rows whose conflict key exists; RETURNING one row per insert."""
        params = self.backend.params()
        values = ", ".join("(" + ", ".join(params.add(None) for _ in names) + ")" for _ in range(rows))
        return (
            f"INSERT INTO {self.table} ({', '.join(quote_ident(n) for n in names)}) VALUES {values} "
            f"ON CONFLICT {self.conflict_target(conflict_on)} DO NOTHING RETURNING 1"
        )

    def sync_identity(self) -> str | None:
        """The statement that moves the id sequence past explicitly inserted ids, if the backend needs one."""
        return self.backend.sync_identity(self.table) if self.model.auto_id else None
