"""``dataflow testdb``: lists the worker, template and migration-test databases the plugin derived
from ``DATABASE_URL`` (status 1 when there are some), drops them with ``--drop`` (status 0), and
leaves every other database alone. Both backends, real databases."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from _clihelp import child_env, dataflow_command, run

from dataflow._dialects import backend_for, parse_url

Cli = Callable[..., subprocess.CompletedProcess[str]]
DERIVED = ("gw0", "gw1", "template", "gw0_migrations")


def pg_query(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    """One statement through psycopg (synchronous, autocommit)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else []


def _create(base: str, suffixes: tuple[str, ...]) -> list[str]:
    """Create ``<base>_<suffix>`` databases (empty) the way the plugin's worker databases are named.

    PostgreSQL through psycopg: asyncpg's SSL negotiation has crashed (SIGSEGV) in a process that
    has psycopg's libpq loaded too, and this process has it (the ``postgres_server`` fixture).
    """
    url = parse_url(base)
    names = []
    for suffix in suffixes:
        derived = backend_for(url).with_database_suffix(url, suffix)
        if url.dialect == "sqlite":
            Path(derived.database).write_bytes(b"")
        else:
            pg_query(base, f'CREATE DATABASE "{derived.database}"')
        names.append(Path(derived.database).name)
    return names


def _exists(base: str, name: str) -> bool:
    url = parse_url(base)
    if url.dialect == "sqlite":
        return (Path(url.database).parent / name).exists()
    return bool(pg_query(base, "SELECT 1 FROM pg_database WHERE datname = %s", name))


def _drop(base: str, name: str) -> None:
    url = parse_url(base)
    if url.dialect == "sqlite":
        (Path(url.database).parent / name).unlink(missing_ok=True)
    else:
        pg_query(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_lists_then_drops_the_derived_databases_only(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    names = _create(test_db_url, DERIVED)
    [other] = _create(test_db_url, ("archive",))  # not a name the plugin makes: left alone
    try:
        listed = cli("testdb", "--json", cwd=tmp_path)
        assert listed.returncode == 1, listed.stderr
        data = json.loads(listed.stdout)
        assert data["command"] == "testdb" and data["dropped"] is False
        assert sorted(data["databases"]) == sorted(names)

        dropped = cli("testdb", "--drop", cwd=tmp_path)
        assert dropped.returncode == 0, dropped.stderr
        assert "dropped 4 test databases" in dropped.stdout
        assert all(f"  {name}" in dropped.stdout for name in names)
        assert not any(_exists(test_db_url, name) for name in names)

        again = cli("testdb", cwd=tmp_path)
        assert again.returncode == 0 and "found 0 test databases" in again.stdout, again.stdout
        assert _exists(test_db_url, other)
    finally:
        _drop(test_db_url, other)


def test_without_a_database_is_bad_usage(tmp_path: Path) -> None:
    proc = run([dataflow_command(), "testdb"], tmp_path, child_env(None))
    assert proc.returncode == 2
    assert "set DATABASE_URL or pass --url" in proc.stderr


def test_a_bad_url_is_bad_usage_with_df801(tmp_path: Path) -> None:
    proc = run([dataflow_command(), "testdb", "--url", "mysql://u:hunter2@h/db"], tmp_path, child_env(None))
    assert proc.returncode == 2
    assert "DF-801" in proc.stderr and "hunter2" not in proc.stderr
