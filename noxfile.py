"""Nox sessions of DataFlow. ``nox -s tests`` is the README test command; ``.ci/run`` runs it.

Every session uses Python 3.11 and a plain venv. The test sessions install the project with
``pip install -e .[test,docs,browser,redis]`` and make sure the Debian packages they need exist
(``chromium`` for the browser tests, ``postgresql`` and ``redis-server`` for the throwaway test
servers): as root they are installed with apt-get, otherwise the session stops and prints the
command to run.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
from pathlib import Path
from types import ModuleType

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).resolve().parent
PYTHON = "3.11"
ALL_EXTRAS = ".[test,docs,browser,redis]"
CHROMIUM = Path("/usr/bin/chromium")
SITE_DIR = ROOT / "site"
SITE_LOG = ROOT / ".nox" / "site-build.log"
#: Four workers on the 2-core CI machine: a worker waits on child processes, its servers and
#: aiosqlite's thread hand-offs about half the time (tests/integration: 233 s with -n 2, 171 s with -n 4).
#: loadgroup: the tests of one ``xdist_group`` (the streaming replica's, the new-user quick start's)
#: run on one worker, which starts their replica or virtualenv once; the rest are spread as by ``load``.
PYTEST_PARALLEL = ("-n", "4", "--dist", "loadgroup")
PYTEST_TIMEOUT = "--timeout=300"
#: The slowest tests of every run, so the 25-minute budget can be watched from the CI log.
PYTEST_DURATIONS = "--durations=30"
SOAK_RUNS = 20
DOCS_ENV = {"NO_MKDOCS_2_WARNING": "1"}


def _postgres_helper() -> ModuleType:
    """Load tests/_postgres.py (standard library only at import time) without installing anything."""
    spec = importlib.util.spec_from_file_location("_dataflow_tests_postgres", ROOT / "tests" / "_postgres.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _redis_helper() -> ModuleType:
    """Load tests/_redis.py (standard library only) without installing anything."""
    spec = importlib.util.spec_from_file_location("_dataflow_tests_redis", ROOT / "tests" / "_redis.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _apt_install(session: nox.Session, package: str, what: str) -> None:
    """Install a Debian package as root, or stop with the exact command to run.

    Args:
        session: The running session.
        package: The Debian package name.
        what: What is missing, for the messages.
    """
    command = f"apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y {package}"
    if os.geteuid() != 0:
        session.error(f"{what} is missing and this is not root. Run as root: {command}")
    if shutil.which("apt-get") is None:
        session.error(f"{what} is missing and apt-get is not available. Install the {package} package.")
    session.log(f"{what} is missing; installing it: {command}")
    # run_install, not run: a system package is part of the install step, so --install-only gets it too.
    session.run_install("apt-get", "update", external=True)
    session.run_install(
        "apt-get", "install", "-y", package, external=True, env={"DEBIAN_FRONTEND": "noninteractive"}
    )


def _ensure_postgresql(session: nox.Session) -> None:
    """Make sure a PostgreSQL server can be provided to the tests (apt package ``postgresql``)."""
    helper = _postgres_helper()
    if os.environ.get(helper.ENV_URL):
        session.log(f"PostgreSQL: using {helper.ENV_URL}={helper.redact(os.environ[helper.ENV_URL])}")
        return
    try:
        pg_ctl = helper.find_pg_ctl()
    except helper.PostgresUnavailableError:
        _apt_install(session, "postgresql", "The PostgreSQL server (pg_ctl)")
        pg_ctl = helper.find_pg_ctl()
    session.log(f"PostgreSQL: throwaway servers from {pg_ctl}")


def _ensure_redis(session: nox.Session) -> None:
    """Make sure a Redis server can be provided to the tests (apt package ``redis-server``).

    Installing the package may start a system service on 6379; the tests never use it: they start
    their own throwaway server on a free port (tests/_redis.py).
    """
    helper = _redis_helper()
    if os.environ.get(helper.ENV_URL):
        session.log(f"Redis: using {helper.ENV_URL}")
        return
    try:
        server = helper.find_redis_server()
    except helper.RedisUnavailableError:
        _apt_install(session, "redis-server", "The Redis server (redis-server)")
        server = helper.find_redis_server()
    session.log(f"Redis: throwaway servers from {server}")


def _ensure_chromium(session: nox.Session) -> None:
    """Make sure Debian's Chromium exists for the browser tests (Playwright downloads nothing)."""
    if not CHROMIUM.exists():
        _apt_install(session, "chromium", f"Chromium ({CHROMIUM})")
    session.log(f"Chromium: {CHROMIUM}")


