"""Root fixtures of the DataFlow test suite: the backend matrix and PostgreSQL for tests.

Fixtures (see README.md, "PostgreSQL for tests"):

``backend`` (session, parametrized ``sqlite`` / ``postgresql``)
    Every test that uses it, directly or through ``database_url``, runs once per backend, with
    ids ``[sqlite]`` and ``[postgresql]``. Restrict a test with
    ``@pytest.mark.postgresql_only(reason="...")`` or ``@pytest.mark.sqlite_only(reason="...")``
    (or give the test a docstring that says why).
``database_url`` (function)
    A fresh, empty database for the test: ``sqlite:///<tmp_path>/test.db``, or a new PostgreSQL
    database that is dropped (``WITH (FORCE)``) after the test.
``postgres_url`` (function)
    A fresh PostgreSQL database for a test that needs PostgreSQL whatever the backend.
``postgres_server`` (session)
    ``tests._postgres.PostgresServer``: ``.admin_url``, ``.create_database(name=None) -> url``,
    ``.drop_database(name_or_url)``, ``.database_exists(name_or_url)``. One server (or one set of
    databases on ``DATAFLOW_TEST_POSTGRES_URL``) per pytest-xdist worker.
``postgres_replica`` (session)
    ``tests._postgres.ReplicaServer``: a streaming replica of the worker's throwaway server
    (``pg_basebackup -R``, another port), started on first use: ``.url(primary_db_url)``,
    ``.stop()``, ``.start()``, ``.wait_for_replay()``.

``redis_server`` (session) / ``redis_url`` (function)
    ``tests._redis.RedisServer``: a throwaway ``redis-server`` per xdist worker (``.url()``,
    ``.stop()``, ``.start()``), and its URL for a test, with the server running before and after it
    (a test that stops it mid-test gets it back). Missing: a failure under ``CI=true``, else a skip.

When PostgreSQL cannot be provided, the PostgreSQL tests fail under ``CI=true`` and are skipped
otherwise, always with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _postgres import (
    REPLICA_GROUP,
    PostgresServer,
    PostgresUnavailableError,
    ReplicaServer,
    describe,
    handle_unavailable,
    provide_server,
    start_replica,
)
from _redis import RedisServer, RedisUnavailableError
from _redis import handle_unavailable as redis_unavailable
from _redis import provide_server as provide_redis
from _site import BuiltSite, build, prebuilt

pytest_plugins = ["pytester", "dataflow.testing", "doc_validation.docval.plugin"]

BACKENDS = ("sqlite", "postgresql")
_ONLY_MARKERS = {"postgresql_only": "postgresql", "sqlite_only": "sqlite"}


def pytest_configure(config: pytest.Config) -> None:
    """Keep each pytest-xdist worker, and the threads and processes it starts, on a CPU of its own.

    aiosqlite runs every statement on a worker thread. On a VM, handing a statement to a thread that
    the scheduler put on the other CPU wakes that idle CPU, which costs far more than the statement
    (the benchmarks' ``one_cpu`` measures it): a 2-worker run spent about a fifth of its time there.
    With one CPU per worker (worker N on CPU N modulo the CPUs), the hand-off stays on one CPU and
    the workers still spread over every CPU. Set ``DATAFLOW_TEST_PIN_CPUS=0`` to leave the
    scheduler alone.
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or not hasattr(os, "sched_setaffinity"):
        return
    if os.environ.get("DATAFLOW_TEST_PIN_CPUS") == "0":
        return
    cpus = sorted(os.sched_getaffinity(0))
    workers = int(workerinput.get("workercount", 1))
    if len(cpus) < 2 or workers < 2:
        return
    index = int(str(workerinput["workerid"]).removeprefix("gw"))
    os.sched_setaffinity(0, {cpus[index % len(cpus)]})


def pytest_report_header(config: pytest.Config) -> str:
    """Show how PostgreSQL is provided, before any test runs."""
    return f"dataflow postgresql: {describe()}"


def _only_backend(definition: pytest.Item) -> str | None:
    chosen: list[str] = []
    for marker_name, only in _ONLY_MARKERS.items():
        marker = definition.get_closest_marker(marker_name)
        if marker is None:
            continue
        doc = getattr(getattr(definition, "obj", None), "__doc__", None)
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "") or doc or ""
        if not str(reason).strip():
            raise pytest.UsageError(
                f'{definition.nodeid}: @pytest.mark.{marker_name} needs reason="why not on both backends" '
                "(or a docstring saying why)"
            )
        chosen.append(only)
    if len(chosen) > 1:
        raise pytest.UsageError(f"{definition.nodeid}: postgresql_only and sqlite_only exclude each other")
    return chosen[0] if chosen else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses ``backend`` (or ``database_url``) once per backend."""
    if "backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if "backend" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return  # the test chose its backends itself
    only = _only_backend(metafunc.definition)
    backends = [only] if only else list(BACKENDS)
    metafunc.parametrize("backend", backends, indirect=True, ids=backends)


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The docs site of this run (``tests/_site.py``): nox's build, else one build per process."""
    return prebuilt() or build(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this session (this xdist worker).

    ``DATAFLOW_TEST_POSTGRES_URL`` when set, else a throwaway server stopped at the end.
    """
    try:
        server = provide_server(os.environ)
    except PostgresUnavailableError as exc:
        handle_unavailable(str(exc), os.environ)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of this test run: ``"sqlite"`` or ``"postgresql"``.

    Requesting the ``postgresql`` variant provisions the server first, so an unavailable
    PostgreSQL fails (CI) or skips the test even if it never asks for a URL.
    """
    if not hasattr(request, "param"):
        raise pytest.UsageError(
            f"{request.node.nodeid}: 'backend' must be a direct argument of the test or of one of its "
            "fixtures (pytest_generate_tests parametrizes it); getfixturevalue('backend') cannot be used"
        )
    name: str = request.param
    if name not in BACKENDS:
        raise pytest.UsageError(f"unknown backend {name!r}; use one of {BACKENDS}")
    if name == "postgresql":
        request.getfixturevalue("postgres_server")
    return name


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the streaming replica share one xdist worker (``REPLICA_GROUP``)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if "postgres_replica" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(REPLICA_GROUP))


@pytest.fixture(scope="session")
def postgres_replica(postgres_server: PostgresServer) -> Iterator[ReplicaServer]:
    """A streaming replica of this worker's PostgreSQL server (fails under CI=true when impossible)."""
    try:
        replica = start_replica(postgres_server, os.environ)
    except PostgresUnavailableError as exc:
        handle_unavailable(str(exc), os.environ)
    try:
        yield replica
    finally:
        replica.close()


@pytest.fixture
def replica_running(postgres_replica: ReplicaServer) -> Iterator[ReplicaServer]:
    """The replica, running at the start and restarted after a test that stopped it."""
    if not postgres_replica.running:
        postgres_replica.start()
    yield postgres_replica
    if not postgres_replica.running:
        postgres_replica.start()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """URL of a fresh, empty database of the current backend.

    SQLite: ``sqlite:///<tmp_path>/test.db`` (an absolute path, so four slashes).
    PostgreSQL: a new database, dropped after the test.
    """
    if backend == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for this session (this xdist worker): ``DATAFLOW_TEST_REDIS_URL`` or a throwaway one."""
    try:
        server = provide_redis(os.environ)
    except RedisUnavailableError as exc:
        redis_unavailable(str(exc), os.environ)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The Redis server's URL, the server running at the start and restarted after a test that stopped it."""
    if not redis_server.running:
        redis_server.start()
    yield redis_server.url()
    if not redis_server.running:
        redis_server.start()
