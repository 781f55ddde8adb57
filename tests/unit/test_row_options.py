"""Soft delete and versioned rows without a database: the model fields, the node specs, the SQL and
the partial index predicates (the behaviour on both backends is in tests/integration)."""

from __future__ import annotations

import pytest

import dataflow
from dataflow import DataFlow, Field
from dataflow._schema import index_predicate, model_table


def models() -> DataFlow:
    db = DataFlow("sqlite:///:memory:")

    @db.model(soft_delete=True, versioned=True)
    class Doc:
        id: int
        slug: str = Field(unique=True)

    @db.model
    class Plain:
        id: int
        slug: str = Field(unique=True)

    return db


@pytest.mark.parametrize(
    "text",
    ["deleted_at IS NULL", '("deleted_at" IS NULL)', "((deleted_at  IS\n NULL))", ' "deleted_at" IS NULL '],
)
def test_predicates_read_back_by_either_backend_compare_equal(text: str) -> None:
    assert index_predicate(text) == "deleted_at IS NULL"


def test_unbalanced_parentheses_are_kept() -> None:
    assert index_predicate("(a IS NULL) OR (b IS NULL)") == "(a IS NULL) OR (b IS NULL)"


def test_the_options_add_their_fields_and_partial_unique_indexes() -> None:
    db = models()
    spec = db.models["Doc"]
    assert (spec.soft_delete, spec.versioned, spec.managed) == (
        True,
        True,
        frozenset({"deleted_at", "version"}),
    )
    assert spec.fields["version"].default == 1 and not spec.fields["version"].nullable
    assert spec.fields["deleted_at"].nullable
    (index,) = model_table(spec).indexes
    assert (index.columns, index.unique, index.constraint, index.where) == (
        ("slug",),
        True,
        False,
        "deleted_at IS NULL",
    )
    (plain,) = model_table(db.models["Plain"]).indexes
    assert plain.constraint and plain.where is None
    sql = db.execution_context.backend.editor.create_table_sql(model_table(spec))
    assert sql[-1] == 'CREATE UNIQUE INDEX "uq_docs_slug" ON "docs" ("slug") WHERE deleted_at IS NULL'


def test_plain_models_keep_their_statements_and_specs() -> None:
    db = models()
    plain = db.nodes["PlainUpdateNode"]
    sql, _ = plain.statements.update({"id": 1}, {"slug": "a"}, node=None, returning=False)
    assert sql == 'UPDATE "plains" SET "slug" = ? WHERE ("id" = ?)'
    assert [p.name for p in plain.spec.params] == ["id", "filter", "fields"]
    doc = db.nodes["DocUpdateNode"]
    sql, args = doc.statements.update({"id": 1}, {"slug": "a"}, node=None, returning=False, version=3)
    assert sql == (
        'UPDATE "docs" SET "slug" = ?, "version" = "docs"."version" + 1 '
        'WHERE ("id" = ?) AND "deleted_at" IS NULL AND "version" = ?'
    )
    assert args == ["a", 1, 3]
    assert [p.name for p in doc.spec.params] == ["id", "filter", "fields", "restore", "expected_version"]


def test_option_values_must_be_bools() -> None:
    db = DataFlow("sqlite:///:memory:")
    with pytest.raises(dataflow.InvalidModelOptionError):

        @db.model(soft_delete=1)  # type: ignore[arg-type]
        class Doc:
            id: int
