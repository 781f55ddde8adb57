"""Applying and rolling back revisions: ``db.migrations``.

Each revision runs in a transaction of its own, together with the row that records it in
``dataflow_migrations``; a failing operation rolls its revision back and leaves the database at
the last revision that succeeded. Before anything runs, the history is checked (one head, every
file loads, the applied revisions are the start of the history and their files are unchanged) and
every operation to run is checked for what the backend cannot do, so a bad input changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .._dialects import Connection
from .._errors import (
    InvalidMigrationHistoryError,
    MigrationChecksumError,
    MigrationFailedError,
    TransactionError,
    UnsupportedMigrationOperationError,
)
from .._executor import ExecutionContext
from .._model import ModelSpec
from .._schema import MIGRATIONS_TABLE, Column, Schema, Table
from ._diff import MigrationPlan, declared_schema, diff, models_schema
from ._files import History, Revision, load_history, slug, write_revision
from ._ops import Operation, Step
from ._targets import Target, downgrade_goal, upgrade_goal

__all__ = ["Migrations", "RevisionStatus"]

_LEDGER = Table(
    MIGRATIONS_TABLE,
    (
        Column("revision", "str", primary_key=True),
        Column("parent", "str", nullable=True),
        Column("message", "str"),
        Column("checksum", "str"),
        Column("position", "int"),
        Column("applied_at", "str"),
    ),
)

@dataclass(frozen=True)
class RevisionStatus:
    """A revision of the history and whether this database has it applied."""

    id: str
    parent: str | None
    message: str
    path: Path
    applied: bool
    head: bool


class Migrations:
    """The migrations of one DataFlow instance: its models, its database, its migrations folder.

    Get it as ``db.migrations``. Every method is a coroutine; ``db.migrate()``, ``db.rollback()`` and
    ``db.generate_migration()`` are the blocking forms of the three you use most.

    Args:
        context: The instance's execution context (connections and transactions).
        models: The instance's models by name (read when a method runs).
        directory: The migrations folder; a relative path is resolved against the working directory
            when a method runs.
    """

    def __init__(
        self, context: ExecutionContext, models: Mapping[str, ModelSpec], directory: str | os.PathLike[str]
    ) -> None:
        self.context = context
        self.models = models
        self._directory = Path(directory)
        self.editor = context.backend.editor
        #: Revisions of unchanged files, by path (see ``load_history``).
        self._revisions: dict[Path, Revision] = {}
        #: The ``dataflow_migrations`` table is known to exist (until ``reset()``).
        self._ledger_ready = False

    @property
    def directory(self) -> Path:
        """The migrations folder (absolute)."""
        return self._directory if self._directory.is_absolute() else Path.cwd() / self._directory

    def at(self, directory: str | os.PathLike[str]) -> Migrations:
        """The same models and database with another migrations folder."""
        return Migrations(self.context, self.models, directory)

    def load(self) -> History:
        """Read the revision files (DF-906 for a broken one)."""
        revisions = self._revisions
        if len(revisions) > 1000:  # files of many folders (at()): start again rather than grow
            revisions.clear()
        return load_history(self.directory, revisions)

    # --- reading ------------------------------------------------------------------------------

    async def current(self) -> str | None:
        """The newest revision applied to the database, or ``None`` when none is."""
        applied = await self._applied(self.load().chain())
        return applied[-1].id if applied else None

    async def history(self) -> list[RevisionStatus]:
        """Every revision, first to head, with whether it is applied here."""
        chain = self.load().chain()
        applied = {r.id for r in await self._applied(chain)}
        return [
            RevisionStatus(r.id, r.parent, r.message, r.path, r.id in applied, i == len(chain) - 1)
            for i, r in enumerate(chain)
        ]

    async def schema(self) -> Schema:
        """The live schema, without DataFlow's own tables (``dataflow_migrations``, the saga and
        two-phase commit tables: every ``dataflow_*`` table)."""
        async with self.context.connection() as connection:
            schema = await self.editor.introspect(connection)
        for name in [name for name in schema if name == MIGRATIONS_TABLE or name.startswith("dataflow_")]:
            schema.pop(name, None)
        return schema

    async def check(self) -> MigrationPlan:
        """What the models ask for that the migrations do not create (empty: they agree).

        The pending revisions are applied inside a transaction that is rolled back, so the database is
        left as it was; run it in CI on an empty database or on one at any revision.
        """
        self.outside_transaction("check")
        return await self._diff_at_head(self.load().chain())

    # --- changing ---------------------------------------------------------------------------------

    async def generate(self, message: str, *, empty: bool = False) -> Path | None:
        """Write the next revision from the difference between the models and the migrated schema.

        Returns:
            The new file, or ``None`` when there is no difference (and ``empty`` is false).
        """
        if not isinstance(message, str) or not message.strip():
            raise ValueError("generate_migration() needs a message, such as 'add user table'")
        self.outside_transaction("generate_migration")
        chain = self.load().chain()
        plan = MigrationPlan() if empty else await self._diff_at_head(chain)
        if not plan and not empty:
            return None
        parent = chain[-1].id if chain else None
        return write_revision(self.directory, f"{len(chain) + 1:04d}_{slug(message)}", parent, message.strip(), plan)

    async def upgrade(self, target: Target = None) -> list[str]:
        """Apply revisions up to ``target`` (``None`` or ``"head"``: all); return the ids applied."""
        self.outside_transaction("migrate")
        chain = self.load().chain()
        applied = await self._applied(chain, exists=self._ledger_ready)
        goal = upgrade_goal(target, chain, len(applied))
        pending = chain[len(applied) : goal]
        self._check_operations(pending, up=True)
        if pending:
            await self._ensure_ledger()
        return await self._run_all(pending, chain, up=True)

    async def downgrade(self, target: Target) -> list[str]:
        """Roll back to ``target``; return the ids rolled back, newest first.

        ``target`` is a revision id (it stays applied), ``"base"`` (everything), ``"previous_version"``
        or ``-1`` (one revision), ``-n`` or ``"-n"`` (n revisions).
        """
        self.outside_transaction("rollback")
        chain = self.load().chain()
        applied = await self._applied(chain, exists=self._ledger_ready)
        keep = downgrade_goal(target, chain, applied)
        undo = list(reversed(applied[keep:]))
        self._check_operations(undo, up=False)
        return await self._run_all(undo, chain, up=False)

    async def stamp(self, target: Target = None) -> list[str]:
        """Record revisions up to ``target`` (default: the head) as applied, without running them.

        For a database whose schema is already what those revisions create (tables made by
        ``create_tables()`` before the project used migrations). Returns the ids recorded.
        """
        self.outside_transaction("stamp")
        chain = self.load().chain()
        applied = await self._applied(chain, exists=self._ledger_ready)
        pending = chain[len(applied) : upgrade_goal(target, chain, len(applied))]
        if pending:
            await self._ensure_ledger()
            async with self.context.transaction(), self.context.connection() as connection:
                await self.editor.lock(connection)
                for revision in pending:
                    await self._record(connection, revision, chain, up=True)
        return [r.id for r in pending]

    async def repair(self) -> list[str]:
        """Record the current checksum of every applied revision whose file was edited.

        For an edit that does not change what the upgrade did (a fixed downgrade, a comment); it
        runs no operation. Returns the ids whose checksum was updated.
        """
        self.outside_transaction("repair")
        chain = self.load().chain()
        await self._ensure_ledger()
        async with self.context.connection() as connection:
            rows = dict(await self._ledger_rows(connection, exists=True))
            edited = [r for r in chain if r.id in rows and rows[r.id] != r.checksum]
            for revision in edited:
                params = self.context.backend.params()
                await connection.execute(
                    f'UPDATE "{MIGRATIONS_TABLE}" SET "checksum" = {params.add(revision.checksum)} '
                    f'WHERE "revision" = {params.add(revision.id)}',
                    params.values,
                )
        return [r.id for r in edited]

    async def reset(self) -> None:
        """Drop every table, view and index of the database (test databases back to empty)."""
        async with self.context.connection() as connection:
            await self.editor.reset(connection)
        self._ledger_ready = False
        self.context.forget_tables(list(self.models))

    # --- running --------------------------------------------------------------------------------

    def outside_transaction(self, what: str) -> None:
        """Raise DF-601 when called inside ``db.transaction()`` or ``db.isolated()``."""
        if self.context.current_transaction() is not None or self.context.pinned is not None:
            raise TransactionError(
                f"{what}() runs each revision in a transaction of its own, so it cannot run inside "
                "db.transaction() or db.isolated(). Call it outside the block."
            )

    def _check_operations(self, revisions: Sequence[Revision], *, up: bool) -> None:
        for revision in revisions:
            for i, op in enumerate(revision.upgrade if up else revision.downgrade, 1):
                try:
                    op.check(self.editor)
                except UnsupportedMigrationOperationError as exc:
                    raise self._unsupported(revision, up, i, op, exc, applied=False) from exc

    def _unsupported(
        self, revision: Revision, up: bool, index: int, op: Operation, exc: UnsupportedMigrationOperationError,
        *, applied: bool,
    ) -> UnsupportedMigrationOperationError:
        where = "upgrade" if up else "downgrade"
        outcome = "the revision was rolled back" if applied else "nothing was applied"
        return UnsupportedMigrationOperationError(
            f"Revision {revision.id} ({revision.path.name}), {where} operation {index}, {op.describe()}: "
            f"{exc.detail} On {self.context.backend.name}; {outcome}.",
            context={**exc.context, "revision": revision.id, "operation": index},
        )

    async def _ensure_ledger(self) -> None:
        if self._ledger_ready and self.context.pinned is None:
            return
        # Under the migration lock: two processes creating the table at once collide on PostgreSQL.
        async with self.context.transaction(), self.context.connection() as connection:
            await self.editor.lock(connection)
            for sql in self.editor.create_table_sql(_LEDGER, if_not_exists=True):
                await connection.execute(sql)
        self._ledger_ready = self.context.pinned is None  # inside isolated() it is rolled back

    async def _applied(self, chain: Sequence[Revision], *, exists: bool = False) -> list[Revision]:
        """The applied revisions, first to newest, checked against the files (DF-902, DF-906)."""
        async with self.context.connection() as connection:
            rows = await self._ledger_rows(connection, exists=exists)
        by_id = {r.id: r for r in chain}
        unknown = [revision for revision, _ in rows if revision not in by_id]
        if unknown:
            raise InvalidMigrationHistoryError(
                f"The database has revision(s) {', '.join(unknown)} applied, which the migrations folder "
                f"{self.directory} does not have.",
                context={"revisions": unknown},
            )
        applied = [by_id[revision] for revision, _ in rows]
        if [r.id for r in applied] != [r.id for r in chain[: len(applied)]]:
            raise InvalidMigrationHistoryError(
                f"The database has {', '.join(r.id for r in applied)} applied, which is not the start of the "
                f"history {', '.join(r.id for r in chain)}.",
                context={"revisions": [r.id for r in applied]},
            )
        edited = [r for r, (_, recorded) in zip(applied, rows, strict=True) if r.checksum != recorded]
        if edited:
            raise MigrationChecksumError(
                f"Revision(s) {', '.join(f'{r.id} ({r.path})' for r in edited)} changed after being applied to this "
                "database; nothing was run.",
                context={"revisions": [r.id for r in edited]},
            )
        return applied

    async def _ledger_rows(self, connection: Connection, *, exists: bool = False) -> list[tuple[str, str]]:
        if not exists and MIGRATIONS_TABLE not in await self.editor.introspect(connection, MIGRATIONS_TABLE):
            return []
        rows = await connection.fetch(f'SELECT "revision", "checksum" FROM "{MIGRATIONS_TABLE}" ORDER BY "position"')
        return [(str(r[0]), str(r[1])) for r in rows]

    async def _run_all(self, revisions: Sequence[Revision], chain: Sequence[Revision], *, up: bool) -> list[str]:
        """Apply (or roll back) ``revisions`` in order, each in its own transaction; return the ids done.

        The connection settings a migration needs (``editor.prepare``) are set once for the run,
        not once per revision: on SQLite each setting is a round trip to the worker thread.
        """
        if not revisions:
            return []
        context = self.context
        async with context.connection() as connection:
            saved = await self.editor.prepare(connection)
        done = []
        try:
            for revision in revisions:
                if await self._run(revision, chain, up=up):
                    done.append(revision.id)
        finally:
            async with context.connection() as connection:
                await self.editor.restore(connection, saved)
        return done

    async def _run(self, revision: Revision, chain: Sequence[Revision], *, up: bool) -> bool:
        """Apply (or roll back) one revision in its own transaction; False if another process did."""
        context = self.context
        try:
            async with context.transaction(), context.connection() as connection:
                await self.editor.lock(connection)
                applied = {revision for revision, _ in await self._ledger_rows(connection, exists=True)}
                if (revision.id in applied) == up:
                    return False
                await self._operations(connection, revision, up=up)
                await self._record(connection, revision, chain, up=up)
            return True
        finally:
            context.forget_tables(list(self.models))

    async def _operations(self, connection: Connection, revision: Revision, *, up: bool) -> None:
        operations = revision.upgrade if up else revision.downgrade
        step = Step(connection, self.editor)
        for i, op in enumerate(operations, 1):
            try:
                await op.run(step)
            except UnsupportedMigrationOperationError as exc:
                raise self._unsupported(revision, up, i, op, exc, applied=True) from exc
            except Exception as exc:
                where = "upgrade" if up else "downgrade"
                good = revision.parent if up else revision.id
                raise MigrationFailedError(
                    f"Revision {revision.id} ({revision.path.name}) failed at {where} operation {i} of "
                    f"{len(operations)}, {op.describe()}: {_reason(exc)} The revision was rolled back; the "
                    f"database is at {good or 'base (no revision applied)'}.",
                    context={"revision": revision.id, "operation": i, "table": op.table},
                ) from exc
            step.changed()

    async def _record(self, connection: Connection, revision: Revision, chain: Sequence[Revision], *, up: bool) -> None:
        params = self.context.backend.params()
        if not up:
            await connection.execute(
                f'DELETE FROM "{MIGRATIONS_TABLE}" WHERE "revision" = {params.add(revision.id)}', params.values
            )
            return
        values = [revision.id, revision.parent, revision.message, revision.checksum,
                  [r.id for r in chain].index(revision.id) + 1, datetime.now(UTC).isoformat(timespec="seconds")]
        placeholders = ", ".join(params.add(v) for v in values)
        columns = ", ".join(f'"{c.name}"' for c in _LEDGER.columns)
        await connection.execute(f'INSERT INTO "{MIGRATIONS_TABLE}" ({columns}) VALUES ({placeholders})', params.values)

    async def _diff_at_head(self, chain: Sequence[Revision]) -> MigrationPlan:
        """Diff the models against the database as the whole history leaves it (rolled back after)."""
        context = self.context
        try:
            async with context.isolated():
                await self._ensure_ledger()
                applied = await self._applied(chain)
                pending = list(chain[len(applied) :])
                self._check_operations(pending, up=True)
                for revision in pending:
                    async with context.transaction(), context.connection() as connection:
                        await self._operations(connection, revision, up=True)
                async with context.connection() as connection:
                    live = await self.editor.introspect(connection)
        finally:
            context.forget_tables(list(self.models))
        declared = declared_schema(r.upgrade for r in chain)
        return diff(models_schema(self.models.values()), live, self.editor, declared=declared)


def _reason(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None)
    text = str(detail if detail is not None else exc).strip().split("\n")[0]
    return f"{type(exc).__name__}: {text}" + ("" if text.endswith(".") else ".")
