"""pytest fixtures for code that uses DataFlow — an opt-in plugin.

Enable it in your root ``conftest.py``::

    pytest_plugins = ["dataflow.testing"]

(or run ``pytest -p dataflow.testing``). It registers fixtures and the leak check (DF-701, on by
default; ``dataflow_leak_check = false`` in the pytest configuration turns it off). Under xdist it
points ``DATABASE_URL`` at the worker's database before test modules are imported.

Fixtures:

* ``dataflow_url`` — ``DATABASE_URL`` when set (PostgreSQL: one database per xdist worker, created on
  demand), else a SQLite file in the test's ``tmp_path``.
* ``dataflow_models`` — override it (session scope) to return the model classes to register.
* ``dataflow_db`` / ``dataflow_db_module`` / ``dataflow_db_session`` — a ``DataFlow`` with the models
  registered and their tables created; teardown drops those tables and closes the instance.
* ``dataflow_isolated`` — a ``DataFlow`` inside ``db.isolated(join_instances=True)``: everything the
  test writes, through it or any other instance on its database (an app's import-time instance),
  including code that commits its own transactions, is rolled back at teardown; writes that escaped
  the isolation fail the test (DF-702). It starts from the ``dataflow_seed`` data, if any.
* ``dataflow_seed`` — override it (session or module scope) to return ``async def load(db)``.
* ``dataflow_migrations_dir`` / ``dataflow_migration_url`` / ``dataflow_migration_db`` — the
  migrations folder and an empty database of its own for testing migrations; the ready-made tests
  are in :mod:`dataflow.testing.migrations`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from .._dataflow import DataFlow
from ._escapes import MARKER as ESCAPES_MARKER
from ._escapes import SessionProbe
from ._hints import FailureHints
from ._isolation import isolate_test, point_at_worker_database, restore_database_url, run_database_url
from ._leaks import LeakCheck
from ._markers import BackendMarker
from ._migration_fixtures import (
    dataflow_migration_db,
    dataflow_migration_session_url,
    dataflow_migration_url,
    dataflow_migrations_dir,
)
from ._seed import SeedState
from ._session import PLUGIN_NAME as SESSION_PLUGIN
from ._session import SessionLoopMarker, check_session_loop
from ._urls import worker_url
from ._workerdb import WorkerDatabases, add_options, worker_session_url
from .tasks import TaskTracker, dataflow_tasks

__all__ = [
    "dataflow_db",
    "dataflow_db_module",
    "dataflow_db_session",
    "dataflow_isolated",
    "dataflow_isolated_session",
    "dataflow_migration_db",
    "dataflow_migration_session_url",
    "dataflow_migration_url",
    "dataflow_migrations_dir",
    "dataflow_models",
    "dataflow_seed",
    "dataflow_seed_state",
    "dataflow_session_url",
    "dataflow_tasks",
    "dataflow_url",
    "make_dataflow",
    "TaskTracker",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "dataflow_migrations",
        type="string",
        default="migrations",
        help="The migrations folder the migration tests check (relative to the root directory).",
    )
    parser.addini(
        "dataflow_leak_check",
        type="bool",
        default=True,
        help="Fail tests that leave DataFlow pools, connections or asyncio tasks open (DF-701); "
        "on by default, 'false' turns it off.",
    )
    parser.addoption(
        "--dataflow-leak-check",
        action="store_true",
        default=False,
        help="Run the leak check (DF-701) even when the configuration turns it off.",
    )
    add_options(parser)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Enabled with -p (or an entry point): before conftest.py files import the app.
    point_at_worker_database(early_config.known_args_namespace)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dataflow_leaks_expected(reason): the test leaves pools or tasks open on purpose; "
        "the leak check (DF-701) skips it. reason= is required.",
    )
    config.addinivalue_line(
        "markers",
        f"{ESCAPES_MARKER}(reason): the test writes outside its dataflow_isolated isolation on purpose; "
        "the escaped-writes check (DF-702) skips it. reason= is required.",
    )
    point_at_worker_database(config.option)
    if config.getoption("--dataflow-leak-check") or config.getini("dataflow_leak_check"):
        config.pluginmanager.register(LeakCheck(), "dataflow-leak-check")
    config.pluginmanager.register(WorkerDatabases(config), "dataflow-worker-databases")
    config.pluginmanager.register(BackendMarker(config), "dataflow-backend-marker")
    config.pluginmanager.register(FailureHints(), "dataflow-failure-hints")
    config.pluginmanager.register(SessionLoopMarker(), SESSION_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    restore_database_url()


async def make_dataflow(url: str, models: Iterable[type]) -> DataFlow:
    """A test-mode ``DataFlow`` on ``url`` with ``models`` registered and their tables created."""
    db = DataFlow(url, test_mode=True)
    for model in models:
        db.model(model)
    await db.create_tables()
    return db


async def _dispose(db: DataFlow) -> None:
    try:
        await db.drop_tables()
    finally:
        await db.close()


@pytest.fixture(scope="session")
def dataflow_models() -> list[type]:
    """The model classes every DataFlow fixture registers. Override it in your conftest.py::

    @pytest.fixture(scope="session")
    def dataflow_models():
        return [User, Order]
    """
    return []


# The session fixtures below look up the session fixtures they need with getfixturevalue, once, when
# they run, instead of naming them as parameters: pytest visits every fixture of a test's closure for
# every test, cached or not, and the isolated fixtures' closure would otherwise hold eleven of them.


@pytest.fixture(scope="session")
def dataflow_session_url(request: pytest.FixtureRequest) -> str:
    """One database URL for the whole session: per xdist worker, a clone of the template database
    with the models' tables (see :mod:`dataflow.testing._workerdb`, ``--dataflow-reuse-db``)."""
    tmp_path_factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    return worker_session_url(
        request.config,
        run_database_url(),
        tmp_path_factory.mktemp("dataflow"),
        request.getfixturevalue("dataflow_models"),
        request.getfixturevalue("dataflow_migrations_dir"),
    )


