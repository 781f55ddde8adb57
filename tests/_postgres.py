"""PostgreSQL for the DataFlow test suite, the benchmarks and anything else that needs a server.

Two ways to get a server, in this order:

1. ``DATAFLOW_TEST_POSTGRES_URL``: an admin-capable URL (it may ``CREATE DATABASE``) of a server
   that is already running. Nothing is started or stopped; only the databases created here are
   dropped again.
2. A throwaway server started for the run with pytest-postgresql's ``PostgreSQLExecutor``
   (``pg_ctl initdb`` + ``pg_ctl start`` on a free port, ``fsync=off``, ``max_connections=300``,
   ``max_prepared_transactions=50``)
   and stopped afterwards. As root, ``pg_ctl`` runs through ``.ci/pg_ctl_as_postgres``, which
   runs it as the ``postgres`` user, because PostgreSQL refuses to run as root.

``pg_ctl`` is ``$DATAFLOW_TEST_PG_CTL`` when set, else the newest
``/usr/lib/postgresql/*/bin/pg_ctl``, else ``pg_ctl`` on ``PATH``.

When no server can be provided, the caller decides what happens with :func:`unavailable_action`:
with ``CI=true``, ``DATAFLOW_TEST_REQUIRE_POSTGRES=1`` (set by the nox test sessions) or an explicit
``DATAFLOW_TEST_POSTGRES_URL`` that does not work, the run fails; otherwise the PostgreSQL tests are
skipped with the reason.

The module only imports the standard library at import time, so ``noxfile.py`` can load it.
It is also a command line tool (used by ``nox -s bench``)::

    python tests/_postgres.py run -- python -m benchmarks

runs the command with ``DATAFLOW_TEST_POSTGRES_URL`` (admin URL) and
``DATAFLOW_BENCH_POSTGRES_URL`` (a fresh, empty database) set, then cleans up.
"""

from __future__ import annotations

import argparse
import atexit
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from pytest_postgresql.executors import PostgreSQLExecutor

ENV_URL = "DATAFLOW_TEST_POSTGRES_URL"
"""Admin-capable URL of an existing server; when set, no server is started."""

ENV_PG_CTL = "DATAFLOW_TEST_PG_CTL"
"""Path of the ``pg_ctl`` to use for the throwaway server."""

ENV_REQUIRE = "DATAFLOW_TEST_REQUIRE_POSTGRES"
"""``1``: a missing PostgreSQL fails the run even outside CI (the nox test sessions set it)."""

ENV_BENCH_URL = "DATAFLOW_BENCH_POSTGRES_URL"
"""Set by the ``run`` command: URL of a fresh database for the wrapped command."""

REPLICA_GROUP = "postgres-replica"
"""The ``xdist_group`` of every test that uses the streaming replica: under ``--dist loadgroup`` they
run on one worker, which starts one replica instead of one per worker."""

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT_WRAPPER = REPO_ROOT / ".ci" / "pg_ctl_as_postgres"
PG_SEARCH_ROOTS: tuple[Path, ...] = (Path("/usr/lib/postgresql"),)

