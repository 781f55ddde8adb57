"""Worker databases (``dataflow.testing._workerdb``): under ``-n 2`` each worker gets ``<name>_gwN``,
cloned from ``<name>_template``; ``--dataflow-reuse-db`` keeps them while the models and migrations
are unchanged and rebuilds them when they change; ``--dataflow-drop-db`` removes them.

Each inner run is a real ``pytest -n 2`` against a real server (SQLite: a ``DATABASE_URL`` file).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any as InnerSuite  # the `inner` fixture (tests/testing_support/conftest.py)

import pytest
from ts_helpers import database_name, pg_query

from dataflow._dialects import backend_for, parse_url

CONFTEST = """
import pytest


class Item:
    id: int
    name: str
{extra}

@pytest.fixture(scope="session")
def dataflow_models():
    return [Item]
"""

TESTS = """
from dataflow import AsyncLocalRuntime


async def create(db, **fields):
    workflow = db.workflow()
    workflow.add_node("ItemCreateNode", "create", fields)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results["create"]


async def test_one(dataflow_isolated):
    assert (await create(dataflow_isolated, **FIELDS))["name"] == "a"


async def test_two(dataflow_isolated):
    assert (await create(dataflow_isolated, **FIELDS))["name"] == "a"
"""


def _sqlite_url(inner: InnerSuite, monkeypatch: pytest.MonkeyPatch) -> str:
    """The base database of the run: the PostgreSQL database of ``inner``, or a SQLite file."""
    if inner.database_url is None:
        url = f"sqlite:///{inner.pytester.path / 'app.db'}"
        monkeypatch.setenv("DATABASE_URL", url)
        return url
    return inner.database_url


def _write(inner: InnerSuite, *, price: bool) -> None:
    extra = "    price: int = 0\n" if price else ""
    fields = '{"name": "a", "price": 3}' if price else '{"name": "a"}'
    inner.pytester.makeconftest(CONFTEST.format(extra=extra))
    inner.pytester.makepyfile(test_items=f"FIELDS = {fields}\n" + TESTS)


def _notes(base: str, suffixes: tuple[str, ...] = ("gw0", "gw1", "template")) -> dict[str, str | None]:
    """The label of each worker database and of the template (``None``: it does not exist).

    Read with psycopg on PostgreSQL (``COMMENT ON DATABASE``), from the label files on SQLite.
    """
    url = parse_url(base)
    names = {suffix: backend_for(url).with_database_suffix(url, suffix) for suffix in suffixes}
    if url.dialect == "postgresql":
        admin = url.render()
        return {
            suffix: next(iter(row[0] for row in pg_query(admin, _NOTE, name.database)), None)
            for suffix, name in names.items()
        }
    return {suffix: backend_for(url).test_databases.note(name, url) for suffix, name in names.items()}


_NOTE = "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s"


def _summary(output: str) -> dict[str, str]:
    """``{worker: what the plugin did}`` from the run's ``dataflow worker databases:`` lines."""
    found = re.findall(r"dataflow worker databases: \S*_(gw\d+|main)[^\s:]*: (\w+)", output)
    return dict(found)


#: The xdist options of a run, and the workers whose databases it makes.
PARALLEL = pytest.param(("-n", "2"), ("gw0", "gw1"), id="n2")
SINGLE = pytest.param((), ("main",), id="no-xdist")


@pytest.mark.parametrize(("xdist", "workers"), [PARALLEL, SINGLE])
def test_reuse_db_skips_creation_then_rebuilds_after_a_model_change(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch, xdist: tuple[str, ...], workers: tuple[str, ...]
) -> None:
    base = _sqlite_url(inner, monkeypatch)
    suffixes = (*workers, "template")
    _write(inner, price=False)

    first = inner.run(*xdist, "--dataflow-reuse-db")
    first.assert_outcomes(passed=2)
    assert _summary(first.stdout.str()) == dict.fromkeys(workers, "cloned"), first.stdout.str()
    assert "(built, schema" in first.stdout.str()
    after_first = _notes(base, suffixes)
    assert all(after_first.values()), after_first

    second = inner.run(*xdist, "--dataflow-reuse-db")
    second.assert_outcomes(passed=2)
    assert _summary(second.stdout.str()) == dict.fromkeys(workers, "reused"), second.stdout.str()
    assert _notes(base, suffixes) == after_first  # nothing was created again: the labels name the first run

    _write(inner, price=True)  # a new field: a table the old worker databases do not have
    third = inner.run(*xdist, "--dataflow-reuse-db")
    third.assert_outcomes(passed=2)  # the inserts with price= need the rebuilt tables
    assert _summary(third.stdout.str()) == dict.fromkeys(workers, "cloned"), third.stdout.str()
    after_third = _notes(base, suffixes)
    for suffix, note in after_third.items():
        assert note != after_first[suffix], suffix  # another schema fingerprint
        assert note is not None and "schema" in note


