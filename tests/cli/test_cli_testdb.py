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


def _create(base: str, suffixes: tuple[str, ...]) -> list[str]:
    """Create ``<base>_<suffix>`` databases (empty) the way the plugin's worker databases are named."""
    url = parse_url(base)
    backend = backend_for(url)
    names = []
    for suffix in suffixes:
        derived = backend.with_database_suffix(url, suffix)
        if url.dialect == "sqlite":
            Path(derived.database).write_bytes(b"")
        else:
            backend.ensure_database(derived, url)
        names.append(Path(derived.database).name)
    return names


def test_lists_then_drops_the_derived_databases_only(cli: Cli, tmp_path: Path, test_db_url: str) -> None:
    names = _create(test_db_url, DERIVED)
    [other] = _create(test_db_url, ("archive",))  # not a name the plugin makes: left alone

    listed = cli("testdb", "--json", cwd=tmp_path)
    assert listed.returncode == 1, listed.stderr
    data = json.loads(listed.stdout)
    assert data["command"] == "testdb" and data["dropped"] is False
    assert sorted(data["databases"]) == sorted(names)

    dropped = cli("testdb", "--drop", cwd=tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped 4 test databases" in dropped.stdout
    assert all(f"  {name}" in dropped.stdout for name in names)

    again = cli("testdb", cwd=tmp_path)
    assert again.returncode == 0 and "found 0 test databases" in again.stdout, again.stdout
    url = parse_url(test_db_url)
    assert backend_for(url).test_databases.derived(url, url)[0].database.endswith(other)
    backend_for(url).drop_database(backend_for(url).with_database_suffix(url, "archive"), url)


def test_without_a_database_is_bad_usage(tmp_path: Path) -> None:
    proc = run([dataflow_command(), "testdb"], tmp_path, child_env(None))
    assert proc.returncode == 2
    assert "set DATABASE_URL or pass --url" in proc.stderr


def test_a_bad_url_is_bad_usage_with_df801(tmp_path: Path) -> None:
    proc = run([dataflow_command(), "testdb", "--url", "mysql://u:hunter2@h/db"], tmp_path, child_env(None))
    assert proc.returncode == 2
    assert "DF-801" in proc.stderr and "hunter2" not in proc.stderr
