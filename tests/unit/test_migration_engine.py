"""The migration engine without a database: stored defaults read back, type names, the diff and its
notes, the declared schema, revision ids, checksums and the history's shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dataflow import InvalidMigrationHistoryError, MultipleHeadsError, UnsupportedMigrationOperationError
from dataflow._dialects import BACKENDS
from dataflow._dialects._ddl import default_token
from dataflow._migrations import declared_schema, diff, load_history
from dataflow._migrations._files import checksum, slug
from dataflow._schema import NO_DEFAULT, SQL, Column, Index, Table
from dataflow.migrations import add_column, alter_column, column, create_index, create_table, drop_column

SQLITE = BACKENDS["sqlite"].editor
POSTGRES = BACKENDS["postgresql"].editor


@pytest.mark.parametrize(
    ("stored", "token"),
    [
        ("'it''s'::text", ("it's", True)),
        ("'-5'::integer", ("-5", True)),
        ("7", ("7", False)),
        ("(-5)", ("-5", False)),
        ("'a'::character varying(20)", ("a", True)),
        ("true", ("true", False)),
        ("NULL::text", ("NULL", False)),
        ("''", ("", True)),
        ("now()", None),
        ("CURRENT_TIMESTAMP", None),
        ("'a' || 'b'", None),
    ],
)
def test_stored_defaults_read_back_as_literals(stored: str, token: tuple[str, bool] | None) -> None:
    assert default_token(stored) == token


@pytest.mark.parametrize(
    ("editor", "type_name", "stored", "value"),
    [
        (POSTGRES, "datetime", "'2024-01-02 03:04:05.000006+00'::timestamp with time zone",
         datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (POSTGRES, "float", "'-0.5'::numeric", -0.5),
        (POSTGRES, "bool", "false", False),
        (POSTGRES, "Decimal", "1.50", Decimal("1.5")),
        (POSTGRES, "json", "'{\"a\": [1, 2]}'::jsonb", {"a": [1, 2]}),
        (POSTGRES, "date", "'2024-01-02'::date", date(2024, 1, 2)),
        (POSTGRES, "datetime", "now()", SQL("now()")),
        (SQLITE, "bool", "1", True),
        (SQLITE, "datetime", "'2024-01-02T03:04:05.000000+00:00'", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (SQLITE, "str", "'x'", "x"),
        (SQLITE, "int", None, NO_DEFAULT),
        (SQLITE, "int", "NULL", NO_DEFAULT),
    ],
)
def test_stored_defaults_become_values_of_the_column_type(editor, type_name, stored, value) -> None:  # type: ignore[no-untyped-def]
    assert editor.default_value(type_name, stored) == value


@pytest.mark.parametrize("editor", [SQLITE, POSTGRES], ids=["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("type_name", "value"),
    [("str", "it's"), ("int", -5), ("float", 1e20), ("bool", False), ("Decimal", Decimal("-1.50")),
     ("date", date(2024, 1, 2)), ("datetime", datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
     ("json", [1, {"a": None}])],
)
def test_a_rendered_default_reads_back_equal(editor, type_name: str, value: object) -> None:  # type: ignore[no-untyped-def]
    expected = Column("c", type_name, default=value)
    stored = Column("c", type_name, default_sql=editor.literal(type_name, value))
    assert editor.same_default(expected, stored)
    assert not editor.same_default(Column("c", type_name), stored)


def test_type_names() -> None:
    assert POSTGRES.sql_type("datetime") == "TIMESTAMPTZ" and SQLITE.sql_type("datetime") == "TEXT"
    assert POSTGRES.field_type("timestamp with time zone") == "datetime"
    assert SQLITE.field_type("TEXT") == "str" and SQLITE.field_type("INTEGER") == "int"
    assert SQLITE.same_type("json", "str") and not POSTGRES.same_type("json", "str")
    assert POSTGRES.sql_type("numeric(10, 2)") == "numeric(10, 2)"
    with pytest.raises(UnsupportedMigrationOperationError, match="DF-904"):
        POSTGRES.sql_type("text; DROP TABLE users")


def users(*columns: Column, indexes: tuple[Index, ...] = ()) -> Table:
    return Table("users", (Column("id", "int", primary_key=True), *columns), indexes)


def test_the_diff_orders_operations_and_reverses_them_for_the_downgrade() -> None:
    live = {"users": users(Column("name", "str"), Column("age", "int"),
                           indexes=(Index(("age",), name="ix_users_age"),))}
    wanted = {"users": users(Column("name", "str", nullable=True), Column("email", "str", default=""),
                             indexes=(Index(("email",), unique=True, constraint=True),))}
    plan = diff(wanted, live, SQLITE)
    assert plan.describe()[:5] == [
        'drop_index("users", ["age"])',
        'add_column("users", "email", "str", default="")',
        'alter_column("users", "name", nullable=True)',
        'drop_column("users", "age")',
        'create_index("users", ["email"], unique=True)',
    ]
    assert [op.source() for op in plan.downgrade] == [
        'drop_index("users", ["email"], unique=True)',
        'add_column("users", "age", "int")',
        'alter_column("users", "name", nullable=False)',
        'drop_column("users", "email")',
        'create_index("users", ["age"], name="ix_users_age")',
    ]
    notes = " ".join(plan.notes)
    assert "The downgrade adds users.age back as NOT NULL without a default" in notes
    assert "The downgrade makes users.name NOT NULL" in notes


def test_renames_are_notes_and_the_operations_still_drop_and_add() -> None:
    people = Table("people", (Column("id", "int", primary_key=True), Column("full_name", "str")))
    plan = diff({"people": people}, {"users": users(Column("name", "str"))}, POSTGRES)
    assert [op.source() for op in plan.upgrade][-1] == 'drop_table("users")'
    assert not any("Possible rename: table" in n for n in plan.notes)  # other columns: not the same shape
    plan = diff({"users": users(Column("full_name", "str"), Column("age", "int"))},
                {"users": users(Column("name", "str"), Column("score", "float"))}, POSTGRES)
    assert [n.split(" (")[0] for n in plan.notes if n.startswith("Possible")] == [
        "Possible rename: users.name -> users.full_name"
    ]
    same = Table("accounts", (Column("id", "int", primary_key=True), Column("name", "str")))
    plan = diff({"accounts": same}, {"users": users(Column("name", "str"))}, POSTGRES)
    assert any(n.startswith("Possible rename: table users -> accounts") for n in plan.notes)


def test_a_primary_key_change_is_a_note_not_an_operation() -> None:
    plan = diff({"users": Table("users", (Column("id", "str", primary_key=True),))}, {"users": users()}, POSTGRES)
    assert plan.upgrade == [] and "primary key differs" in plan.notes[0] and bool(plan)


def test_the_declared_schema_keeps_field_types_sqlite_cannot_tell() -> None:
    declared = declared_schema([
        [create_table("t", [column("id", "int", primary_key=True), column("at", "datetime")]),
         create_index("t", ["at"])],
        [add_column("t", "price", "Decimal", default=Decimal("1")), alter_column("t", "at", nullable=True)],
        [drop_column("t", "gone")],
    ])
    t = declared["t"]
    assert [(c.name, c.type, c.nullable) for c in t.columns] == [
        ("id", "int", False), ("at", "datetime", True), ("price", "Decimal", False)
    ]
    live = {"t": Table("t", (Column("id", "int", primary_key=True), Column("at", "str", nullable=True),
                             Column("price", "str", default_sql="'1'")))}
    plan = diff({"t": Table("t", (Column("id", "int", primary_key=True),))}, live, SQLITE, declared=declared)
    assert [op.source() for op in plan.downgrade] == [
        'add_column("t", "price", "Decimal", default=Decimal(\'1\'))',
        'add_column("t", "at", "datetime", nullable=True)',
    ]


def test_ids_and_checksums() -> None:
    assert slug("Add user table!") == "add_user_table" and slug("  ") == "revision"
    assert checksum("a\r\nb\n") == checksum("a\nb\n") != checksum("a\nc\n")


def revision(path: Path, name: str, parent: str | None) -> None:
    path.mkdir(exist_ok=True)
    (path / f"{name}.py").write_text(f"revision = {name!r}\nparent = {parent!r}\nupgrade = []\ndowngrade = []\n")


def test_the_history_is_one_chain(tmp_path: Path) -> None:
    revision(tmp_path, "b", "a")
    revision(tmp_path, "a", None)
    revision(tmp_path, "c", "b")
    assert [r.id for r in load_history(tmp_path).chain()] == ["a", "b", "c"]
    assert load_history(tmp_path / "missing").chain() == []
    revision(tmp_path, "d", "b")
    with pytest.raises(MultipleHeadsError, match="2 heads: c "):
        load_history(tmp_path).chain()


def test_a_loop_is_not_a_history(tmp_path: Path) -> None:
    revision(tmp_path, "a", None)
    revision(tmp_path, "x", "y")
    revision(tmp_path, "y", "x")
    with pytest.raises(InvalidMigrationHistoryError, match="x, y follow each other in a loop"):
        load_history(tmp_path).chain()
