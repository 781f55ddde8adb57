"""The plugin's migration tests (``from dataflow.testing.migrations import *``), run by inner suites
on each backend: a good history passes all five; each defect fails the one test that is about it,
with a message that says what to do.
"""

from __future__ import annotations

import textwrap

import pytest
from ts_helpers import database_name, pg_query

CONFTEST = """
import pytest

from dataflow import Field

pytest_plugins = ["dataflow.testing"]


class User:
    id: int
    name: str = Field(index=True)
    email: str = Field(unique=True)
    age: int = 0


@pytest.fixture(scope="session")
def dataflow_models():
    return [User]
"""

FIRST = """
from dataflow.migrations import column, create_table, drop_table

revision = "0001_create_users"
parent = None
message = "create users"

upgrade = [
    create_table(
        "users",
        columns=[column("id", "int", primary_key=True), column("name", "str"), column("email", "str")],
        unique=[("email",)],
    ),
]

downgrade = [drop_table("users")]
"""


def second(revision: str = "0002_age", parent: str = "0001_create_users", *, upgrade: str = "", downgrade: str = ""
           ) -> str:
    up = upgrade or 'add_column("users", "age", "int", default=0), create_index("users", ["name"])'
    down = downgrade or 'drop_index("users", ["name"]), drop_column("users", "age")'
    return textwrap.dedent(f"""
        from dataflow.migrations import *  # noqa: F403

        revision = "{revision}"
        parent = "{parent}"
        message = "age and a name index"

        upgrade = [{up}]

        downgrade = [{down}]
        """)


def module(folder: str, test: str, models: str = "") -> str:
    """A test module that checks ``folder`` with one of the ready-made tests."""
    return textwrap.dedent(f"""
        from pathlib import Path

        import pytest

        from dataflow.testing.migrations import {test}


        @pytest.fixture(scope="session")
        def dataflow_migrations_dir():
            return Path(__file__).parent / "{folder}"
        """) + models


def folder(inner: pytest.FixtureRequest, name: str, *revisions: tuple[str, str]) -> None:
    path = inner.pytester.path / name  # type: ignore[attr-defined]
    path.mkdir()
    for file_name, text in revisions:
        (path / f"{file_name}.py").write_text(text)


def test_a_good_history_passes_all_five_with_one_line(inner) -> None:  # type: ignore[no-untyped-def]
    inner.pytester.makeconftest(CONFTEST)
    folder(inner, "migrations", ("0001_create_users", FIRST), ("0002_age", second()))
    inner.pytester.makepyfile(test_migrations="from dataflow.testing.migrations import *  # noqa: F403\n")
    # Next to tests that keep the models' tables in the session database: the migration tests use a
    # database of their own, so "upgrade from empty" still starts from empty.
    inner.pytester.makepyfile(test_app="""
        async def test_uses_the_session_database(dataflow_isolated):
            assert "User" in dataflow_isolated.models
        """)
    result = inner.run("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=6)
    for name in ("single_head", "upgrade_from_empty", "match_models", "up_down_up", "keep_data"):
        assert f"test_migrations.py::test_migrations_{name} PASSED" in result.stdout.str()
    if inner.backend == "postgresql":  # the checks' own database is dropped at the end of the session
        own = database_name(inner.database_url) + "_migrations"
        assert not pg_query(inner.admin_url, "SELECT 1 FROM pg_database WHERE datname = %s", own)


def test_each_defect_fails_its_own_test(inner) -> None:  # type: ignore[no-untyped-def]
    inner.pytester.makeconftest(CONFTEST)
    folder(inner, "heads", ("0001_create_users", FIRST), ("0002_age", second()),
           ("0002_other", second("0002_other", upgrade='execute("SELECT 1")', downgrade='execute("SELECT 1")')))
    folder(inner, "forgot", ("0001_create_users", FIRST))
    folder(inner, "nodown", ("0001_create_users", FIRST), ("0002_age", second(downgrade='drop_column("users", "age")')))
    folder(inner, "lossy", ("0001_create_users", FIRST),
           ("0002_age", second(upgrade='add_column("users", "age", "int", default=0), create_index("users", ["name"]), '
                                       'execute("DELETE FROM users")')))
    folder(inner, "broken", ("0001_create_users", FIRST),
           ("0002_age", second(upgrade='execute("UPDATE nowhere SET x = 1")')))
    inner.pytester.makepyfile(
        test_heads=module("heads", "test_migrations_single_head"),
        test_forgot=module("forgot", "test_migrations_match_models"),
        test_nodown=module("nodown", "test_migrations_up_down_up"),
        test_lossy=module("lossy", "test_migrations_keep_data"),
        test_broken=module("broken", "test_migrations_upgrade_from_empty"),
    )
    result = inner.run("-p", "no:randomly", "-v", "--tb=short")
    result.assert_outcomes(failed=5)
    out = result.stdout.str()
    assert "MultipleHeadsError: DF-901" in out and "2 heads: 0002_age" in out
    assert "the models and the migrations disagree" in out
    assert 'add_column("users", "age", "int", default=0)' in out
    assert 'create_index("users", ["name"], name="ix_users_name")' in out
    assert "the downgrade of 0002_age (0002_age.py) does not undo its upgrade" in out
    assert 'drop_index("users", ["name"])' in out
    assert "0002_age (0002_age.py) lost or changed 1 of the 1 row(s) of users written before it" in out
    assert "MigrationFailedError: DF-905" in out and 'execute("UPDATE nowhere SET x = 1")' in out


def test_the_checks_run_under_xdist(inner) -> None:  # type: ignore[no-untyped-def]
    inner.pytester.makeconftest(CONFTEST)
    folder(inner, "migrations", ("0001_create_users", FIRST), ("0002_age", second()))
    inner.pytester.makepyfile(test_migrations="from dataflow.testing.migrations import *  # noqa: F403\n")
    result = inner.run("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=5)
