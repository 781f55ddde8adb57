"""Multi-tenancy: which tenant the running code acts for, and tenant-scoped model specs.

The current tenant is one context variable. It is set for a workflow run by the runtimes (their
``tenant_id=`` argument, else ``workflow.metadata["tenant_id"]``), and by ``db.tenant("a")``
(``async with`` / ``with``) for code that does not build the workflow. Statements of a
tenant-scoped model (:mod:`dataflow._tenant_sql`) read it when they are compiled; none set is
DF-306, never "every tenant".
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import replace
from types import TracebackType
from typing import Any

from ._errors import InvalidTenantError, InvalidTenantOptionError, TenantConflictError, TenantRequiredError
from ._model import MISSING, FieldSpec, ModelSpec
from ._types import FieldType

__all__ = [
    "TENANT_FIELD",
    "TenantCalls",
    "TenantScope",
    "check_tenant_id",
    "current_tenant",
    "is_validating",
    "required_tenant",
    "run_tenant",
    "tenant_scope",
    "tenant_events",
    "tenant_spec",
    "validating",
]

#: The field ``@db.model(tenant=True)`` adds.
TENANT_FIELD = "tenant_id"
_MAX_TENANT = 200

_tenant: ContextVar[str | None] = ContextVar("dataflow_tenant", default=None)
#: True while ``build()`` validates a tenant-scoped node: statements compile with a stand-in tenant
#: that is never run (those nodes do not keep what build() prepared).
_validating: ContextVar[bool] = ContextVar("dataflow_tenant_validating", default=False)
_STAND_IN = "dataflow-build-validation"


def check_tenant_id(value: Any, where: str) -> str:
    """``value`` as a tenant id: a non-empty str without NUL of at most 200 characters (DF-308)."""
    if isinstance(value, str) and value and "\x00" not in value and len(value) <= _MAX_TENANT:
        return value
    raise InvalidTenantError(
        f"The tenant id from {where} must be a non-empty str of at most {_MAX_TENANT} characters, "
        f"got {value!r:.60}.",
        context={"tenant_source": where},
    )


def current_tenant() -> str | None:
    """The tenant the running code acts for, or ``None``."""
    return _tenant.get()


def required_tenant(model: str) -> str:
    """The current tenant for a statement on tenant-scoped ``model`` (DF-306 when there is none)."""
    tenant = _tenant.get()
    if tenant is not None:
        return tenant
    if _validating.get():
        return _STAND_IN
    raise TenantRequiredError(
        f"Model {model} is tenant-scoped and no tenant is set, so DataFlow does not know whose rows to use "
        "(it never falls back to all tenants).",
        context={"model": model},
    )


@contextmanager
def tenant_scope(tenant: str | None) -> Iterator[None]:
    """Run the block for ``tenant`` (``None``: leave the current tenant as it is)."""
    if tenant is None:
        yield
        return
    token = _tenant.set(tenant)
    try:
        yield
    finally:
        _tenant.reset(token)


def is_validating() -> bool:
    """True inside :func:`validating` (build-time checks, no real tenant)."""
    return _validating.get()


@contextmanager
def validating() -> Iterator[None]:
    """Build-time validation of tenant-scoped nodes: compile without a real tenant."""
    token = _validating.set(True)
    try:
        yield
    finally:
        _validating.reset(token)


class TenantScope:
    """``db.tenant("a")``: ``async with`` (or ``with``) it to act for tenant ``a``.

    Nested scopes replace the tenant for their block; leaving one restores the outer tenant.
    """

    def __init__(self, tenant: Any) -> None:
        self.tenant = check_tenant_id(tenant, "db.tenant()")
        self._tokens: list[Token[str | None]] = []

    def __enter__(self) -> str:
        self._tokens.append(_tenant.set(self.tenant))
        return self.tenant

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _tenant.reset(self._tokens.pop())

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TenantCalls:
    """``db.tenant()``, a DataFlow mixin."""

    def tenant(self, tenant_id: str) -> TenantScope:
        """``async with db.tenant("a"):`` (or ``with``): act for tenant ``a`` in the block (DF-308 for a
        bad id). Nodes of tenant-scoped models run inside it see, count and change only ``a``'s rows.

        Example:
            ```python
            async with db.tenant("acme"):
                results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
            ```
        """
        return TenantScope(tenant_id)


def run_tenant(explicit: Any, metadata: Mapping[str, Any], ambient: str | None) -> str | None:
    """The tenant of one workflow run: the runtime's ``tenant_id=``, the workflow's
    ``metadata["tenant_id"]`` and the surrounding ``db.tenant()`` must agree (DF-412); any one is enough."""
    if explicit is None and ambient is None and (not metadata or metadata.get("tenant_id") is None):
        return None  # the common run: no tenant from anywhere
    sources: list[tuple[str, str]] = []
    if explicit is not None:
        sources.append(("the runtime's tenant_id=", check_tenant_id(explicit, "the runtime's tenant_id=")))
    if metadata.get("tenant_id") is not None:
        where = "workflow.metadata['tenant_id']"
        sources.append((where, check_tenant_id(metadata["tenant_id"], where)))
    if ambient is not None:
        sources.append(("the surrounding db.tenant() block", ambient))
    tenants = {tenant for _, tenant in sources}
    if len(tenants) > 1:
        named = ", ".join(f"{where} = {tenant!r}" for where, tenant in sources)
        raise TenantConflictError(
            f"A workflow run names more than one tenant: {named}.",
            context={"tenants": sorted(tenants)},
        )
    return sources[0][1] if sources else None


def tenant_events(spec: ModelSpec | None, events: list[Any]) -> list[Any]:
    """The change events (``new`` / ``old`` rows) of the current tenant, for a tenant-scoped ``spec``
    (DF-306 without a current tenant, also for no events)."""
    if spec is None or spec.tenant_field is None:
        return events
    tenant, field = required_tenant(spec.name), spec.tenant_field
    return [e for e in events if (e.new if e.new is not None else (e.old or {})).get(field) == tenant]


def _option_error(model: str, detail: str) -> InvalidTenantOptionError:
    return InvalidTenantOptionError(f"Model {model}: {detail}", context={"model": model})


def tenant_spec(spec: ModelSpec, tenant: Any, *, row_security: bool = False) -> ModelSpec:
    """``spec`` made tenant-scoped by ``@db.model(tenant=...)`` (DF-813 for a bad option).

    ``tenant=True`` adds a ``tenant_id: str`` field; ``tenant="org_id"`` uses that declared ``str``
    field. Creates may leave the field out (the current tenant fills it). Every unique field and
    constraint becomes unique per tenant (the tenant column joins it). Ids stay unique across tenants
    (the primary key). ``row_security``: the table gets the tenant policy (``tenant_rls=True``).
    """
    if tenant is False or tenant is None:
        return spec
    if tenant is True:
        name = TENANT_FIELD
        if name in spec.fields:
            raise _option_error(
                spec.name, f"tenant=True adds the field {name!r}, which the class declares already; "
                f"pass tenant={name!r} to use the declared field.",
            )
        declared = None
    elif isinstance(tenant, str):
        name = tenant
        declared = spec.fields.get(name)
        if declared is None:
            raise _option_error(
                spec.name, f"tenant={name!r} names no field. Fields: {spec.field_names()}."
            )
        if declared.primary_key or declared.kind is not FieldType.STR or declared.nullable:
            raise _option_error(
                spec.name, f"the tenant field {name!r} must be a non-optional str field other than 'id'."
            )
    else:
        raise _option_error(spec.name, f"tenant= takes True or the name of a str field, got {tenant!r:.60}.")
    field = FieldSpec(
        name=name,
        kind=FieldType.STR,
        python_type=str,
        nullable=False,
        default=MISSING,
        default_factory=functools.partial(required_tenant, spec.name),
        index=declared.index if declared is not None else False,
    )
    fields = dict(spec.fields)
    fields[name] = field
    groups: list[tuple[str, ...]] = [(f.name,) for f in spec.fields.values() if f.unique and f.name != name]
    groups += [g for g in spec.unique_together if g != (name,)]
    scoped = tuple((name, *(n for n in group if n != name)) for group in groups)
    fields = {n: replace(f, unique=False) if f.unique else f for n, f in fields.items()}
    return replace(
        spec, fields=fields, unique_together=tuple(dict.fromkeys(scoped)), tenant_field=name,
        row_security=row_security,
    )