@pytest.fixture
def dataflow_url(dataflow_session_url: str, tmp_path: os.PathLike[str]) -> str:
    """The database URL for one test.

    ``DATABASE_URL`` when set — for PostgreSQL, each xdist worker gets its own database
    (``<name>_gw0``, ...), created on first use — else a fresh SQLite file in ``tmp_path``.
    """
    return worker_url(run_database_url(), dataflow_session_url, tmp_path)


@pytest_asyncio.fixture
async def dataflow_db(dataflow_url: str, dataflow_models: list[type]) -> AsyncIterator[DataFlow]:
    """A fresh ``DataFlow`` for one test; its tables are dropped and its pools closed afterwards."""
    db = await make_dataflow(dataflow_url, dataflow_models)
    try:
        yield db
    finally:
        await _dispose(db)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dataflow_db_module(
    dataflow_session_url: str, dataflow_models: list[type]
) -> AsyncIterator[DataFlow]:
    """One ``DataFlow`` shared by a test module (its tests must run in the module loop)."""
    db = await make_dataflow(dataflow_session_url, dataflow_models)
    try:
        yield db
    finally:
        await _dispose(db)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dataflow_db_session(
    dataflow_session_url: str, dataflow_models: list[type]
) -> AsyncIterator[DataFlow]:
    """One ``DataFlow`` shared by the session (its tests must run in the session loop)."""
    db = await make_dataflow(dataflow_session_url, dataflow_models)
    try:
        yield db
    finally:
        await _dispose(db)


@pytest.fixture(scope="session")
def dataflow_seed() -> object:
    """The seed data every ``dataflow_isolated`` test starts from: ``None`` (none), or an async
    function that loads it. Override it in your conftest.py (session scope: loaded once per xdist
    worker) or in a test module (module scope: loaded for that module)::

    @pytest.fixture(scope="session")
    def dataflow_seed():
        async def load(db):
            ...  # write the rows; they are committed
        return load
    """
    return None


@pytest.fixture(scope="session")
def dataflow_seed_state(request: pytest.FixtureRequest) -> Iterator[SeedState]:
    """Which seed the session database holds (the plugin's bookkeeping); emptied at the end."""
    request.getfixturevalue("dataflow_session_url")  # set up first, so torn down after this
    state = SeedState()
    try:
        yield state
    finally:
        state.finish()