def test_without_reuse_every_run_clones_afresh_from_a_template_built_in_that_run(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    labels = []
    for _ in range(2):
        result = inner.run("-n", "2")
        result.assert_outcomes(passed=2)
        assert _summary(result.stdout.str()) == {"gw0": "cloned", "gw1": "cloned"}
        assert result.stdout.str().count("(built, schema") == 1  # one worker builds, the other waits
        notes = _notes(base)
        assert notes["gw0"] == notes["gw1"] == notes["template"]  # all three labelled with this run
        labels.append(notes["template"])
    assert labels[0] != labels[1]


@pytest.mark.postgresql_only(reason="pg_database OIDs exist on PostgreSQL only")
def test_postgres_clone_is_a_new_database_and_reuse_keeps_its_oid(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, "skips creation" is checked on the server itself: same database OIDs."""
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    name = database_name(base)
    query = "SELECT datname, oid FROM pg_database WHERE datname LIKE %s ORDER BY datname"
    inner.run("-n", "2", "--dataflow-reuse-db").assert_outcomes(passed=2)
    assert inner.admin_url is not None
    first = pg_query(inner.admin_url, query, name + "\\_%")
    assert [n for n, _ in first] == [f"{name}_gw0", f"{name}_gw1", f"{name}_template"]
    inner.run("-n", "2", "--dataflow-reuse-db").assert_outcomes(passed=2)
    assert pg_query(inner.admin_url, query, name + "\\_%") == first
    inner.run("-n", "2").assert_outcomes(passed=2)
    third = pg_query(inner.admin_url, query, name + "\\_%")
    assert {n for n, _ in third} == {n for n, _ in first}
    assert not set(third) & set(first)  # recreated: every OID is new


def test_drop_db_removes_the_worker_databases_and_the_template(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    inner.run("-n", "2", "--dataflow-reuse-db").assert_outcomes(passed=2)
    assert all(_notes(base).values())
    result = inner.run("-n", "2", "--dataflow-drop-db")
    result.assert_outcomes(passed=2)
    dropped = r"dropped 3 test database\(s\): \S+_gw0\S*, \S+_gw1\S*, \S+_template\S*$"
    assert re.search(dropped, result.stdout.str(), re.M)
    assert _notes(base) == {"gw0": None, "gw1": None, "template": None}


def test_reuse_and_drop_together_is_df803(inner: InnerSuite, monkeypatch: pytest.MonkeyPatch) -> None:
    _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    result = inner.run("--dataflow-reuse-db", "--dataflow-drop-db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "DF-803: Conflicting test database options" in result.stderr.str()


def test_the_template_is_migrated_when_the_migrations_folder_has_revisions(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    # Revision files name no backend: generate on a scratch SQLite file, apply on the run's backend.
    _generate_migration(inner.pytester.path / "migrations", f"sqlite:///{tmp_path / 'scratch.db'}")
    inner.pytester.makepyfile(
        test_ledger="""
        async def test_the_worker_database_is_at_the_head(dataflow_isolated):
            assert await dataflow_isolated.migrations.current() is not None
        """
    )
    first = inner.run("-n", "2", "--dataflow-reuse-db")
    first.assert_outcomes(passed=3)
    before = _notes(base)
    head = _head(inner.pytester.path / "migrations")
    (inner.pytester.path / "migrations" / "0002_touch.py").write_text(
        "from dataflow.migrations import *  # noqa: F403\n\n"
        f"revision = '0002_touch'\nparent = {head!r}\nmessage = 'touch'\n\n"
        "upgrade = [execute('SELECT 1')]\n\ndowngrade = [execute('SELECT 1')]\n"
    )
    second = inner.run("-n", "2", "--dataflow-reuse-db")
    second.assert_outcomes(passed=3)
    assert _summary(second.stdout.str()) == {"gw0": "cloned", "gw1": "cloned"}  # new fingerprint
    assert _notes(base)["template"] != before["template"]


def _generate_migration(directory: Path, scratch_url: str) -> None:
    """Write the first revision for ``Item`` with DataFlow's own autogenerate (on a scratch database)."""
    from dataflow import DataFlow

    class Item:
        id: int
        name: str

    db = DataFlow(scratch_url, migrations_dir=directory)
    db.model(Item)
    assert db.generate_migration("items") is not None
    asyncio.run(db.close())


def _head(directory: Path) -> str:
    (first,) = [p for p in directory.glob("*.py") if p.name != "__init__.py"]
    match = re.search(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", first.read_text(), re.M)
    assert match
    return match.group(1)


def test_without_xdist_and_reuse_the_tests_use_database_url_as_it_is(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No workers and nothing to keep: the tests use DATABASE_URL's database, nothing is cloned."""
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    for options in ((), ("--dataflow-drop-db",)):
        result = inner.run(*options)
        result.assert_outcomes(passed=2)
        assert "cloned from" not in result.stdout.str() and "reused" not in result.stdout.str()
        assert _notes(base, ("gw0", "gw1", "main", "template")) == dict.fromkeys(("gw0", "gw1", "main", "template"))


def test_without_xdist_reuse_points_database_url_at_the_kept_database(
    inner: InnerSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code under test that reads DATABASE_URL (an app module) uses the kept ``<name>_main`` too."""
    base = _sqlite_url(inner, monkeypatch)
    _write(inner, price=False)
    expected = backend_for(parse_url(base)).with_database_suffix(parse_url(base), "main").render()
    inner.pytester.makepyfile(
        test_env=f"""
import os


def test_database_url_names_the_kept_database():
    assert os.environ["DATABASE_URL"] == {expected!r}
"""
    )
    inner.run("--dataflow-reuse-db").assert_outcomes(passed=3)
    inner.run().assert_outcomes(passed=2, failed=1)  # without the option: DATABASE_URL as it is
