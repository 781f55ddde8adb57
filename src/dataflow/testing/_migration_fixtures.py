"""Fixtures for testing migrations: the migrations folder and a database of their own.

The checks of :mod:`dataflow.testing.migrations` empty the database they run on, so they never
run on the database of the other fixtures: without ``DATABASE_URL`` each test gets a SQLite file
in its ``tmp_path``; with a PostgreSQL ``DATABASE_URL`` they use the database ``<name>_migrations``
(per xdist worker: ``<name>_gw0_migrations``), created on first use and dropped at the end of
the session.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from .._dataflow import DataFlow
from ._isolation import run_database_url
from ._urls import drop_migrations_url, migrations_url

__all__ = [
    "dataflow_migration_db",
    "dataflow_migration_session_url",
    "dataflow_migration_url",
    "dataflow_migrations_dir",
]


@pytest.fixture(scope="session")
def dataflow_migrations_dir(pytestconfig: pytest.Config) -> Path:
    """The migrations folder: ``dataflow_migrations`` from the pytest configuration (relative to the
    root directory), default ``migrations``. Override the fixture to point elsewhere."""
    configured = str(pytestconfig.getini("dataflow_migrations") or "migrations")
    path = Path(configured)
    return path if path.is_absolute() else Path(pytestconfig.rootpath) / path


@pytest.fixture(scope="session")
def dataflow_migration_session_url(dataflow_session_url: str) -> Iterator[str | None]:
    """With ``DATABASE_URL``: the migration checks' own database, created on first use and dropped at
    the end of the session. Without it: ``None`` (each test gets a SQLite file)."""
    env_url = run_database_url()
    if not env_url:
        yield None
        return
    url = migrations_url(env_url, dataflow_session_url)
    try:
        yield url
    finally:
        drop_migrations_url(env_url, url)


@pytest.fixture
def dataflow_migration_url(dataflow_migration_session_url: str | None, tmp_path: os.PathLike[str]) -> str:
    """The database the migration checks empty and migrate (never the other fixtures' database)."""
    return dataflow_migration_session_url or f"sqlite:///{Path(tmp_path) / 'migrations.db'}"


@pytest_asyncio.fixture
async def dataflow_migration_db(
    dataflow_migration_url: str, dataflow_models: list[type], dataflow_migrations_dir: Path
) -> AsyncIterator[DataFlow]:
    """A ``DataFlow`` on an empty database with ``dataflow_models`` registered and the migrations
    folder set; emptied again and closed after the test."""
    db = DataFlow(dataflow_migration_url, test_mode=True, migrations_dir=dataflow_migrations_dir)
    for model in dataflow_models:
        db.model(model)
    try:
        await db.migrations.reset()
        yield db
    finally:
        try:
            await db.migrations.reset()
        finally:
            await db.close()