SERVER_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "300",
    "wal_level": "logical",
    "max_prepared_transactions": "50",
}
"""Settings of the throwaway server: fast and roomy enough for the pool and leak tests; prepared
transactions enabled for the two-phase commit tests (PREPARE TRANSACTION needs
``max_prepared_transactions > 0``)."""

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CI_TRUE = {"1", "true", "yes", "on"}


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server could be provided; the message says why and what to do."""


def is_ci(environ: Mapping[str, str]) -> bool:
    """Tell whether the environment is a CI run.

    Args:
        environ: The environment to inspect (usually ``os.environ``).

    Returns:
        True when ``CI`` is ``true``, ``1``, ``yes`` or ``on`` (any case).
    """
    return environ.get("CI", "").strip().lower() in _CI_TRUE


def unavailable_action(*, ci: bool, explicit_url: bool, required: bool = False) -> Literal["fail", "skip"]:
    """Decide what a missing PostgreSQL means for the tests that need it.

    Args:
        ci: Whether this is a CI run (see :func:`is_ci`).
        explicit_url: Whether ``DATAFLOW_TEST_POSTGRES_URL`` was set (and did not work).
        required: Whether the run promised both backends (``DATAFLOW_TEST_REQUIRE_POSTGRES=1``,
            set by the nox test sessions).

    Returns:
        ``"fail"`` in CI, when an explicitly configured server does not work, or when PostgreSQL is
        required, so a broken setup can never pass as a green run with skips; ``"skip"`` otherwise.
    """
    if ci or explicit_url or required:
        return "fail"
    return "skip"


def unavailable_message(reason: str, action: Literal["fail", "skip"]) -> str:
    """Build the message shown when PostgreSQL is unavailable.

    Args:
        reason: Why no server could be provided.
        action: The outcome chosen by :func:`unavailable_action`.

    Returns:
        A message that states the reason, the consequence and both ways to fix it.
    """
    consequence = (
        "Failing: with CI=true, DATAFLOW_TEST_REQUIRE_POSTGRES=1 or an explicit DATAFLOW_TEST_POSTGRES_URL, "
        "a missing PostgreSQL is an error."
        if action == "fail"
        else "Skipping the PostgreSQL tests (set CI=true to make this an error)."
    )
    return (
        f"PostgreSQL is unavailable: {reason}\n{consequence}\n"
        f"Fix: install the server (apt-get install -y postgresql) so a throwaway server can be "
        f"started, or set {ENV_URL}=postgresql://user:password@host:port/postgres (admin-capable)."
    )


def handle_unavailable(reason: str, environ: Mapping[str, str] | None = None) -> NoReturn:
    """Fail or skip the current test because PostgreSQL is unavailable.

    Args:
        reason: Why no server could be provided.
        environ: The environment used for the decision (``CI``, ``DATAFLOW_TEST_POSTGRES_URL``);
            defaults to ``os.environ``.

    Raises:
        pytest.fail.Exception: Under ``CI=true`` or with an explicit URL that does not work.
        pytest.skip.Exception: Otherwise.
    """
    import pytest

    env = os.environ if environ is None else environ
    action = unavailable_action(
        ci=is_ci(env), explicit_url=bool(env.get(ENV_URL)), required=env.get(ENV_REQUIRE, "") == "1"
    )
    message = unavailable_message(reason, action)
    if action == "fail":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def redact(url: str) -> str:
    """Hide the password of a URL.

    Args:
        url: A database URL.

    Returns:
        The URL with the password replaced by ``***``.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def worker_id(environ: Mapping[str, str] | None = None) -> str:
    """Return the pytest-xdist worker id, or ``main`` outside xdist.

    Args:
        environ: The environment to inspect; defaults to ``os.environ``.

    Returns:
        ``gw0``, ``gw1``, ... in xdist workers, ``main`` otherwise.
    """
    env = os.environ if environ is None else environ
    return env.get("PYTEST_XDIST_WORKER", "main")


def _version_key(path: Path) -> tuple[int, ...]:
    version = path.parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_pg_ctl(
    environ: Mapping[str, str] | None = None, search_roots: Sequence[Path] = PG_SEARCH_ROOTS
) -> Path:
    """Find the ``pg_ctl`` used to start a throwaway server.

    Args:
        environ: The environment; ``DATAFLOW_TEST_PG_CTL`` there wins. Defaults to ``os.environ``.
        search_roots: Directories holding ``<version>/bin/pg_ctl`` (Debian layout).

    Returns:
        The path of ``pg_ctl``: the override, else the newest version under ``search_roots``,
        else ``pg_ctl`` on ``PATH``.

    Raises:
        PostgresUnavailableError: No usable ``pg_ctl`` exists.
    """
    env = os.environ if environ is None else environ
    override = env.get(ENV_PG_CTL)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise PostgresUnavailableError(f"{ENV_PG_CTL}={override} is not an executable file.")
    candidates = [
        candidate
        for root in search_roots
        for candidate in root.glob("*/bin/pg_ctl")
        if candidate.is_file() and os.access(candidate, os.X_OK)
    ]
    if candidates:
        return max(candidates, key=_version_key)
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path)
    roots = ", ".join(str(root) for root in search_roots)
    raise PostgresUnavailableError(
        f"no pg_ctl found (looked in {roots}/*/bin and on PATH); the PostgreSQL server is not installed."
    )


