"""Fixtures of the command-line tests (helpers in ``_clihelp.py``).

``test_db_url`` (function)
    A fresh database of the current backend whose name says it is a test database.
``cli`` (function)
    ``cli("doctor", cwd=path)`` runs the ``dataflow`` console script with ``DATABASE_URL`` set to
    ``test_db_url``.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from _clihelp import child_env, dataflow_command, run
from _postgres import PostgresServer


@pytest.fixture
def test_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database whose name says it is a test database (``dataflow doctor`` checks that)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'app_test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database(f"app_test_{uuid.uuid4().hex[:12]}")
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def cli(test_db_url: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli("doctor", ".", cwd=path)`` runs the console script with DATABASE_URL set to a test database."""

    def invoke(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run([dataflow_command(), *args], cwd, env if env is not None else child_env(test_db_url))

    return invoke
