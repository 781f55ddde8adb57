"""Bad input to migrations, on both backends: each gets the DF error that names it, and nothing is
half applied (the schema, the ``dataflow_migrations`` rows and the data are compared before and after).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _migrate_help import UserV1, create, instance, state, write

from dataflow import (
    DataFlow,
    InvalidMigrationHistoryError,
    InvalidMigrationTargetError,
    MigrationChecksumError,
    MigrationFailedError,
    MultipleHeadsError,
    UnsupportedMigrationOperationError,
)


@pytest.fixture
async def migrated(database_url: str, tmp_path: Path) -> AsyncIterator[DataFlow]:
    """A database at revision 0001_create_users with two rows."""
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        await db.generate_migration_async("create users")
        await db.migrate_async()
        await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"},
                     {"name": "Bob", "email": "bob@example.com", "nickname": "b"})
        yield db
    finally:
        await db.close()


def directory(db: DataFlow) -> Path:
    return db.migrations.directory


async def test_editing_an_applied_file(migrated: DataFlow) -> None:
    db = migrated
    path = directory(db) / "0001_create_users.py"
    write(directory(db), "0002_more", "0002_more", "0001_create_users",
          'add_column("users", "age", "int", default=0)', 'drop_column("users", "age")')
    before = await state(db)
    path.write_text(path.read_text().replace('column("name", "str")', 'column("name", "str", nullable=True)'))
    try:
        for attempt in (db.migrate_async, lambda: db.rollback_async("base"), db.migrations.current):
            with pytest.raises(MigrationChecksumError, match="DF-902") as info:
                await attempt()
            assert "0001_create_users" in str(info.value) and str(path) in str(info.value)
        with pytest.raises(MigrationChecksumError):
            db.migrate()  # the blocking form
        assert await state(db) == before
    finally:
        await db.close()


async def test_two_heads(migrated: DataFlow) -> None:
    db = migrated
    for name in ("0002_add_age", "0002_add_score"):
        column = name.split("_")[-1]
        write(directory(db), name, name, "0001_create_users",
              f'add_column("users", "{column}", "int", default=0)', f'drop_column("users", "{column}")')
    before = await state(db)
    try:
        calls = (db.migrate_async, lambda: db.rollback_async("base"), lambda: db.generate_migration_async("more"),
                 db.migrations.check)
        for attempt in calls:
            with pytest.raises(MultipleHeadsError, match="DF-901") as info:
                await attempt()
            assert "0002_add_age" in str(info.value) and "0002_add_score" in str(info.value)
        assert await state(db) == before
        assert not (directory(db) / "0003_more.py").exists()
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("call", "target", "words"),
    [
        ("migrate", "0009", "is not a revision of the history"),
        ("migrate", "+5", "migrate() takes None"),
        ("migrate", "0001_create_users", None),  # at 0002: behind the database
        ("rollback", "nope", "is not a revision of the history"),
        ("rollback", -3, "2 revision(s) applied"),
        ("rollback", "-3", "2 revision(s) applied"),
        ("rollback", "0003_three", "is not applied to this database"),
        ("rollback", "000", "matches several revisions"),
    ],
)
async def test_a_target_that_does_not_exist(
    migrated: DataFlow, call: str, target: str | int, words: str | None
) -> None:
    db = migrated
    write(directory(db), "0002_two", "0002_two", "0001_create_users",
          'add_column("users", "age", "int", default=0)', 'drop_column("users", "age")')
    write(directory(db), "0003_three", "0003_three", "0002_two",
          'add_column("users", "score", "int", default=0)', 'drop_column("users", "score")')
    await db.migrate_async("0002_two")
    before = await state(db)
    try:
        method = db.migrate_async if call == "migrate" else db.rollback_async
        with pytest.raises(InvalidMigrationTargetError, match="DF-903") as info:
            await method(target)  # type: ignore[arg-type]
        assert repr(target) in str(info.value) or str(target) in str(info.value)
        if words:
            assert words in str(info.value)
        assert await state(db) == before
    finally:
        await db.close()


async def test_previous_version_with_nothing_applied(database_url: str, tmp_path: Path) -> None:
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        await db.generate_migration_async("create users")
        with pytest.raises(InvalidMigrationTargetError, match="0 revision"):
            await db.rollback_async("previous_version")
        assert await db.migrations.current() is None
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("operation", "words"),
    [
        ('alter_column("users", "id", type="str")', "the primary key cannot be changed"),
        ('drop_column("users", "id")', "the primary key cannot be changed"),
        ('add_column("users", "price", "money; DROP TABLE users")', "is neither a DataFlow field type"),
    ],
)
async def test_an_operation_the_backend_cannot_do(migrated: DataFlow, operation: str, words: str) -> None:
    db = migrated
    write(directory(db), "0002_fine", "0002_fine", "0001_create_users",
          'add_column("users", "age", "int", default=0)', 'drop_column("users", "age")')
    write(directory(db), "0003_bad", "0003_bad", "0002_fine",
          f'execute("UPDATE users SET nickname = \'x\'"), {operation}', 'execute("SELECT 1")')
    before = await state(db)
    try:
        with pytest.raises(UnsupportedMigrationOperationError, match="DF-904") as info:
            await db.migrate_async()
        message = str(info.value)
        assert "Revision 0003_bad (0003_bad.py), upgrade operation 2" in message and words in message
        assert "nothing was applied" in message
        assert await state(db) == before  # not even 0002_fine, which comes first
    finally:
        await db.close()


@pytest.mark.sqlite_only(reason="the table rebuild, and what it cannot carry over, is SQLite's")
async def test_a_rebuild_sqlite_cannot_do(database_url: str, tmp_path: Path) -> None:
    db = DataFlow(database_url, migrations_dir=tmp_path / "migrations")
    write(db.migrations.directory, "0001_checked", "0001_checked", None,
          'execute("CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0))")',
          'execute("DROP TABLE items")')
    write(db.migrations.directory, "0002_nullable", "0002_nullable", "0001_checked",
          'execute("INSERT INTO items (qty) VALUES (1)"), alter_column("items", "qty", nullable=True)',
          'alter_column("items", "qty", nullable=False)')
    try:
        await db.migrate_async("0001_checked")
        before = await state(db)
        with pytest.raises(UnsupportedMigrationOperationError, match="DF-904") as info:
            await db.migrate_async()
        message = str(info.value)
        assert "0002_nullable" in message and "upgrade operation 2" in message and "'CHECK'" in message
        assert "the revision was rolled back" in message
        assert await state(db) == before  # the INSERT of operation 1 was rolled back too
    finally:
        await db.close()


async def test_a_failing_operation_leaves_the_last_good_revision(migrated: DataFlow) -> None:
    db = migrated
    write(directory(db), "0002_good", "0002_good", "0001_create_users",
          'add_column("users", "age", "int", default=7)', 'drop_column("users", "age")')
    write(directory(db), "0003_bad", "0003_bad", "0002_good",
          'add_column("users", "score", "int", default=1), add_column("users", "rank", "int")',
          'drop_column("users", "rank"), drop_column("users", "score")')
    try:
        with pytest.raises(MigrationFailedError, match="DF-905") as info:
            await db.migrate_async()
        message = str(info.value)
        failed = 'failed at upgrade operation 2 of 2, add_column("users", "rank", "int")'
        assert f"Revision 0003_bad (0003_bad.py) {failed}" in message
        assert "the database is at 0002_good" in message
        assert info.value.context["operation"] == 2 and info.value.context["table"] == "users"
        assert await db.migrations.current() == "0002_good"
        users = (await db.migrations.schema())["users"]
        assert users.column("age") is not None and users.column("score") is None  # operation 1 rolled back
        after_good = await state(db)
        with pytest.raises(MigrationFailedError):
            await db.migrate_async()
        assert await state(db) == after_good
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("0002_syntax", "revision = '0002'\nparent = '0001_create_users'\nupgrade = [\n",
         "loading it raised SyntaxError"),
        ("0002_missing", "revision = '0002'\nupgrade = []\n", "it does not set parent, downgrade"),
        ("0002_not_ops", "revision = '0002'\nparent = '0001_create_users'\nupgrade = ['ALTER TABLE x']\n"
         "downgrade = []\n", "upgrade[0] is 'ALTER TABLE x', not an operation"),
        ("0002_orphan", "revision = '0002'\nparent = '0000_gone'\nupgrade = []\ndowngrade = []\n",
         "its parent '0000_gone' is not a revision"),
        ("0002_duplicate", "revision = '0001_create_users'\nparent = None\nupgrade = []\ndowngrade = []\n",
         "revision id '0001_create_users' is also used by 0001_create_users.py"),
    ],
)
async def test_a_broken_migration_file(migrated: DataFlow, name: str, text: str, words: str) -> None:
    db = migrated
    (directory(db) / f"{name}.py").write_text(text)
    before = await state(db)
    try:
        with pytest.raises(InvalidMigrationHistoryError, match="DF-906") as info:
            await db.migrate_async()
        assert words in str(info.value), str(info.value)
        assert await state(db) == before
    finally:
        await db.close()


async def test_the_database_has_a_revision_the_folder_lacks(migrated: DataFlow) -> None:
    db = migrated
    (directory(db) / "0001_create_users.py").rename(directory(db) / "_0001_create_users.py.bak")
    before = await state(db)
    try:
        with pytest.raises(InvalidMigrationHistoryError, match="0001_create_users applied, which the migrations"):
            await db.migrate_async()
        assert await state(db) == before
    finally:
        await db.close()