@pytest.fixture(scope="session")
def _dataflow_escape_probe(request: pytest.FixtureRequest) -> Iterator[SessionProbe]:
    """The escaped-writes check's commit probe and last committed markers, shared by the isolated
    tests of the worker (both modes)."""
    counter = request.config.pluginmanager.get_plugin(SESSION_PLUGIN)
    url = request.getfixturevalue("dataflow_session_url")
    probe = SessionProbe(url, counter.count if isinstance(counter, SessionLoopMarker) else None)
    try:
        yield probe
    finally:
        probe.close()


@dataclass(frozen=True)
class _Worker:
    """What the isolated tests of one worker share: the session database and its bookkeeping."""

    url: str
    models: list[type]
    seed_state: SeedState
    probe: SessionProbe


@pytest.fixture(scope="session")
def _dataflow_worker(request: pytest.FixtureRequest) -> _Worker:
    """The session fixtures both isolated fixtures use, looked up once for the session."""
    value = request.getfixturevalue
    return _Worker(
        value("dataflow_session_url"),
        value("dataflow_models"),
        value("dataflow_seed_state"),
        value("_dataflow_escape_probe"),
    )


@pytest_asyncio.fixture
async def dataflow_isolated(
    request: pytest.FixtureRequest, _dataflow_worker: _Worker, dataflow_seed: object
) -> AsyncIterator[DataFlow]:
    """A ``DataFlow`` whose every write during the test is rolled back afterwards.

    The test's operations all run on one connection inside a transaction; ``db.transaction()``
    blocks in the code under test become savepoints, so even code that commits leaves nothing behind.
    Every other ``DataFlow`` instance on the same database (an app module's instance created at import
    time) runs on that connection too. Writes that reach the database outside it fail the test at
    teardown (DF-702; opt out with ``@pytest.mark.dataflow_escapes_expected(reason=...)``).
    Tables are created once (outside the transaction) and kept for the next test.
    """
    worker = _dataflow_worker
    db = await make_dataflow(worker.url, worker.models)
    try:
        async with isolate_test(
            request.node, db, worker.url, dataflow_seed, worker.seed_state, worker.models, worker.probe,
            trust_quiet=True,
        ):
            yield db
    finally:
        await db.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _dataflow_isolated_session_db(_dataflow_worker: _Worker) -> AsyncIterator[DataFlow]:
    """The instance of ``dataflow_isolated_session``: one per worker, on the session loop."""
    db = await make_dataflow(_dataflow_worker.url, _dataflow_worker.models)
    try:
        yield db
    finally:
        await db.close()


@pytest_asyncio.fixture(loop_scope="session")
async def dataflow_isolated_session(
    request: pytest.FixtureRequest,
    _dataflow_isolated_session_db: DataFlow,
    _dataflow_worker: _Worker,
    dataflow_seed: object,
) -> AsyncIterator[DataFlow]:
    """``dataflow_isolated`` on the session event loop: the same rollback, seed data and escaped-writes
    check, at the cost of a ``BEGIN`` and a ``ROLLBACK`` per test.

    One ``DataFlow`` per xdist worker is created on the session loop and kept (with its pool's
    connection, and on PostgreSQL a second one that asks the escaped-writes probe while each test's
    rollback runs) for the whole session; each test runs inside its ``isolated(join_instances=True)``, so
    an app's import-time instance joins it as with ``dataflow_isolated``. The test must run on the
    session loop: the plugin marks the tests that request this fixture
    ``@pytest.mark.asyncio(loop_scope="session")`` (``asyncio_mode = auto``; in strict mode write the
    mark), and a test on another loop fails with DF-827. Such a test must not close or replace the
    loop, and must not rely on loop state (tasks, loop-bound objects) being fresh.
    """
    check_session_loop(request.node)
    db, worker = _dataflow_isolated_session_db, _dataflow_worker
    async with isolate_test(
        request.node,
        db,
        worker.url,
        dataflow_seed,
        worker.seed_state,
        worker.models,
        worker.probe,
        trust_quiet=True,
        probe_aside=True,
    ):
        yield db
