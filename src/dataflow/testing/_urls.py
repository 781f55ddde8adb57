"""Database URLs for tests: one database per xdist worker, created on demand."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from .._url import DatabaseURL

__all__ = ["ensure_postgres_database", "session_url", "worker_url"]

_created: set[tuple[str, str]] = set()
_lock = threading.Lock()


def _worker() -> str | None:
    return os.environ.get("PYTEST_XDIST_WORKER")


def _with_suffix(url: DatabaseURL, suffix: str) -> DatabaseURL:
    if url.dialect == "sqlite":
        path = Path(url.database)
        return DatabaseURL(
            "sqlite", str(path.with_name(f"{path.stem}_{suffix}{path.suffix}")), query=url.query
        )
    return DatabaseURL(
        "postgresql", f"{url.database}_{suffix}", url.host, url.port, url.user, url.password, url.query
    )


def ensure_postgres_database(admin: DatabaseURL, name: str) -> None:
    """Create database ``name`` through ``admin`` unless it exists (once per process)."""
    key = (admin.redacted, name)
    with _lock:
        if key in _created:
            return

    async def create() -> None:
        import asyncpg

        from .._dialects.postgresql import translate

        try:
            conn = await asyncpg.connect(admin.to_dsn())
        except Exception as exc:
            raise translate(exc, admin) from exc
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                try:
                    await conn.execute(f'CREATE DATABASE "{name}"')
                except asyncpg.DuplicateDatabaseError:
                    pass  # another worker won the race
        finally:
            await conn.close()

    errors: list[BaseException] = []

    def run() -> None:  # a thread of its own, so this works inside a running event loop too
        try:
            asyncio.run(create())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="dataflow-create-database")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    with _lock:
        _created.add(key)


def session_url(env_url: str | None, tmp_dir: Path) -> str:
    """The session's database: ``DATABASE_URL`` per xdist worker, else a SQLite file in ``tmp_dir``."""
    if not env_url:
        return f"sqlite:///{Path(tmp_dir) / 'session.db'}"
    url = DatabaseURL.parse(env_url)
    if url.is_memory:
        return env_url
    worker = _worker()
    if worker:
        url = _with_suffix(url, worker)
    if url.dialect == "postgresql":
        if not worker:
            return env_url
        ensure_postgres_database(DatabaseURL.parse(env_url), url.database)
    return _render(url)


def _render(url: DatabaseURL) -> str:
    if url.dialect == "sqlite":
        return f"sqlite:///{url.database}" + (f"?{url.query}" if url.query else "")
    return url.to_dsn()


def worker_url(env_url: str | None, session: str, tmp_path: os.PathLike[str]) -> str:
    """A test's database: a fresh SQLite file without ``DATABASE_URL``, else the session database."""
    if not env_url:
        return f"sqlite:///{Path(tmp_path) / 'test.db'}"
    return session
