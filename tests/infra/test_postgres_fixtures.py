"""The test infrastructure itself: backend matrix, fresh databases, PostgreSQL provisioning.

Some checks run a child pytest on the probe files in ``tests/infra/probes/`` (they are not collected
by the normal run: their names do not start with ``test_``), because per-worker isolation, teardown
and "CI=true and no PostgreSQL fails the run" can only be seen from outside a pytest session.
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import aiosqlite
import asyncpg
import pytest
from _postgres import (
    ENV_PG_CTL,
    ENV_REQUIRE,
    ENV_URL,
    PostgresServer,
    PostgresUnavailableError,
    database_name,
    database_url,
    find_pg_ctl,
    handle_unavailable,
    is_ci,
    redact,
    unavailable_action,
)
from _subprocess import child_env

ROOT = Path(__file__).resolve().parents[2]
PROBES = Path(__file__).resolve().parent / "probes"

_SEEN_URLS: set[str] = set()


def _child_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child pytest: none of this run's variables, plus the overrides."""
    return child_env(**overrides)


def _run_pytest(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'bt'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _records(record_dir: Path) -> list[dict[str, str]]:
    return [
        json.loads(line)
        for path in sorted(record_dir.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


# --- fresh database per test, on each backend ---------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
async def test_database_url_is_fresh_and_empty(round_: int, backend: str, database_url: str) -> None:
    assert database_url not in _SEEN_URLS, "two tests got the same database"
    _SEEN_URLS.add(database_url)
    if backend == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        assert path.is_absolute() and not path.exists()
        async with aiosqlite.connect(path) as conn:
            cursor = await conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            assert await cursor.fetchone() == (0,)
            await conn.execute("CREATE TABLE leftover (n INTEGER)")
            await conn.commit()
        return
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        await conn.execute("CREATE TABLE leftover (n INTEGER)")
    finally:
        await conn.close()


@pytest.mark.sqlite_only(reason="checks the SQLite URL format")
def test_sqlite_database_url_is_a_file_in_tmp_path(database_url: str, tmp_path: Path) -> None:
    assert database_url == f"sqlite:///{tmp_path}/test.db"
    assert database_url.startswith("sqlite:////")


@pytest.mark.postgresql_only(reason="checks the PostgreSQL URL and database name")
def test_postgres_database_url_names_the_worker(database_url: str, postgres_server: PostgresServer) -> None:
    name = database_name(database_url)
    assert name.startswith(f"df_{postgres_server.worker.replace('-', '')}_")
    assert database_url == database_url.replace(name, "") + name
    assert postgres_server.database_exists(name)


def test_backend_ids_are_the_backend_names(backend: str, request: pytest.FixtureRequest) -> None:
    assert request.node.callspec.id == backend
    assert backend in ("sqlite", "postgresql")


# --- the postgres_server fixture ---------------------------------------------------------------


async def test_admin_url_works_with_asyncpg(postgres_server: PostgresServer) -> None:
    assert postgres_server.admin_url.startswith("postgresql://")
    conn = await asyncpg.connect(postgres_server.admin_url)
    name = f"df_asyncpg_{uuid.uuid4().hex[:8]}"
    try:
        assert await conn.fetchval(
            "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        )
        await conn.execute(f'CREATE DATABASE "{name}"')
        assert postgres_server.database_exists(name)
        await conn.execute(f'DROP DATABASE "{name}"')
    finally:
        await conn.close()
    assert not postgres_server.database_exists(name)


def test_create_and_drop_database_by_name_and_url(postgres_server: PostgresServer) -> None:
    name = f"df_named_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    assert url == database_url(postgres_server.admin_url, name)
    assert postgres_server.database_exists(url)
    postgres_server.drop_database(url)
    assert not postgres_server.database_exists(name)

    unnamed = postgres_server.create_database()
    assert unnamed != url
    postgres_server.drop_database(database_name(unnamed))
    assert not postgres_server.database_exists(unnamed)
    postgres_server.drop_database(unnamed)  # already gone: no error

    with pytest.raises(ValueError, match="invalid test database name"):
        postgres_server.create_database('bad"; DROP DATABASE postgres; --')


async def test_drop_database_forces_out_open_connections(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    conn = await asyncpg.connect(url)
    try:
        postgres_server.drop_database(url)
        assert not postgres_server.database_exists(url)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await conn.fetchval("SELECT 1")
    finally:
        conn.terminate()


# --- per-worker isolation and teardown, seen from a child pytest -n 2 ----------------------------


def _run_isolation_probe(tmp_path: Path, env: dict[str, str]) -> list[dict[str, str]]:
    record_dir = tmp_path / "records"
    record_dir.mkdir()
    env["DATAFLOW_PROBE_RECORD"] = str(record_dir)
    proc = _run_pytest([str(PROBES / "probe_isolation.py"), "-n", "2", "-q"], env, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "14 passed" in output, output  # 6 rounds x 2 backends + 2 single-backend tests
    records = _records(record_dir)
    assert len(records) == 12, records
    assert {r["worker"] for r in records} == {"gw0", "gw1"}, "both xdist workers must have run tests"
    urls = [r["url"] for r in records]
    assert len(set(urls)) == len(urls), "a database was handed to two tests"
    for record in records:
        if record["backend"] == "postgresql":
            assert database_name(record["url"]).startswith(f"df_{record['worker']}_")
    return [r for r in records if r["backend"] == "postgresql"]


def test_workers_get_their_own_throwaway_servers(tmp_path: Path) -> None:
    try:
        find_pg_ctl()
    except PostgresUnavailableError as exc:
        handle_unavailable(f"the throwaway-server check needs pg_ctl: {exc}")
    pg_records = _run_isolation_probe(tmp_path, _child_env(**{ENV_URL: None}))

    admin_by_worker: dict[str, set[str]] = {}
    for record in pg_records:
        admin_by_worker.setdefault(record["worker"], set()).add(record["admin_url"])
    assert all(len(urls) == 1 for urls in admin_by_worker.values()), admin_by_worker
    servers = [urls.pop() for urls in admin_by_worker.values()]
    assert len(set(servers)) == len(servers), f"workers shared a server: {servers}"
    for admin_url in servers:
        port = int(admin_url.rsplit(":", 1)[1].split("/", 1)[0])
        assert port != 5432
        assert _port_is_closed(port), f"the throwaway server on port {port} was not stopped"


def test_workers_get_their_own_databases_on_an_existing_server(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    pg_records = _run_isolation_probe(tmp_path, _child_env(**{ENV_URL: postgres_server.admin_url}))

    assert {r["admin_url"] for r in pg_records} == {postgres_server.admin_url}
    leftovers = [r["url"] for r in pg_records if postgres_server.database_exists(r["url"])]
    assert leftovers == [], "databases were not dropped after their tests"


def test_only_markers_generate_a_single_backend(tmp_path: Path) -> None:
    proc = _run_pytest(
        [str(PROBES / "probe_isolation.py"), "--collect-only", "-q", "-p", "no:randomly"],
        _child_env(),
        tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    ids = {line.split("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line}
    assert ids >= {"test_postgresql_only[postgresql]", "test_sqlite_only[sqlite]"}, ids
    assert not ids & {"test_postgresql_only[sqlite]", "test_sqlite_only[postgresql]"}, ids
    assert {"test_fresh_database[sqlite-0]", "test_fresh_database[postgresql-0]"} <= ids, ids


def test_only_marker_without_reason_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run_pytest(
        [str(PROBES / "probe_marker_without_reason.py"), "--collect-only", "-q"], _child_env(), tmp_path
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "needs reason=" in output, output


# --- PostgreSQL unavailable: fail under CI, skip otherwise ---------------------------------------


@pytest.mark.parametrize(
    ("ci", "explicit_url", "required", "expected"),
    [
        (True, False, False, "fail"),
        (True, True, False, "fail"),
        (False, True, False, "fail"),
        (False, False, True, "fail"),
        (False, False, False, "skip"),
    ],
)
def test_unavailable_action(ci: bool, explicit_url: bool, required: bool, expected: str) -> None:
    assert unavailable_action(ci=ci, explicit_url=explicit_url, required=required) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("", False)],
)
def test_is_ci(value: str, expected: bool) -> None:
    assert is_ci({"CI": value}) is expected


def test_is_ci_without_the_variable() -> None:
    assert is_ci({}) is False


def test_handle_unavailable_fails_under_ci() -> None:
    with pytest.raises(pytest.fail.Exception, match="no pg_ctl here") as info:
        handle_unavailable("no pg_ctl here", {"CI": "true"})
    assert "Failing" in str(info.value)


def test_handle_unavailable_fails_with_an_explicit_url() -> None:
    with pytest.raises(pytest.fail.Exception, match="connection refused"):
        handle_unavailable("connection refused", {ENV_URL: "postgresql://x@127.0.0.1:1/postgres"})


def test_handle_unavailable_fails_when_required() -> None:
    with pytest.raises(pytest.fail.Exception, match="no pg_ctl here"):
        handle_unavailable("no pg_ctl here", {ENV_REQUIRE: "1"})


def test_handle_unavailable_skips_locally() -> None:
    with pytest.raises(pytest.skip.Exception, match="no pg_ctl here"):
        handle_unavailable("no pg_ctl here", {})


def test_ci_run_without_postgresql_fails(tmp_path: Path) -> None:
    env = _child_env(CI="true", **{ENV_URL: None, ENV_PG_CTL: "/nonexistent/pg_ctl"})
    proc = _run_pytest([str(PROBES / "probe_unavailable.py"), "-rA"], env, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "1 passed, 1 error" in output, output
    assert "PostgreSQL is unavailable" in output and "/nonexistent/pg_ctl" in output, output


def test_local_run_without_postgresql_skips(tmp_path: Path) -> None:
    env = _child_env(CI=None, **{ENV_URL: None, ENV_REQUIRE: None, ENV_PG_CTL: "/nonexistent/pg_ctl"})
    proc = _run_pytest([str(PROBES / "probe_unavailable.py"), "-rA"], env, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "1 passed, 1 skipped" in output, output
    assert "PostgreSQL is unavailable" in output, output


def test_unreachable_explicit_url_fails_and_hides_the_password(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cr3tpw@127.0.0.1:{_closed_port()}/postgres"
    proc = _run_pytest(
        [str(PROBES / "probe_unavailable.py"), "-rA"],
        _child_env(CI=None, **{ENV_URL: url, ENV_REQUIRE: None}),
        tmp_path,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "1 passed, 1 error" in output, output
    assert "cannot connect to" in output and "postgres:***@" in output, output
    assert "s3cr3tpw" not in output, output


# --- helpers --------------------------------------------------------------------------------


def test_find_pg_ctl_prefers_the_newest_version(tmp_path: Path) -> None:
    for version in ("9.6", "13", "15"):
        binary = tmp_path / version / "bin" / "pg_ctl"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert find_pg_ctl({}, [tmp_path]) == tmp_path / "15" / "bin" / "pg_ctl"
    assert find_pg_ctl({ENV_PG_CTL: str(tmp_path / "13" / "bin" / "pg_ctl")}, [tmp_path]) == (
        tmp_path / "13" / "bin" / "pg_ctl"
    )
    with pytest.raises(PostgresUnavailableError, match="not an executable file"):
        find_pg_ctl({ENV_PG_CTL: str(tmp_path / "missing")}, [tmp_path])


def test_url_helpers() -> None:
    admin = "postgres://user:pw@db.example:6543/postgres?sslmode=disable"
    assert database_url(admin, "df_x") == "postgresql://user:pw@db.example:6543/df_x?sslmode=disable"
    assert database_url("postgresql+asyncpg://u@h:1/postgres", "a") == "postgresql://u@h:1/a"
    assert database_name("postgresql://u@h:1/df_abc") == "df_abc"
    assert database_name("df_abc") == "df_abc"
    assert redact(admin) == "postgres://user:***@db.example:6543/postgres?sslmode=disable"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_run_command_gives_a_fresh_database_and_cleans_up(postgres_server: PostgresServer) -> None:
    script = (
        "import asyncio, os, sys, asyncpg\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(os.environ['DATAFLOW_BENCH_POSTGRES_URL'])\n"
        "    print('DB', await conn.fetchval('SELECT current_database()'))\n"
        "    sql = \"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'\"\n"
        "    print('TABLES', await conn.fetchval(sql))\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n"
        "sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "_postgres.py"), "run", "--", sys.executable, "-c", script],
        env=_child_env(**{ENV_URL: postgres_server.admin_url}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 3, output  # the command's exit status passes through
    names = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("DB ")]
    assert len(names) == 1 and names[0].startswith("df_"), output
    assert "TABLES 0" in proc.stdout, output
    assert not postgres_server.database_exists(names[0]), "the run command left its database behind"


def test_run_command_without_postgresql_exits_2(tmp_path: Path) -> None:
    env = _child_env(**{ENV_URL: None, ENV_PG_CTL: str(tmp_path / "no-pg_ctl")})
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "_postgres.py"), "run", "--", "true"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PostgreSQL is unavailable" in proc.stderr
