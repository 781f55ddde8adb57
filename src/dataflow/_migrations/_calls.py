"""The migration calls of ``DataFlow`` as the seeds write them: ``db.migrate()``, ``db.rollback()``,
``db.generate_migration()``, blocking for scripts, with awaitable forms for async code.

A mixin, so the ``DataFlow`` module stays about the instance; the work is done by
``db.migrations`` (:class:`~dataflow.Migrations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from .._loops import run_blocking

if TYPE_CHECKING:
    from .._executor import ExecutionContext
    from .._model import ModelSpec
    from ._runner import Migrations

__all__ = ["MigrationCalls", "migrations_for"]


def migrations_for(
    context: ExecutionContext, models: Mapping[str, ModelSpec], directory: str | PathLike[str]
) -> Migrations:
    """An instance's :class:`Migrations` (the engine is imported here, on first use, not with ``dataflow``)."""
    from ._runner import Migrations

    return Migrations(context, models, directory)


class MigrationCalls:
    """``generate_migration``, ``migrate``, ``rollback`` and their ``_async`` forms."""

    @property
    def migrations(self) -> Migrations:
        raise NotImplementedError  # DataFlow provides it

    def generate_migration(self, message: str, *, empty: bool = False) -> Path | None:
        """Write the next revision file from what the models ask for and the migrations lack.

        Blocking (for scripts); in async code use :meth:`generate_migration_async`. Returns the new
        file, or ``None`` when the models and the migrations already agree (``empty=True`` writes a
        revision with no operations, to fill in by hand).
        """
        self.migrations.outside_transaction("generate_migration")
        return run_blocking(lambda: self.migrations.generate(message, empty=empty))

    def migrate(self, target: str | None = None) -> list[str]:
        """Apply the revisions up to ``target`` (default: the head); return the ids applied.

        Blocking (for scripts); in async code use :meth:`migrate_async`. Each revision runs in its own
        transaction; a failing one is rolled back and raises DF-905.
        """
        self.migrations.outside_transaction("migrate")
        return run_blocking(lambda: self.migrations.upgrade(target))

    def rollback(self, target: str | int) -> list[str]:
        """Roll back to ``target``: a revision id (it stays applied), ``"previous_version"`` or ``-1``
        (one revision), ``-n``, or ``"base"`` (all); return the ids rolled back, newest first.

        Blocking (for scripts); in async code use :meth:`rollback_async`.
        """
        self.migrations.outside_transaction("rollback")
        return run_blocking(lambda: self.migrations.downgrade(target))

    async def generate_migration_async(self, message: str, *, empty: bool = False) -> Path | None:
        """The awaitable form of :meth:`generate_migration`."""
        return await self.migrations.generate(message, empty=empty)

    async def migrate_async(self, target: str | None = None) -> list[str]:
        """The awaitable form of :meth:`migrate`."""
        return await self.migrations.upgrade(target)

    async def rollback_async(self, target: str | int) -> list[str]:
        """The awaitable form of :meth:`rollback`."""
        return await self.migrations.downgrade(target)
