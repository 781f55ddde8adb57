"""A REST gateway generated from the models: ``create_gateway_api(db, models=[...])``.

Install the extra first: ``pip install "dataflow[gateway]"`` (FastAPI). The application it returns is
a FastAPI (ASGI) app: serve it with any ASGI server, test it with ``httpx.AsyncClient`` and
``httpx.ASGITransport``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._dataflow import DataFlow
from .._errors import DataFlowError, GatewayConfigurationError
from .._model import ModelSpec
from .._nodes import live_owners

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_gateway_api", "status_for"]


def _missing_extra(exc: ImportError) -> GatewayConfigurationError:
    return GatewayConfigurationError(
        f"create_gateway_api() needs FastAPI, which is not installed ({exc}). Install the extra: "
        'pip install "dataflow[gateway]".',
        context={"missing": getattr(exc, "name", None) or "fastapi"},
    )


def create_gateway_api(
    db: DataFlow | None = None,
    models: Sequence[type | str] | None = None,
    *,
    auth: Any = ...,
    tenant: Callable[[Any], Any] | None = None,
    title: str = "DataFlow gateway",
) -> FastAPI:
    """A FastAPI application with list, count, read, create, update, delete and upsert endpoints
    for each model, an OpenAPI schema, and DataFlow errors as HTTP statuses.

    Args:
        db: The instance whose models to serve (default: the one live instance).
        models: The model classes (or names) to expose; only these get endpoints (default: all of
            ``db``'s models).
        auth: A FastAPI dependency that authenticates a request (raise ``HTTPException(401)`` to
            refuse it); it guards every endpoint. Left out, every request gets 401 and a DF-811
            warning says so; ``auth=None`` serves an open API (warned at startup).
        tenant: Takes what ``auth`` returns (the principal) and returns its tenant id (or an
            awaitable of it); every request then acts for that tenant: tenant-scoped models show,
            count and change only its rows, and another tenant's record is a 404. ``None`` from it
            is a 403. Required when a tenant-scoped model is exposed.
        title: The OpenAPI title.

    Raises:
        GatewayConfigurationError: DF-812: FastAPI is not installed, no single live instance
            without ``db``, a model that ``db`` does not declare, a tenant-scoped model without
            ``tenant=``, or ``tenant=`` without an ``auth`` dependency.

    Example:
        ```python
        app = create_gateway_api(db, models=[User], auth=current_user)
        ```
    """
    try:
        from ._app import REQUIRED, build_app
    except ImportError as exc:
        raise _missing_extra(exc) from exc
    instance = db if db is not None else _the_instance()
    exposed = _models(instance, models)
    _check_tenant(exposed, auth, tenant)
    return build_app(instance, exposed, REQUIRED if auth is ... else auth, title=title, tenant=tenant)


def _check_tenant(models: list[ModelSpec], auth: Any, tenant: Any) -> None:
    scoped = [spec.name for spec in models if spec.tenant_field is not None]
    if tenant is None and scoped:
        raise GatewayConfigurationError(
            f"create_gateway_api() exposes the tenant-scoped model {scoped[0]} without tenant=: pass a function "
            "from the authenticated principal to its tenant id, such as tenant=lambda user: user.org_id.",
            context={"model": scoped[0]},
        )
    if tenant is not None and (auth is None or auth is ... or not callable(tenant)):
        raise GatewayConfigurationError(
            "create_gateway_api(tenant=...) needs a callable and an auth= dependency: the tenant comes from "
            "the principal that auth returns.",
            context={"parameter": "tenant"},
        )


def status_for(error: DataFlowError) -> int:
    """The HTTP status the gateway answers a DataFlow error with (404, 409, 422, 503 or 500)."""
    from ._app import status_for as status  # FastAPI is imported only with the extra installed

    return status(error)


def _the_instance() -> DataFlow:
    instances = [owner for owner in live_owners() if isinstance(owner, DataFlow)]
    if len(instances) > 1:  # instances nothing references any more may wait for the collector
        del instances
        gc.collect()
        instances = [owner for owner in live_owners() if isinstance(owner, DataFlow)]
    if len(instances) != 1:
        raise GatewayConfigurationError(
            f"create_gateway_api() without db= needs exactly one live DataFlow instance; there are "
            f"{len(instances)}. Pass the instance: create_gateway_api(db).",
            context={"instances": len(instances)},
        )
    return instances[0]


def _models(db: DataFlow, models: Sequence[type | str] | None) -> list[ModelSpec]:
    declared = db.models
    if models is None:
        return list(declared.values())
    if isinstance(models, (str, type)):
        models = [models]
    exposed = []
    for model in models:
        name = model.__name__ if isinstance(model, type) else model
        spec = declared.get(name) if isinstance(name, str) else None
        if spec is None:
            raise GatewayConfigurationError(
                f"create_gateway_api(models=...) names {model!r}, which {db!r} does not declare; its models: "
                f"{', '.join(declared) or 'none'}.",
                context={"model": str(name)},
            )
        exposed.append(spec)
    return exposed