def _install(session: nox.Session, extras: str = ALL_EXTRAS) -> None:
    session.install("-e", extras)


def _build_docs(session: nox.Session) -> dict[str, str]:
    """The versioned site in site/, built once; returns the environment that hands it to the tests.

    ``scripts/versioned_docs.py`` runs ``mkdocs build --strict`` inside mike's deploy to a throwaway
    git repository and exports the published tree (``site/<major.minor>/``, ``site/latest/``,
    ``site/versions.json``). The tests read this build (tests/_site.py) instead of building again:
    ``DATAFLOW_SITE_DIR`` is the site and ``DATAFLOW_SITE_LOG`` the build's output.
    """
    session.run("python", "scripts/versioned_docs.py", "--out", str(SITE_DIR), "--log", str(SITE_LOG),
                env=DOCS_ENV, silent=True)
    session.log(f"docs: built {SITE_DIR} (log: {SITE_LOG})")
    return {"DATAFLOW_SITE_DIR": str(SITE_DIR), "DATAFLOW_SITE_LOG": str(SITE_LOG)}


def _pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    """Run pytest; any exit code but 0 fails the session (5, "no tests collected", included)."""
    session.run(
        "python",
        "-m",
        "pytest",
        *PYTEST_PARALLEL,
        PYTEST_TIMEOUT,
        PYTEST_DURATIONS,
        *args,
        # Bytecode files on (a machine may turn them off): without them every worker and every
        # inner pytest run rewrites the asserts of all installed plugins again (tests/_subprocess.py).
        env={"DATAFLOW_TEST_REQUIRE_POSTGRES": "1", "DATAFLOW_TEST_REQUIRE_REDIS": "1",
             "PYTHONDONTWRITEBYTECODE": None, **(env or {})},
        success_codes=[0],
    )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run every test on both backends: mkdocs build --strict, then pytest tests/ -n 4.

    This is the README test command and what .ci/run (CI) runs. Extra arguments go to pytest:
    ``nox -s tests -- -k sqlite -x``.
    """
    _ensure_postgresql(session)
    _ensure_redis(session)
    _ensure_chromium(session)
    _install(session)
    site_env = _build_docs(session)
    _pytest(session, "tests", *session.posargs, env=site_env)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Serve the docs site at http://127.0.0.1:8000/dataflow/ with live reload (Ctrl+C stops it).

    Extra arguments replace the address: ``nox -s docs -- -a 0.0.0.0:8000``.
    """
    _install(session, ".[docs]")
    address = session.posargs or ["-a", "127.0.0.1:8000"]
    session.run("mkdocs", "serve", *address, env=DOCS_ENV)


@nox.session(python=PYTHON)
def docs_build(session: nox.Session) -> None:
    """Build the versioned docs site into site/ (mkdocs build --strict, published as a version by mike)."""
    _install(session, ".[docs]")
    _build_docs(session)


@nox.session(python=PYTHON)
def doc_validation(session: nox.Session) -> None:
    """Run the doc validation (tests/doc_validation) on both backends."""
    _ensure_postgresql(session)
    _ensure_redis(session)
    _install(session)
    _pytest(session, "tests/doc_validation", *session.posargs)


