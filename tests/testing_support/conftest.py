"""Shared helpers for the testing-support tests (test mode, pool lifecycle, the pytest plugin).

``pytester`` comes from the root ``tests/conftest.py`` (``pytest_plugins = ["pytester"]``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.pathlib import make_numbered_dir
from _subprocess import child_env
from doc_validation.docval import forkserver
from ts_helpers import INNER_INI, database_name, pg_query

from dataflow import DataFlow


@pytest.fixture(autouse=True)
def _reset_test_mode() -> Iterator[None]:
    """No test here may leave a process-wide test-mode default behind."""
    DataFlow.reset_test_mode()
    yield
    DataFlow.reset_test_mode()


# --- pytester: inner suites that use the dataflow.testing plugin ---------------------------------



class InnerSuite:
    """Runs an inner pytest suite in a subprocess against one backend."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: str,
                 request: pytest.FixtureRequest) -> None:
        self.pytester = pytester
        self.backend = backend
        self.admin_url: str | None = None
        self.database_url: str | None = None
        kept = child_env()
        for name in list(os.environ):
            if name not in kept:  # the outer run's variables (tests/_subprocess.py)
                monkeypatch.delenv(name, raising=False)
        if backend == "postgresql":
            server = request.getfixturevalue("postgres_server")
            self.server = server
            self.admin_url = server.admin_url
            self.database_url = server.create_database()
            request.addfinalizer(self.drop_databases)
            monkeypatch.setenv("DATABASE_URL", self.database_url)
        pytester.makeini(INNER_INI)

    def drop_databases(self) -> None:
        """Drop the test database and every per-worker database derived from it."""
        assert self.database_url is not None and self.admin_url is not None
        base = database_name(self.database_url)
        rows = pg_query(self.admin_url, "SELECT datname FROM pg_database WHERE datname LIKE %s", base + "%")
        for (name,) in rows:
            self.server.drop_database(name)

    def run(self, *args: str, timeout: float = 120) -> pytest.RunResult:
        """``pytester.runpytest_subprocess(*args)``, started as a fork of the doc harness's server
        (pytest, psycopg and dataflow imported once per worker; ``DOCVAL_FORK=0``: a plain subprocess)."""
        basetemp = make_numbered_dir(root=self.pytester.path, prefix="runpytest-", mode=0o700)
        argv = ["-m", "pytest", f"--basetemp={basetemp}", *args]
        env = dict(os.environ)  # what pytester.popen passes: the working directory first on PYTHONPATH
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
        print("running: python", *argv, "(fork server)")
        print("     in:", Path.cwd())
        started = time.monotonic()
        proc = forkserver.try_run(argv, Path.cwd(), env, timeout)
        if proc is None:
            return self.pytester.runpytest_subprocess(*args, timeout=timeout)
        if forkserver.timed_out(proc, timeout):
            raise self.pytester.TimeoutExpired(f"{timeout} second timeout expired running: {argv}")
        print(proc.stdout)
        print(proc.stderr, file=sys.stderr)
        return pytest.RunResult(proc.returncode, proc.stdout.splitlines(), proc.stderr.splitlines(),
                                time.monotonic() - started)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: str,
          request: pytest.FixtureRequest) -> InnerSuite:
    """An inner pytest suite (pytester) wired to the current backend through ``DATABASE_URL``.

    SQLite: no ``DATABASE_URL`` (the plugin uses SQLite files in tmp paths).
    PostgreSQL: ``DATABASE_URL`` is a fresh database; it and its ``_gwN`` copies are dropped after.
    """
    return InnerSuite(pytester, monkeypatch, backend, request)
