"""Model definitions: types, defaults, Field options, table naming, invalid models (DF-104)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional, Union

import pytest

from dataflow import DataFlow, Field, InvalidModelError, InvalidModelOptionError, ModelSpec
from dataflow._types import FieldType


@pytest.fixture
def db() -> DataFlow:
    return DataFlow("sqlite:///:memory:")


def test_all_supported_types(db: DataFlow) -> None:
    @db.model
    class Everything:
        id: int
        s: str
        i: int
        f: float
        b: bool
        dt: datetime
        d: date
        dec: Decimal
        js: dict
        ls: list
        typed_js: dict[str, Any]
        typed_ls: list[int]

    spec = db.models["Everything"]
    assert isinstance(spec, ModelSpec)
    kinds = {name: f.kind for name, f in spec.fields.items()}
    assert kinds == {
        "id": FieldType.INT, "s": FieldType.STR, "i": FieldType.INT, "f": FieldType.FLOAT,
        "b": FieldType.BOOL, "dt": FieldType.DATETIME, "d": FieldType.DATE, "dec": FieldType.DECIMAL,
        "js": FieldType.JSON, "ls": FieldType.JSON, "typed_js": FieldType.JSON, "typed_ls": FieldType.JSON,
    }  # fmt: skip
    assert all(not f.nullable for f in spec.fields.values())
    assert spec.primary_key.name == "id" and spec.primary_key.primary_key
    assert spec.auto_id


def test_optional_forms_are_nullable(db: DataFlow) -> None:
    @db.model
    class Opt:
        id: str
        a: Optional[int]  # noqa: UP045
        b: int | None
        c: Union[str, None]  # noqa: UP007
        d: str | None = None

    spec = db.models["Opt"]
    assert [spec.fields[n].nullable for n in "abcd"] == [True] * 4
    assert not spec.auto_id
    assert spec.fields["id"].required  # a str id must be given
    assert not spec.fields["a"].required


def test_defaults_and_field_options(db: DataFlow) -> None:
    @db.model
    class Article:
        id: int
        title: str
        slug: str = Field(unique=True)
        views: int = 0
        status: str = Field(default="draft", index=True)
        tags: list = Field(default_factory=list)
        meta: dict = Field(default_factory=lambda: {"v": 1})

    spec = db.models["Article"]
    f = spec.fields
    assert f["title"].required and f["slug"].required
    assert f["slug"].unique and not f["slug"].index
    assert f["status"].index and f["status"].default == "draft"
    assert f["views"].default == 0 and not f["views"].required
    assert f["tags"].default_value() == [] and f["tags"].default_value() is not f["tags"].default_value()
    assert f["meta"].default_value() == {"v": 1}
    assert ("slug",) in spec.unique_targets()
    row = spec.complete_for_insert({"title": "t", "slug": "s"})
    assert row == {"title": "t", "slug": "s", "views": 0, "status": "draft", "tags": [], "meta": {"v": 1}}


def test_unique_and_indexes_arguments(db: DataFlow) -> None:
    @db.model(table="people", unique=[("first", "last")], indexes=[("last",), "age"])
    class Person:
        id: int
        first: str
        last: str
        age: int

    spec = db.models["Person"]
    assert spec.table == "people"
    assert spec.unique_together == (("first", "last"),)
    assert spec.indexes == (("last",), ("age",))
    assert ("first", "last") in spec.unique_targets()


@pytest.mark.parametrize(
    ("class_name", "table"),
    [
        ("User", "users"),
        ("OrderItem", "order_items"),
        ("Category", "categories"),
        ("Address", "addresses"),
        ("Box", "boxes"),
        ("Day", "days"),
        ("HTTPRequest", "http_requests"),
        ("Match", "matches"),
    ],
)
def test_table_naming(db: DataFlow, class_name: str, table: str) -> None:
    cls = type(class_name, (), {"__annotations__": {"id": int}})
    db.model(cls)
    assert db.models[class_name].table == table


def test_tablename_attribute(db: DataFlow) -> None:
    @db.model
    class Legacy:
        __tablename__ = "tbl_legacy"
        id: int

    assert db.models["Legacy"].table == "tbl_legacy"
    assert "__tablename__" not in db.models["Legacy"].fields


def test_sql_keywords_are_valid_field_names(db: DataFlow) -> None:
    @db.model
    class Keyword:
        id: int
        select: str
        order: int
        group: str | None = None

    assert list(db.models["Keyword"].fields) == ["id", "select", "order", "group"]


def test_generates_eleven_nodes(db: DataFlow) -> None:
    @db.model
    class User:
        id: int
        name: str

    assert sorted(db.nodes) == sorted(
        f"User{op}Node"
        for op in (
            "Create", "Read", "Update", "Delete", "List", "Count", "Upsert",
            "BulkCreate", "BulkUpdate", "BulkDelete", "BulkUpsert",
        )
    )  # fmt: skip


def test_decorator_returns_class_unchanged(db: DataFlow) -> None:
    class Plain:
        id: int
        name: str

    assert db.model(Plain) is Plain


def test_same_class_on_two_instances() -> None:
    class Shared:
        id: int
        name: str

    first, second = DataFlow("sqlite:///:memory:"), DataFlow("sqlite:///:memory:")
    assert first.model(Shared) is Shared
    assert second.model(Shared) is Shared
    assert first.models["Shared"].table == second.models["Shared"].table == "shareds"
    assert first.nodes["SharedCreateNode"] is not second.nodes["SharedCreateNode"]
    assert first.node_type("SharedCreateNode") is first.nodes["SharedCreateNode"]
    assert second.node_type("SharedCreateNode") is second.nodes["SharedCreateNode"]
    first_context = first.nodes["SharedCreateNode"].execution_context()
    assert first_context is not second.nodes["SharedCreateNode"].execution_context()


def test_a_class_registered_again_reuses_its_spec_until_the_class_changes() -> None:
    # A fixture that makes a DataFlow per test registers the same classes each time: the spec (and
    # what is derived from it) is read once, and read again when anything it was read from changed.
    class Cached:
        id: int
        name: str
        score: int = 0

    def spec(**options: Any) -> ModelSpec:
        db = DataFlow("sqlite:///:memory:")
        db.model(**options)(Cached)
        (registered,) = db.models.values()
        db.node_type(f"{registered.name}CreateNode")
        return registered

    first = spec()
    assert spec() is first and spec().derived is first.derived and first.derived  # node descriptions
    Cached.score = 5  # type: ignore[attr-defined]  # a new default
    assert spec().fields["score"].default == 5
    Cached.__annotations__["rank"] = "Optional[int]"
    assert "rank" in spec().fields
    Cached.__tablename__ = "ranked"  # type: ignore[attr-defined]
    assert spec().table == "ranked"
    Cached.__name__ = "Renamed"
    assert spec().name == "Renamed" and spec(table="c").table == "c"
    Cached.__name__ = "Cached"
    assert spec(soft_delete=True).soft_delete and not spec().soft_delete
    with pytest.raises(InvalidModelOptionError):  # 1 == True, but it is not a bool
        spec(soft_delete=1)
    assert spec(unique=["name"]).unique_together == (("name",),)
    assert spec().unique_together == ()


def test_a_derived_spec_starts_with_nothing_derived() -> None:
    class Scoped:
        id: int
        tenant_id: str

    plain = DataFlow("sqlite:///:memory:")
    plain.model(Scoped)
    plain.node_type("ScopedCreateNode")
    scoped = DataFlow("sqlite:///:memory:")
    scoped.model(tenant="tenant_id")(Scoped)
    assert scoped.models["Scoped"].tenant_field == "tenant_id" and not scoped.models["Scoped"].derived
    assert scoped.node_type("ScopedCreateNode").spec is not plain.node_type("ScopedCreateNode").spec


def _expect_df104(build: Any, *needles: str) -> InvalidModelError:
    with pytest.raises(InvalidModelError) as info:
        build()
    err = info.value
    assert err.code == "DF-104"
    assert str(err).startswith("DF-104")
    for needle in needles:
        assert needle in str(err), str(err)
    return err


def test_missing_id(db: DataFlow) -> None:
    class NoId:
        name: str

    _expect_df104(lambda: db.model(NoId), "NoId", "'id'")


# typing.Union on purpose: the old spelling is rejected too (int | str is in test_property_models.py).
@pytest.mark.parametrize(
    "annotation", [set, bytes, tuple, complex, Union[int, str], object, "Mystery"]  # noqa: UP007
)
def test_unsupported_types(db: DataFlow, annotation: Any) -> None:
    cls = type("Bad", (), {"__annotations__": {"id": int, "value": annotation}})
    _expect_df104(lambda: db.model(cls), "Bad")


@pytest.mark.parametrize("id_type", [float, bool, Optional[int], dict, datetime])  # noqa: UP045
def test_bad_id_types(db: DataFlow, id_type: Any) -> None:
    cls = type("BadId", (), {"__annotations__": {"id": id_type}})
    _expect_df104(lambda: db.model(cls), "'id'")


@pytest.mark.parametrize("field_name", ["_private", "1abc", "has-dash", "spa ce", "ünïcode"])
def test_bad_field_names(db: DataFlow, field_name: str) -> None:
    cls = type("BadName", (), {"__annotations__": {"id": int, field_name: str}})
    _expect_df104(lambda: db.model(cls))


@pytest.mark.parametrize("table", ["bad-table", "1table", "drop table x;--", 'a"b', ""])
def test_bad_table_names(db: DataFlow, table: str) -> None:
    class T:
        id: int

    if table == "":
        # An empty name falls back to the default name.
        db.model(table=table)(T)
        assert db.models["T"].table == "ts"
        return
    _expect_df104(lambda: db.model(table=table)(T))


def test_bad_tablename_attribute(db: DataFlow) -> None:
    class T:
        __tablename__ = "x; DROP TABLE y"
        id: int

    _expect_df104(lambda: db.model(T))


def test_unique_naming_unknown_field(db: DataFlow) -> None:
    class T:
        id: int
        a: str

    _expect_df104(lambda: db.model(unique=[("a", "nope")])(T), "nope")
    _expect_df104(lambda: db.model(indexes=["nope"])(T), "nope")


def test_same_name_twice_on_one_instance(db: DataFlow) -> None:
    class Dup:
        id: int

    db.model(Dup)
    _expect_df104(lambda: db.model(Dup), "Dup")


def test_not_a_class(db: DataFlow) -> None:
    _expect_df104(lambda: db.model(lambda: None))  # type: ignore[arg-type]
