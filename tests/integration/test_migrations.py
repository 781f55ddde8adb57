"""Migrations on both backends: the seed's calls, the v1 -> v2 -> v3 acceptance scenario, every
operation, SQLite's table rebuild, the blocking and awaitable forms, concurrent runs.

The failure cases (DF-901 ... DF-906, nothing half applied) are in test_migrations_errors.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _migrate_help import UserV1, UserV2, UserV3, create, instance, ledger, rows, snapshot, write

from dataflow import DataFlow, Field, MigrationFailedError, TransactionError
from dataflow.migrations import add_column, alter_column, create_index, drop_column, execute

# --- the seed's three calls ------------------------------------------------------------------------

SEED_SCRIPT = """\
from dataflow import DataFlow

db = DataFlow()


@db.model
class User:
    id: int
    name: str
    email: str


db.generate_migration("add_user_table")
db.migrate()
db.rollback("previous_version")
print(sorted(p.name for p in db.migrations.directory.glob("*.py")))
"""


def test_seed_calls_run_as_written_in_a_plain_script(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(SEED_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['0001_add_user_table.py']\n"
    assert "Traceback" not in result.stderr


async def test_seed_calls_leave_the_table_created_then_dropped(database_url: str, tmp_path: Path) -> None:
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        path = await db.generate_migration_async("add_user_table")
        assert path == tmp_path / "migrations" / "0001_add_user_table.py"
        assert await db.migrate_async() == ["0001_add_user_table"]
        assert "users" in await db.migrations.schema()
        assert await db.rollback_async("previous_version") == ["0001_add_user_table"]
        assert "users" not in await db.migrations.schema()
        assert await db.migrations.current() is None
    finally:
        await db.close()


# --- the acceptance scenario: v1 -> v2 -> v3 with rows at each step, rollback to v1 -----------------


async def test_v1_v2_v3_keeps_every_row_and_rollback_restores_v1(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    db = instance(database_url, directory, UserV1)
    await db.generate_migration_async("create users")
    assert await db.migrate_async() == ["0001_create_users"]
    v1_rows = await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "ada"},
                           {"name": "Bob", "email": "bob@example.com", "nickname": "bob"})
    v1_schema = snapshot(await db.migrations.schema())
    v1_table = await rows(db, "users")
    await db.close()

    db = instance(database_url, directory, UserV2)
    path = await db.generate_migration_async("age, name index, optional nickname")
    assert path is not None
    text = path.read_text()
    assert 'add_column("users", "age", "int", default=0)' in text
    assert 'create_index("users", ["name"], name="ix_users_name")' in text
    assert 'alter_column("users", "nickname", nullable=True)' in text
    assert "fill=<value>" in text  # the generated note: the downgrade makes nickname NOT NULL again
    # The review a person does: rows written at v2 may hold NULL nicknames; the downgrade fills them.
    path.write_text(text.replace('alter_column("users", "nickname", nullable=False)',
                                 'alter_column("users", "nickname", nullable=False, fill="")'))
    assert await db.migrate_async() == ["0002_age_name_index_optional_nickname"]
    assert not await db.migrations.check()
    after_v2 = await rows(db, "users")
    assert [r[:4] for r in after_v2] == [r[:4] for r in v1_table] and {r[4] for r in after_v2} == {0}
    await create(db, "UserV2", {"name": "Cy", "email": "cy@example.com", "age": 41},
                 {"name": "Di", "email": "di@example.com", "nickname": "di", "age": 7})
    await db.close()

    db = instance(database_url, directory, UserV3)
    path = await db.generate_migration_async("drop age")
    assert path is not None and 'drop_column("users", "age")' in path.read_text()
    assert 'add_column("users", "age", "int", default=0)' in path.read_text()  # its downgrade
    assert await db.migrate_async() == ["0003_drop_age"]
    assert not await db.migrations.check()
    await create(db, "UserV3", {"name": "Eve", "email": "eve@example.com"})
    after_v3 = await rows(db, "users")
    assert [(r[0], r[1], r[2], r[3]) for r in after_v3] == [
        (1, "Ada", "ada@example.com", "ada"), (2, "Bob", "bob@example.com", "bob"),
        (3, "Cy", "cy@example.com", None), (4, "Di", "di@example.com", "di"), (5, "Eve", "eve@example.com", None),
    ]
    assert await db.rollback_async("0001_create_users") == ["0003_drop_age", "0002_age_name_index_optional_nickname"]
    await db.close()

    db = instance(database_url, directory, UserV1)
    try:
        assert snapshot(await db.migrations.schema()) == v1_schema
        restored = await rows(db, "users")
        assert restored[:2] == v1_table
        assert [r["id"] for r in v1_rows] == [1, 2]
        assert [r[3] for r in restored] == ["ada", "bob", "", "di", ""]  # the downgrade's fill
        assert await db.migrations.current() == "0001_create_users"
        assert [r[0] for r in await ledger(db)] == ["0001_create_users"]
        # v1's nodes work on the rolled-back table.
        created = await create(db, "UserV1", {"name": "Fay", "email": "fay@example.com", "nickname": "fay"})
        assert created[0]["id"] == 6
    finally:
        await db.close()


# --- autogenerate against what create_tables() makes --------------------------------------------------


class Everything:
    __tablename__ = "everything"
    id: str
    text: str = "it's"
    number: int = -5
    ratio: float = 0.25
    flag: bool = True
    stamp: datetime = datetime(2024, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
    day: date = date(2024, 2, 3)
    price: Decimal = Decimal("1.50")
    data: dict = Field(default_factory=dict)  # type: ignore[type-arg]
    tags: list | None = None  # type: ignore[type-arg]
    note: str | None = Field(default=None, index=True)
    code: str = Field(default="x", unique=True)


async def test_a_table_from_create_tables_matches_its_model(database_url: str, tmp_path: Path) -> None:
    db = DataFlow(database_url, migrations_dir=tmp_path / "migrations")
    db.model(Everything, unique=[("number", "day")], indexes=[("flag", "ratio")])
    try:
        await db.create_tables()
        plan = await db.migrations.check()
        assert not plan, plan.describe()
        made_by_create_tables = snapshot(await db.migrations.schema())
        await db.drop_tables()
        await db.generate_migration_async("everything")
        await db.migrate_async()
        assert snapshot(await db.migrations.schema()) == made_by_create_tables
        assert not await db.migrations.check()
    finally:
        await db.close()


async def test_changed_defaults_types_and_uniques_are_found(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    db = DataFlow(database_url, migrations_dir=directory)
    db.model(Everything)
    await db.generate_migration_async("everything")
    await db.migrate_async()
    first = snapshot(await db.migrations.schema())
    await db.close()

    class Changed:
        __tablename__ = "everything"
        id: str
        text: str = "other"
        number: str = "-5"
        ratio: float | None = 0.25
        flag: bool = True
        stamp: datetime = datetime(2024, 2, 3, 4, 5, 6, 7, tzinfo=UTC)
        day: date = date(2024, 2, 3)
        price: Decimal = Decimal("1.50")
        data: dict = Field(default_factory=dict)  # type: ignore[type-arg]
        tags: list | None = None  # type: ignore[type-arg]
        note: str | None = None
        code: str = "x"

    db = DataFlow(database_url, migrations_dir=directory)
    db.model(Changed, unique=[("text",)])
    try:
        described = (await db.migrations.check()).describe()
        assert 'alter_column("everything", "text", default="other")' in described
        assert 'alter_column("everything", "number", type="str", default="-5")' in described
        assert 'alter_column("everything", "ratio", nullable=True)' in described
        assert 'drop_index("everything", ["note"])' in described
        assert 'drop_index("everything", ["code"], unique=True)' in described
        assert 'create_index("everything", ["text"], unique=True)' in described
        assert len(described) == 6, described
        await db.generate_migration_async("change everything")
        await db.migrate_async()
        assert not await db.migrations.check()
        await db.rollback_async(-1)
        assert snapshot(await db.migrations.schema()) == first
    finally:
        await db.close()


async def test_a_possible_rename_is_a_comment_and_the_file_does_what_the_diff_says(
    database_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    db = instance(database_url, directory, UserV1)
    await db.generate_migration_async("create users")
    await db.migrate_async()
    await db.close()

    class Renamed:
        __tablename__ = "users"
        id: int
        name: str
        email: str = Field(unique=True)
        handle: str = ""

    db = instance(database_url, directory, Renamed)
    try:
        path = await db.generate_migration_async("nickname to handle")
        assert path is not None
        text = path.read_text()
        comments = " ".join(line.strip()[2:] for line in text.splitlines() if line.strip().startswith("# "))
        assert "Possible rename: users.nickname -> users.handle (same type)." in comments
        assert """execute('ALTER TABLE "users" RENAME COLUMN "nickname" TO "handle"')""" in comments
        assert 'add_column("users", "handle", "str", default="")' in text
        assert 'drop_column("users", "nickname")' in text
        await db.migrate_async()
        assert not await db.migrations.check()
    finally:
        await db.close()


# --- the operations one by one -------------------------------------------------------------------------


async def test_operations_on_a_table_with_rows(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    db = instance(database_url, directory, UserV1)
    await db.generate_migration_async("create users")
    await db.migrate_async()
    await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"},
                 {"name": "Bob", "email": "bob@example.com", "nickname": "b"})
    steps = [
        (add_column("users", "score", "int", fill=10), drop_column("users", "score")),
        (alter_column("users", "score", type="str", using='CAST("score" AS TEXT)'),
         alter_column("users", "score", type="int", using='CAST("score" AS INTEGER)')),
    ]
    write(directory, "0002_score", "0002_score", "0001_create_users",
          ", ".join(s[0].source() for s in steps), ", ".join(s[1].source() for s in reversed(steps)))
    write(directory, "0003_unique_name", "0003_unique_name", "0002_score",
          'create_index("users", ["name"], unique=True), drop_index("users", ["email"], unique=True), '
          'execute("UPDATE \\"users\\" SET \\"nickname\\" = \\"nickname\\" || \'!\'")',
          'execute("UPDATE \\"users\\" SET \\"nickname\\" = substr(\\"nickname\\", 1, length(\\"nickname\\") - 1)"), '
          'create_index("users", ["email"], unique=True), drop_index("users", ["name"], unique=True)')
    write(directory, "0004_drop_indexed", "0004_drop_indexed", "0003_unique_name",
          'drop_column("users", "name")', 'add_column("users", "name", "str", fill="?"), '
          'execute("UPDATE \\"users\\" SET \\"name\\" = \\"name\\" || CAST(\\"id\\" AS TEXT)"), '
          'create_index("users", ["name"], unique=True)')
    try:
        assert await db.migrate_async() == ["0002_score", "0003_unique_name", "0004_drop_indexed"]
        users = (await db.migrations.schema())["users"]
        assert users.column("score") is not None and users.column("score").type == "str"  # type: ignore[union-attr]
        assert users.column("name") is None
        assert users.find_index(("email",), True) is None
        assert [(r[0], r[1], r[2]) for r in await rows(db, "users")] == [
            (1, "ada@example.com", "a!"), (2, "bob@example.com", "b!")
        ]
        async with db.connection() as connection:
            scores = await connection.fetch('SELECT "score" FROM "users" ORDER BY "id"')
        assert [r[0] for r in scores] == ["10", "10"]
        assert await db.rollback_async("0001_create_users") == ["0004_drop_indexed", "0003_unique_name", "0002_score"]
        assert [r[:4] for r in await rows(db, "users")] == [
            (1, "ada@example.com", "a", "?1"), (2, "bob@example.com", "b", "?2")
        ]
        users = (await db.migrations.schema())["users"]
        assert users.find_index(("email",), True) is not None and users.column("score") is None
    finally:
        await db.close()


@pytest.mark.sqlite_only(reason="the rebuild procedure is SQLite's; PostgreSQL alters tables in place")
async def test_sqlite_rebuild_keeps_foreign_keys_triggers_and_views(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    db = instance(database_url, directory, UserV1)
    await db.generate_migration_async("create users")
    write(directory, "0002_extras", "0002_extras", "0001_create_users",
          'execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) '
          'ON DELETE CASCADE)"), execute("CREATE TABLE audit (n TEXT)"), '
          'execute("CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.name); END"), '
          'execute("CREATE VIEW user_names AS SELECT name FROM users")',
          'execute("DROP VIEW user_names"), execute("DROP TRIGGER users_audit"), execute("DROP TABLE audit"), '
          'execute("DROP TABLE posts")')
    write(directory, "0003_nullable", "0003_nullable", "0002_extras",
          'alter_column("users", "nickname", nullable=True)', 'alter_column("users", "nickname", nullable=False)')
    try:
        await db.migrate_async("0002_extras")
        await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"})
        async with db.connection() as connection:
            await connection.execute("PRAGMA foreign_keys = ON")  # the rebuild must not cascade
            await connection.execute("INSERT INTO posts (user_id) VALUES (1)")
        await db.migrate_async()
        assert (await db.migrations.schema())["users"].column("nickname").nullable  # type: ignore[union-attr]
        async with db.connection() as connection:
            assert (await connection.fetch("SELECT COUNT(*) FROM posts"))[0][0] == 1
            assert (await connection.fetch("PRAGMA foreign_keys"))[0][0] == 1  # restored
            assert [r[0] for r in await connection.fetch("SELECT name FROM user_names")] == ["Ada"]
            await connection.execute("INSERT INTO users (name, email) VALUES ('Bob', 'bob@example.com')")
            assert [r[0] for r in await connection.fetch("SELECT n FROM audit ORDER BY n")] == ["Ada", "Bob"]
            fks = await connection.fetch("PRAGMA foreign_key_list(posts)")
            assert fks[0][2] == "users"
            await connection.execute("PRAGMA foreign_keys = OFF")
            await connection.execute("INSERT INTO posts (user_id) VALUES (99)")  # an orphan
        write(directory, "0004_again", "0004_again", "0003_nullable",
              'alter_column("users", "name", default="?")', 'alter_column("users", "name", default=NO_DEFAULT)')
        with pytest.raises(MigrationFailedError, match="foreign key") as info:
            await db.migrate_async()
        assert "0004_again" in str(info.value) and "the database is at 0003_nullable" in str(info.value)
        assert await db.migrations.current() == "0003_nullable"
    finally:
        await db.close()


# --- blocking and awaitable forms ------------------------------------------------------------------------


async def test_the_blocking_forms_work_inside_async_code(database_url: str, tmp_path: Path) -> None:
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        assert db.generate_migration("create users") is not None
        assert db.migrate() == ["0001_create_users"]  # runs on a loop of its own in a worker thread
        await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"})
        assert db.rollback(-1) == ["0001_create_users"]
        assert db.generate_migration("again") is None  # the pending 0001 already creates the table
    finally:
        await db.close()


async def test_migrations_refuse_to_run_inside_a_transaction(database_url: str, tmp_path: Path) -> None:
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        async with db.transaction():
            with pytest.raises(TransactionError, match="DF-601"):
                db.migrate()
            with pytest.raises(TransactionError, match="DF-601"):
                await db.migrate_async()
    finally:
        await db.close()


async def test_nodes_after_rollback_create_their_table_again(database_url: str, tmp_path: Path) -> None:
    db = instance(database_url, tmp_path / "migrations", UserV1)
    try:
        await db.generate_migration_async("create users")
        await db.migrate_async()
        await create(db, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"})
        await db.rollback_async("base")
        created = await create(db, "UserV1", {"name": "Bob", "email": "bob@example.com", "nickname": "b"})
        assert created[0]["id"] == 1  # the first use created the table again
    finally:
        await db.close()


def test_two_processes_migrating_at_once_apply_each_revision_once(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    for i in range(1, 6):
        write(directory, f"{i:04d}_t{i}", f"{i:04d}", f"{i - 1:04d}" if i > 1 else None,
              f'execute("CREATE TABLE t{i} (id INTEGER)")', f'execute("DROP TABLE t{i}")')
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def migrate() -> None:
        db = DataFlow(database_url, migrations_dir=directory, sqlite_busy_timeout=30)
        try:
            barrier.wait()
            results.append(db.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(results[0] + results[1]) == ["0001", "0002", "0003", "0004", "0005"]


# --- history, current, targets, repair ---------------------------------------------------------------------


async def test_history_current_and_targets(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    for i in range(1, 5):
        write(directory, f"{i:04d}_t{i}", f"{i:04d}_t{i}", f"{i - 1:04d}_t{i - 1}" if i > 1 else None,
              f'execute("CREATE TABLE t{i} (id INTEGER)")', f'execute("DROP TABLE t{i}")')
    db = DataFlow(database_url, migrations_dir=directory)
    try:
        assert await db.migrate_async("+1") == ["0001_t1"]
        assert await db.migrate_async("0003") == ["0002_t2", "0003_t3"]  # a unique prefix
        history = await db.migrations.history()
        assert [(s.id, s.applied, s.head) for s in history] == [
            ("0001_t1", True, False), ("0002_t2", True, False), ("0003_t3", True, False), ("0004_t4", False, True)
        ]
        assert await db.migrate_async("head") == ["0004_t4"]
        assert await db.migrate_async() == []
        assert await db.rollback_async("-2") == ["0004_t4", "0003_t3"]
        assert await db.rollback_async("previous_version") == ["0002_t2"]
        assert await db.migrations.current() == "0001_t1"
        assert await db.rollback_async("base") == ["0001_t1"]
        assert await db.migrations.current() is None
        assert set(await db.migrations.schema()) == set()
    finally:
        await db.close()


async def test_a_comment_edit_is_accepted_by_repair(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    db = instance(database_url, directory, UserV1)
    try:
        path = await db.generate_migration_async("create users")
        assert path is not None
        await db.migrate_async()
        path.write_text(path.read_text() + "# reviewed\n")
        with pytest.raises(Exception, match="DF-902"):
            await db.migrations.current()
        assert await db.migrations.repair() == ["0001_create_users"]
        assert await db.migrations.current() == "0001_create_users"
        assert await db.migrations.repair() == []
    finally:
        await db.close()


def test_a_generated_file_loads_back_as_written(tmp_path: Path) -> None:
    from dataflow._migrations import MigrationPlan, load_history
    from dataflow._migrations._files import write_revision

    operations = [
        add_column("t", "a", "datetime", default=datetime(2024, 1, 2, tzinfo=UTC)),
        add_column("t", "b", "Decimal", nullable=True, default=Decimal("1.5")),
        add_column("t", "c", "json", default={"k": [1, "two"]}),
        alter_column("t", "d", type="date", default=date(2024, 1, 2), fill=date(2000, 1, 1)),
        create_index("t", ["a", "b"], unique=True),
        execute("UPDATE t SET a = 'it''s'"),
    ]
    plan = MigrationPlan(operations, list(reversed(operations)))
    path = write_revision(tmp_path, "0001_x", None, 'mixed "ops"', plan)
    compile(path.read_text(), str(path), "exec")
    revision = load_history(tmp_path).chain()[0]
    assert list(revision.upgrade) == operations
    assert list(revision.downgrade) == list(reversed(operations))
    assert textwrap.dedent(path.read_text()).startswith('"""Mixed \'ops\'.')


async def test_a_database_from_create_tables_adopts_migrations_with_stamp(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    existing = instance(database_url, directory, UserV1)
    blank = instance("sqlite:///:memory:", directory, UserV1)
    try:
        await existing.create_tables()
        await create(existing, "UserV1", {"name": "Ada", "email": "ada@example.com", "nickname": "a"})
        assert await existing.generate_migration_async("initial") is None  # nothing differs here
        path = await blank.generate_migration_async("initial")  # what an empty database needs
        assert path is not None and path.name == "0001_initial.py"
        assert await existing.migrations.stamp() == ["0001_initial"]
        assert await existing.migrations.current() == "0001_initial"
        assert await existing.migrate_async() == [] and not await existing.migrations.check()
        assert [r[1] for r in await rows(existing, "users")] == ["Ada"]  # nothing was run
        assert await existing.migrations.stamp() == []
    finally:
        await blank.close()
        await existing.close()