def _normalize(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise PostgresUnavailableError(f"{redact(url)} is not a postgresql:// URL.")
    return urlunsplit(parts._replace(scheme="postgresql"))


def database_url(admin_url: str, name: str) -> str:
    """Return the URL of database ``name`` on the server of ``admin_url``.

    Args:
        admin_url: Any URL of the server; user, password, host, port and query are kept.
        name: The database name.

    Returns:
        A ``postgresql://`` URL whose path is ``/name``.
    """
    parts = urlsplit(_normalize(admin_url))
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name(name_or_url: str) -> str:
    """Return the database name of a URL, or the name itself.

    Args:
        name_or_url: A database name or a ``postgresql://`` URL.

    Returns:
        The database name.
    """
    if "://" in name_or_url:
        return urlsplit(name_or_url).path.lstrip("/")
    return name_or_url


def _quote_ident(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid test database name {name!r}: use lowercase letters, digits and '_' (max 63)"
        )
    return f'"{name}"'


def _connect(url: str, *, attempts: int = 3) -> Any:
    """Open an autocommit psycopg connection, retrying briefly on a busy or starting server."""
    import psycopg

    for attempt in range(1, attempts + 1):
        try:
            return psycopg.connect(_normalize(url), autocommit=True, connect_timeout=30)
        except psycopg.OperationalError:
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _wait_until_ready(url: str, timeout: float = 90.0) -> None:
    """Wait until the server accepts queries (not just TCP connections: "starting up")."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(_normalize(url), autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailableError(
                    f"the throwaway server did not accept queries within {timeout:.0f} s: {exc}"
                ) from exc
            time.sleep(0.1)


class PostgresServer:
    """A PostgreSQL server for tests: an admin URL plus creation and removal of databases.

    Attributes:
        admin_url: ``postgresql://`` URL of a superuser (or CREATEDB role) on the server.
        owned: True when this process started the server (throwaway), False for
            ``DATAFLOW_TEST_POSTGRES_URL``.
        worker: The pytest-xdist worker id (or ``main``); part of every database name.
    """

    def __init__(
        self, admin_url: str, *, owned: bool, worker: str, executor: Any = None, base_dir: Path | None = None
    ) -> None:
        """Wrap a reachable server.

        Args:
            admin_url: Admin-capable URL of the server.
            owned: Whether the server was started by this process and must be stopped by it.
            worker: The xdist worker id used in database names.
            executor: The ``PostgreSQLExecutor`` of an owned server.
            base_dir: Temporary directory of an owned server, removed on close.
        """
        self.admin_url = _normalize(admin_url)
        self.owned = owned
        self.worker = worker
        self._executor = executor
        self._base_dir = base_dir
        self._created: set[str] = set()
        self._closed = False

    def __repr__(self) -> str:
        """Return a representation without the password."""
        return f"PostgresServer({redact(self.admin_url)!r}, owned={self.owned}, worker={self.worker!r})"

    def new_database_name(self) -> str:
        """Return a database name unique to this worker and call.

        Returns:
            ``df_<worker>_<12 hex digits>``.
        """
        worker = re.sub(r"[^a-z0-9]", "", self.worker.lower()) or "main"
        return f"df_{worker}_{uuid.uuid4().hex[:12]}"

    def create_database(self, name: str | None = None) -> str:
        """Create a new, empty database.

        Args:
            name: The database name; a unique ``df_<worker>_...`` name when omitted.

        Returns:
            The ``postgresql://`` URL of the new database (same user and password as the admin URL).
        """
        import psycopg

        db_name = name or self.new_database_name()
        statement = f"CREATE DATABASE {_quote_ident(db_name)}"
        for attempt in range(10):
            try:
                with _connect(self.admin_url) as conn:
                    conn.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                # "source database template1 is being accessed by other users": retry briefly.
                if attempt == 9:
                    raise
                time.sleep(0.2)
        self._created.add(db_name)
        return database_url(self.admin_url, db_name)

    def drop_database(self, name_or_url: str) -> None:
        """Drop a database, closing any connection still open on it (``WITH (FORCE)``).

        Args:
            name_or_url: The database name or its URL. A database that does not exist is ignored.
        """
        db_name = database_name(name_or_url)
        with _connect(self.admin_url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(db_name)} WITH (FORCE)")
        self._created.discard(db_name)

    def database_exists(self, name_or_url: str) -> bool:
        """Tell whether a database exists on the server.

        Args:
            name_or_url: The database name or its URL.

        Returns:
            True if ``pg_database`` has a row with that name.
        """
        with _connect(self.admin_url) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database_name(name_or_url),)
            ).fetchone()
        return row is not None

    def close(self) -> None:
        """Drop the databases this object created and still exist, and stop an owned server."""
        if self._closed:
            return
        self._closed = True
        if self.owned:
            _stop_executor(self._executor, self._base_dir)
            return
        for name in sorted(self._created):
            try:
                self.drop_database(name)
            except Exception as exc:  # noqa: BLE001 - cleanup must go on; report and continue
                print(f"tests/_postgres.py: could not drop {name}: {exc}", file=sys.stderr)


def _check_reachable(url: str) -> None:
    try:
        with _connect(url) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"
        message = str(exc).strip().replace(url, redact(url))
        raise PostgresUnavailableError(
            f"cannot connect to {ENV_URL}={redact(url)}: {type(exc).__name__}: {message}"
        ) from exc


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


def _root_shim(base: Path, pg_ctl: Path) -> Path:
    """Write a root-owned shim that runs ``pg_ctl`` as postgres through the wrapper."""
    if not ROOT_WRAPPER.is_file():
        raise PostgresUnavailableError(f"running as root but {ROOT_WRAPPER} is missing.")
    if shutil.which("runuser") is None:
        raise PostgresUnavailableError("running as root but runuser (util-linux) is not installed.")
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailableError(
            "running as root but there is no 'postgres' user (install the postgresql package)."
        ) from exc
    return _shim(base, f"DATAFLOW_PG_CTL='{pg_ctl}' exec '{ROOT_WRAPPER}' \"$@\"")


def _shim(base: Path, command: str) -> Path:
    """Write ``base/pg_ctl``: runs ``command`` without mirakuru's process marker.

    mirakuru (under pytest-postgresql) marks what it starts with ``mirakuru_uuid=<pid>:<uuid4>``
    and, at the exit of *any* Python process that imported it, SIGKILLs every process whose marker
    merely *contains* that process's pid as a substring. With hundreds of short-lived pytest
    subprocesses per run (the doc harness, pytester, the examples), some pid eventually matches a
    running test server's marker and kills it mid-run. The server does not need the marker: it is
    stopped with ``pg_ctl stop``.
    """
    shim = base / "pg_ctl"
    shim.write_text(f"#!/bin/sh\nunset mirakuru_uuid\n{command}\n")
    shim.chmod(0o755)
    return shim


def _stop_executor(executor: PostgreSQLExecutor | None, base_dir: Path | None) -> None:
    if executor is not None:
        try:
            executor.stop()
        except Exception as exc:  # noqa: BLE001 - keep cleaning up
            print(f"tests/_postgres.py: stopping PostgreSQL failed: {exc}", file=sys.stderr)
        try:
            executor.clean_directory()
        except Exception as exc:  # noqa: BLE001
            print(f"tests/_postgres.py: removing the data directory failed: {exc}", file=sys.stderr)
    if base_dir is not None:
        shutil.rmtree(base_dir, ignore_errors=True)


def start_throwaway_server(pg_ctl: Path, *, worker: str, attempts: int = 3) -> PostgresServer:
    """Start a throwaway server on a free port with pytest-postgresql's executor.

    Args:
        pg_ctl: The ``pg_ctl`` binary (see :func:`find_pg_ctl`).
        worker: The xdist worker id, used in the temporary directory and database names.
        attempts: How many free ports to try before giving up.

    Returns:
        An owned :class:`PostgresServer`; ``close()`` stops it and removes its files.

    Raises:
        PostgresUnavailableError: The server did not start (the message has the log tail).
    """
    import port_for
    from pytest_postgresql.executors import PostgreSQLExecutor

    base = Path(tempfile.mkdtemp(prefix=f"dataflow-pg-{worker}-"))
    base.chmod(0o755)
    runtime = base / "pg"
    runtime.mkdir()
    try:
        executable = _root_shim(base, pg_ctl) if os.geteuid() == 0 else _shim(base, f"exec '{pg_ctl}' \"$@\"")
    except PostgresUnavailableError:
        shutil.rmtree(base, ignore_errors=True)
        raise
    options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
    failures: list[str] = []
    for _ in range(attempts):
        port = port_for.select_random()
        logfile = runtime / f"postgresql-{port}.log"
        executor = PostgreSQLExecutor(
            executable=str(executable),
            host="127.0.0.1",
            port=port,
            datadir=str(runtime / f"data-{port}"),
            unixsocketdir=str(runtime),
            logfile=str(logfile),
            startparams="-w",
            dbname="postgres",
            user="postgres",
            postgres_options=options,
        )
        admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        try:
            executor.start()
            _wait_until_ready(admin_url)
        except Exception as exc:  # noqa: BLE001 - report every attempt
            failures.append(f"port {port}: {type(exc).__name__}: {exc}\n{_log_tail(logfile)}")
            _stop_executor(executor, None)
            continue
        server = PostgresServer(
            admin_url,
            owned=True,
            worker=worker,
            executor=executor,
            base_dir=base,
        )
        atexit.register(server.close)
        return server
    shutil.rmtree(base, ignore_errors=True)
    raise PostgresUnavailableError(
        f"the throwaway server ({pg_ctl}) did not start after {attempts} attempts:\n" + "\n".join(failures)
    )


class ReplicaServer:
    """A streaming replica of a throwaway server: ``pg_basebackup -R`` and a second port.

    The replica follows every database of the primary (physical replication), read-only, and
    can be stopped and started again to test failover.

    Attributes:
        port: The replica's port.
        datadir: Its data directory (removed by :meth:`close`).
    """

    def __init__(self, primary: PostgresServer, pg_ctl: Path, base: Path, port: int) -> None:
        self.primary = primary
        self.port = port
        self.datadir = base / "replica"
        self.logfile = base / "replica.log"
        self._base = base
        self._pg_ctl = _root_shim(base, pg_ctl) if os.geteuid() == 0 else _shim(base, f"exec '{pg_ctl}' \"$@\"")
        self.running = False

    def url(self, primary_url: str) -> str:
        """The replica's URL of the database that ``primary_url`` names on the primary."""
        parts = urlsplit(_normalize(primary_url))
        netloc = parts.netloc.rsplit(":", 1)[0] + f":{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _ctl(self, *args: str) -> None:
        subprocess.run([str(self._pg_ctl), *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the replica and wait until it accepts read-only queries."""
        # A hot standby needs the primary's settings (max_connections and the like) or more.
        settings = {**SERVER_SETTINGS, "port": str(self.port), "unix_socket_directories": str(self._base),
                    "hot_standby": "on"}
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        try:
            self._ctl("start", "-w", "-D", str(self.datadir), "-l", str(self.logfile), "-o", options)
            _wait_until_ready(self.url(self.primary.admin_url))
        except (subprocess.CalledProcessError, PostgresUnavailableError) as exc:
            raise PostgresUnavailableError(
                f"the streaming replica did not start: {exc}\n{_log_tail(self.logfile)}"
            ) from exc
        self.running = True

    def stop(self) -> None:
        """Stop the replica (``pg_ctl stop -m fast``); :meth:`start` brings it back."""
        if self.running:
            self._ctl("stop", "-w", "-m", "fast", "-D", str(self.datadir))
            self.running = False

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        with _connect(self.primary.admin_url) as conn:
            target = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with _connect(self.url(self.primary.admin_url)) as conn:
            while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica did not replay up to {target} within {timeout:.0f} s")
                time.sleep(0.02)

    def close(self) -> None:
        """Stop the replica and remove its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self._base, ignore_errors=True)


def start_replica(primary: PostgresServer, environ: Mapping[str, str] | None = None) -> ReplicaServer:
    """Start a streaming replica of ``primary`` (which must be a throwaway server of this run).

    Raises:
        PostgresUnavailableError: The primary is not owned by this run (``DATAFLOW_TEST_POSTGRES_URL``
            gives no way to add a replica), or ``pg_basebackup`` or the replica failed.
    """
    if not primary.owned:
        raise PostgresUnavailableError(
            f"a streaming replica needs the throwaway server of this run; {ENV_URL} names an existing "
            "server. Unset it, or run the replica tests where the PostgreSQL binaries are installed."
        )
    import port_for

    env = os.environ if environ is None else environ
    pg_ctl = find_pg_ctl(env)
    basebackup = pg_ctl.parent / "pg_basebackup"
    base = Path(tempfile.mkdtemp(prefix=f"dataflow-replica-{primary.worker}-"))
    base.chmod(0o755)
    replica = ReplicaServer(primary, pg_ctl, base, port_for.select_random())
    primary_parts = urlsplit(primary.admin_url)
    command = [str(basebackup), "-D", str(replica.datadir), "-h", primary_parts.hostname or "127.0.0.1",
               "-p", str(primary_parts.port), "-U", primary_parts.username or "postgres", "-R", "-X", "stream",
               "-c", "fast"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise PostgresUnavailableError(f"pg_basebackup failed ({result.returncode}): {result.stderr.strip()}")
    replica.start()
    atexit.register(replica.close)
    return replica


def provide_server(environ: Mapping[str, str] | None = None) -> PostgresServer:
    """Provide a server: ``DATAFLOW_TEST_POSTGRES_URL`` if set, else a throwaway one.

    Args:
        environ: The environment; defaults to ``os.environ``.

    Returns:
        A reachable :class:`PostgresServer`. Call ``close()`` when done.

    Raises:
        PostgresUnavailableError: No server could be provided (the message says why).
    """
    env = os.environ if environ is None else environ
    worker = worker_id(env)
    url = env.get(ENV_URL)
    if url:
        _check_reachable(url)
        return PostgresServer(url, owned=False, worker=worker)
    return start_throwaway_server(find_pg_ctl(env), worker=worker)


def describe(environ: Mapping[str, str] | None = None) -> str:
    """Describe, without starting anything, how PostgreSQL will be provided.

    Args:
        environ: The environment; defaults to ``os.environ``.

    Returns:
        One line for the pytest report header.
    """
    env = os.environ if environ is None else environ
    ci = " (CI=true: a missing PostgreSQL fails the run)" if is_ci(env) else ""
    url = env.get(ENV_URL)
    if url:
        return f"existing server {ENV_URL}={redact(url)}, a new database per test{ci}"
    try:
        pg_ctl = find_pg_ctl(env)
    except PostgresUnavailableError as exc:
        return f"unavailable: {exc}{ci}"
    as_root = f" as postgres via {ROOT_WRAPPER.relative_to(REPO_ROOT)}" if os.geteuid() == 0 else ""
    return f"throwaway server per worker from {pg_ctl}{as_root}, a new database per test{ci}"


def _run(command: Sequence[str]) -> int:
    try:
        server = provide_server()
    except PostgresUnavailableError as exc:
        print(unavailable_message(str(exc), "fail"), file=sys.stderr)
        return 2
    try:
        url = server.create_database()
        env = dict(os.environ, **{ENV_URL: server.admin_url, ENV_BENCH_URL: url})
        print(f"tests/_postgres.py: {ENV_BENCH_URL}={redact(url)}", flush=True)
        return subprocess.call(list(command), env=env)
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: ``python tests/_postgres.py run -- COMMAND...``.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status of the command, or 2 when PostgreSQL is unavailable.
    """
    parser = argparse.ArgumentParser(
        prog="tests/_postgres.py",
        description="Run a command against a PostgreSQL server provided like the test suite's.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser(
        "run",
        help=f"run COMMAND with {ENV_URL} (admin URL) and {ENV_BENCH_URL} (fresh database) set",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return _run(command)


if __name__ == "__main__":
    raise SystemExit(main())
