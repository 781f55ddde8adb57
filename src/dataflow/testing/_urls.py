"""Database URLs for tests: one database per xdist worker, created on demand."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._dialects import backend_for, parse_url
from .._url import DatabaseURL

__all__ = ["SINGLE_PROCESS", "drop_migrations_url", "migrations_url", "run_worker", "session_url", "worker_url"]

#: The worker name of a run without xdist that keeps its database (``--dataflow-reuse-db``).
SINGLE_PROCESS = "main"


def _worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


def run_worker(options: Any) -> str | None:
    """The name this process's database is derived with: the xdist worker's (``gw0``, ...); in a run
    without xdist that keeps its databases, :data:`SINGLE_PROCESS`; else None (``DATABASE_URL`` as
    is, also in the controller of an xdist run, whose workers derive their own).

    ``options``: pytest's parsed options (``config.option`` or ``known_args_namespace``).
    """
    worker = _worker()
    if worker:
        return worker
    controller = bool(getattr(options, "numprocesses", None)) or getattr(options, "dist", "no") != "no"
    return SINGLE_PROCESS if getattr(options, "dataflow_reuse_db", False) and not controller else None


def session_url(env_url: str | None, tmp_dir: Path) -> str:
    """The session's database: ``DATABASE_URL`` per xdist worker, else a SQLite file in ``tmp_dir``."""
    if not env_url:
        return f"sqlite:///{Path(tmp_dir) / 'session.db'}"
    url = parse_url(env_url)
    if url.is_memory:
        return env_url
    worker = _worker()
    if not worker:
        return env_url
    backend = backend_for(url)
    worker_db: DatabaseURL = backend.with_database_suffix(url, worker)
    backend.ensure_database(worker_db, admin=url)
    return worker_db.render()


def worker_url(env_url: str | None, session: str, tmp_path: os.PathLike[str]) -> str:
    """A test's database: a fresh SQLite file without ``DATABASE_URL``, else the session database."""
    if not env_url:
        return f"sqlite:///{Path(tmp_path) / 'test.db'}"
    return session


def migrations_url(env_url: str, session: str) -> str:
    """The database of the migration checks when ``DATABASE_URL`` is set: ``<session database>_migrations``,
    created on demand (``:memory:`` stays in memory)."""
    url = parse_url(session)
    if url.is_memory:
        return session
    backend = backend_for(url)
    own: DatabaseURL = backend.with_database_suffix(url, "migrations")
    backend.ensure_database(own, admin=parse_url(env_url))
    return own.render()


def drop_migrations_url(env_url: str, url: str) -> None:
    """Remove the database :func:`migrations_url` created."""
    parsed = parse_url(url)
    if not parsed.is_memory:
        backend_for(parsed).drop_database(parsed, admin=parse_url(env_url))
