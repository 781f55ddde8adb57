"""Ready-made tests for your migrations, on the backend ``DATABASE_URL`` names.

Enable them with one line in a test module (``tests/test_migrations.py``)::

    from dataflow.testing.migrations import *  # noqa: F403

They use the plugin (``pytest_plugins = ["dataflow.testing"]``), your ``dataflow_models`` and the
migrations folder (``dataflow_migrations`` in the pytest configuration, default ``migrations``):

* ``test_migrations_single_head``: the files load and form one history (DF-901 / DF-906);
* ``test_migrations_upgrade_from_empty``: an empty database upgrades to the head;
* ``test_migrations_match_models``: after that, autogenerate finds nothing to do;
* ``test_migrations_up_down_up``: for each revision, upgrade, downgrade and upgrade again give the
  schemas before and after it;
* ``test_migrations_keep_data``: rows written at each revision survive the next one.

Each runs on an empty database of its own (``dataflow_migration_db``), never the database of the
other fixtures. The functions behind them (``check_up_down_up(db.migrations)``, ...) can be awaited
from tests of your own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .._dataflow import DataFlow
from .._migrations import (
    check_keeps_data,
    check_matches_models,
    check_single_head,
    check_up_down_up,
    check_upgrade,
)

__all__ = [
    "test_migrations_keep_data",
    "test_migrations_match_models",
    "test_migrations_single_head",
    "test_migrations_up_down_up",
    "test_migrations_upgrade_from_empty",
]


def test_migrations_single_head(dataflow_migrations_dir: Path) -> None:
    """The revision files load and form one history from the first revision to a single head."""
    check_single_head(dataflow_migrations_dir)


@pytest.mark.asyncio
async def test_migrations_upgrade_from_empty(dataflow_migration_db: DataFlow) -> None:
    """An empty database upgrades to the head, revision by revision."""
    await check_upgrade(dataflow_migration_db.migrations)


@pytest.mark.asyncio
async def test_migrations_match_models(dataflow_migration_db: DataFlow) -> None:
    """The migrated database is what the models ask for: autogenerate finds nothing."""
    await check_matches_models(dataflow_migration_db.migrations)


@pytest.mark.asyncio
async def test_migrations_up_down_up(dataflow_migration_db: DataFlow) -> None:
    """Every revision's downgrade undoes its upgrade, and the upgrade runs again after it."""
    await check_up_down_up(dataflow_migration_db.migrations)


@pytest.mark.asyncio
async def test_migrations_keep_data(dataflow_migration_db: DataFlow) -> None:
    """Rows written at one revision are still there, unchanged, after the next."""
    await check_keeps_data(dataflow_migration_db.migrations)
