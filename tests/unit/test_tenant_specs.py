"""Multi-tenancy without a database: model specs, where a run's tenant comes from, and the SQL of
tenant-bound statements on both backends."""

from __future__ import annotations

import asyncio

import pytest

from dataflow import (
    DataFlow,
    Field,
    InvalidTenantError,
    InvalidTenantOptionError,
    TenantConflictError,
    TenantMismatchError,
    TenantRequiredError,
)
from dataflow._dialects import BACKENDS
from dataflow._model import build_model_spec
from dataflow._tenancy import current_tenant, run_tenant, tenant_scope, tenant_spec
from dataflow._tenant_sql import TenantStatements


class Note:
    id: int
    title: str
    slug: str = Field(unique=True)


def spec(tenant: object = True, **kwargs: object):  # type: ignore[no-untyped-def]
    return tenant_spec(build_model_spec(Note, **kwargs), tenant)  # type: ignore[arg-type]


def test_tenant_true_adds_a_field_and_makes_uniques_per_tenant() -> None:
    scoped = spec(unique=[("title", "slug")])
    assert scoped.tenant_field == "tenant_id"
    field = scoped.fields["tenant_id"]
    assert (field.kind.value, field.nullable, field.required) == ("str", False, False)
    assert not scoped.fields["slug"].unique
    assert scoped.unique_together == (("tenant_id", "slug"), ("tenant_id", "title", "slug"))
    assert ("slug",) in scoped.unique_targets() and ("tenant_id", "slug") in scoped.unique_targets()
    assert spec(False) == build_model_spec(Note)


@pytest.mark.parametrize(
    ("option", "message"),
    [("nope", "names no field"), ("id", "other than 'id'"), ("title", None), (3, "takes True or the name")],
)
def test_bad_options_are_df813(option: object, message: str | None) -> None:
    if message is None:  # a declared str field is fine
        assert spec(option).tenant_field == "title"
        return
    with pytest.raises(InvalidTenantOptionError, match=message):
        spec(option)


def test_the_default_of_the_tenant_field_is_the_current_tenant() -> None:
    field = spec().fields["tenant_id"]
    with pytest.raises(TenantRequiredError):
        field.default_value()
    with tenant_scope("acme"):
        assert field.default_value() == "acme"
    assert current_tenant() is None


def test_a_run_takes_one_tenant_from_three_places() -> None:
    assert run_tenant(None, {}, None) is None
    assert run_tenant("a", {}, None) == "a"
    assert run_tenant(None, {"tenant_id": "b"}, None) == "b"
    assert run_tenant(None, {}, "c") == "c"
    assert run_tenant("a", {"tenant_id": "a"}, "a") == "a"
    with pytest.raises(TenantConflictError):
        run_tenant("a", {"tenant_id": "b"}, None)
    with pytest.raises(TenantConflictError):
        run_tenant(None, {"tenant_id": "b"}, "a")
    with pytest.raises(InvalidTenantError):
        run_tenant(None, {"tenant_id": 3}, None)


def test_db_tenant_nests_and_restores() -> None:
    db = DataFlow("sqlite:///:memory:")

    async def main() -> list[str | None]:
        seen = []
        async with db.tenant("a"):
            seen.append(current_tenant())
            with db.tenant("b"):
                seen.append(current_tenant())
            seen.append(current_tenant())
        seen.append(current_tenant())
        return seen

    assert asyncio.run(main()) == ["a", "b", "a", None]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_where_ends_with_the_tenant(backend: str) -> None:
    st = TenantStatements(spec(), BACKENDS[backend])
    with pytest.raises(TenantRequiredError):
        st.select({"slug": "x"})
    with tenant_scope("acme"):
        sql, args = st.select({"$or": [{"tenant_id": "b"}, {"slug": "x"}]}, limit=5)
        assert ") AND (" in sql and args[-2:] == ["acme", 5]
        for statement in (st.count({}), st.select_by_id(3, None), st.delete(None, node=None, returning=False)):
            assert statement[1][-1] in ("acme", 1) and "tenant_id" in statement[0]
        sql, args = st.update({"id": 3}, {"title": "t"}, node=None, returning=True)
        assert args == ["t", 3, "acme"]
        upsert, _ = st.upsert({"slug": "s", "title": "t", "tenant_id": "acme"}, ["slug"], {"title": "u"})
        assert 'ON CONFLICT ("tenant_id", "slug")' in upsert
        by_id, _ = st.upsert({"id": 1, "slug": "s", "title": "t", "tenant_id": "acme"}, ["id"], {"title": "u"})
        assert 'ON CONFLICT ("id")' in by_id and 'WHERE "notes"."tenant_id" = EXCLUDED."tenant_id" RETURNING' in by_id
        with pytest.raises(TenantMismatchError):
            st.insert({"slug": "s", "title": "t", "tenant_id": "globex"})
        with pytest.raises(TenantMismatchError):
            st.update({"id": 1}, {"tenant_id": "globex"}, node=None, returning=False)
        assert st.insert({"slug": "s", "title": "t"})[1][-1] == "acme"


def test_the_migration_operation_needs_row_level_security() -> None:
    from dataflow import RowSecurityUnsupportedError
    from dataflow._migrations import EnableRowSecurity

    op = EnableRowSecurity("notes", "tenant_id")
    assert op.source() == 'enable_row_security("notes", "tenant_id")'
    op.check(BACKENDS["postgresql"].editor)
    with pytest.raises(RowSecurityUnsupportedError):
        op.check(BACKENDS["sqlite"].editor)
    statements = BACKENDS["postgresql"].editor.row_security.policy_sql("notes", "tenant_id")  # type: ignore[union-attr]
    assert statements[:2] == [
        'ALTER TABLE "notes" ENABLE ROW LEVEL SECURITY',
        'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY',
    ]
