"""PostgreSQL test databases through an admin connection: create, drop, clone from a template, label
(``COMMENT ON DATABASE``) and list. Blocking: each call runs on a connection of its own, in a thread
of its own, so it works inside a running event loop too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from .._url import DatabaseURL
from ._base import quote_ident
from ._ddl import quote_literal
from ._postgres_errors import translate
from ._test_databases import TestDatabases

__all__ = ["PostgresTestDatabases", "drop_database", "ensure_database"]

_created_databases: set[tuple[str, str]] = set()
_created_lock = threading.Lock()


def _on_admin(admin: DatabaseURL, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(connection)`` on an admin connection, in a thread of its own (so this works inside a
    running event loop too), wait for it and return its result."""

    async def main() -> Any:
        import asyncpg

        try:
            conn = await asyncpg.connect(admin.to_dsn())
        except Exception as exc:
            raise translate(exc, admin) from exc
        try:
            return await work(conn)
        except asyncpg.PostgresError as exc:
            raise translate(exc, admin) from exc
        finally:
            await conn.close()

    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="dataflow-admin")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]


def ensure_database(admin: DatabaseURL, name: str) -> None:
    """Create database ``name`` through ``admin`` unless it exists (once per process and name)."""
    key = (admin.redacted, name)
    with _created_lock:
        if key in _created_databases:
            return

    async def create(conn: Any) -> None:
        import asyncpg

        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await conn.execute(f"CREATE DATABASE {quote_ident(name)}")
            except asyncpg.DuplicateDatabaseError:
                pass  # another worker won the race

    _on_admin(admin, create)
    with _created_lock:
        _created_databases.add(key)


def drop_database(admin: DatabaseURL, name: str) -> None:
    """Drop database ``name`` through ``admin`` (its connections are ended first)."""

    async def drop(conn: Any) -> None:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")

    _on_admin(admin, drop)
    with _created_lock:
        _created_databases.discard((admin.redacted, name))


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PostgresTestDatabases(TestDatabases):
    """``CREATE DATABASE ... TEMPLATE``, ``COMMENT ON DATABASE`` and ``pg_database``."""

    def clone(self, url: DatabaseURL, template: DatabaseURL, admin: DatabaseURL) -> None:
        name = quote_ident(url.database)

        async def clone(conn: Any) -> None:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {quote_ident(template.database)}")

        _on_admin(admin, clone)
        with _created_lock:
            _created_databases.add((admin.redacted, url.database))

    def note(self, url: DatabaseURL, admin: DatabaseURL) -> str | None:
        async def read(conn: Any) -> str | None:
            rows = await conn.fetch(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1",
                url.database,
            )
            return str(rows[0][0]) if rows else None

        result: str | None = _on_admin(admin, read)
        return result

    def set_note(self, url: DatabaseURL, admin: DatabaseURL, note: str) -> None:
        async def write(conn: Any) -> None:
            await conn.execute(f"COMMENT ON DATABASE {quote_ident(url.database)} IS {quote_literal(note)}")

        _on_admin(admin, write)

    def derived(self, base: DatabaseURL, admin: DatabaseURL) -> list[DatabaseURL]:
        async def names(conn: Any) -> list[str]:
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname",
                _like_prefix(base.database + "_") + "%",
            )
            return [str(row[0]) for row in rows]

        return [base.with_database(name) for name in _on_admin(admin, names)]