@nox.session(python=PYTHON)
def examples(session: nox.Session) -> None:
    """Run the example suites of examples/ (through tests/test_examples.py) on both backends."""
    _ensure_postgresql(session)
    _install(session)
    _pytest(session, "tests/test_examples.py", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks: python -m benchmarks, with a PostgreSQL server provided for them.

    The command runs under ``python tests/_postgres.py run --``, which provides PostgreSQL the same
    way as the tests (``DATAFLOW_TEST_POSTGRES_URL``, else a throwaway server, as root through
    .ci/pg_ctl_as_postgres) and sets ``DATAFLOW_BENCH_POSTGRES_URL`` to a fresh database and
    ``DATAFLOW_TEST_POSTGRES_URL`` to the admin URL, and under ``python tests/_redis.py run --``,
    which sets ``DATAFLOW_BENCH_REDIS_URL`` to a throwaway Redis server (the Redis query cache row).
    Everything is removed afterwards. Extra arguments go to the benchmarks: ``nox -s bench -- --help``.
    A run that writes ``benchmarks/results/latest.json`` also draws the plots next to it and
    regenerates ``docs/performance.md``; matplotlib (the plots), SQLAlchemy (the peer column) and
    uvicorn's standard extras (the gateway row) are installed here only, not as dependencies of the
    package.
    """
    _ensure_postgresql(session)
    _ensure_redis(session)
    _install(session, ".[test,redis]")
    # uvicorn[standard] (httptools, uvloop): how the gateway is served in production, for its load row.
    session.install("matplotlib>=3.8", "sqlalchemy[asyncio]>=2.0", "uvicorn[standard]>=0.30")
    session.run("python", "tests/_postgres.py", "run", "--", "python", "tests/_redis.py", "run", "--",
                "python", "-m", "benchmarks", *session.posargs)
    # The page, the plots and the JSON must agree (the same test runs in nox -s tests).
    session.run("python", "-m", "pytest", "-q", "-p", "no:randomly", "tests/unit/test_benchmarks_docs.py")


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Run the whole pytest suite 20 times in random order (a new seed each run), -n 4.

    Stops at the first failure and prints the seed to reproduce it with
    ``nox -s tests -- -p randomly --randomly-seed=SEED``. Prints "soak: N/20 runs passed".
    """
    _ensure_postgresql(session)
    _ensure_redis(session)
    _ensure_chromium(session)
    _install(session)
    site_env = _build_docs(session)
    passed = 0
    for run in range(1, SOAK_RUNS + 1):
        seed = random.randrange(1, 2**31)
        session.log(f"soak: run {run}/{SOAK_RUNS} with --randomly-seed={seed}")
        try:
            _pytest(
                session,
                "tests",
                "-p",
                "randomly",
                f"--randomly-seed={seed}",
                *session.posargs,
                env=site_env,
            )
        except nox.command.CommandFailed:
            session.error(
                f"soak: {passed}/{SOAK_RUNS} runs passed (run {run} failed with --randomly-seed={seed})"
            )
        passed += 1
    session.log(f"soak: {passed}/{SOAK_RUNS} runs passed")


#: The race tests' repetitions in ``nox -s stress`` (the test command runs their bounded default).
STRESS_RACE_REPEAT = "100"
STRESS_TESTS = ("tests/integration/test_first_use_races.py",)


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """Run the race tests with many more repetitions than the test command gives them.

    ``tests/integration/test_first_use_races.py`` repeats each first-use race
    ``DATAFLOW_RACE_REPEAT`` times (10 in ``nox -s tests``, 100 here), on both backends.
    """
    _ensure_postgresql(session)
    _ensure_redis(session)
    _install(session, ".[test,redis]")
    _pytest(session, *STRESS_TESTS, *session.posargs, env={"DATAFLOW_RACE_REPEAT": STRESS_RACE_REPEAT})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint: ruff check on the repository, mypy (strict) on src/dataflow; both always run."""
    _install(session, ".[lint,test,redis]")  # mypy reads redis-py's types
    failed: list[str] = []
    for command in (("ruff", "check", "."), ("mypy", "src/dataflow")):
        try:
            session.run(*command)
        except nox.command.CommandFailed:
            failed.append(" ".join(command))
    if failed:
        session.error(f"lint failed: {', '.join(failed)}")
