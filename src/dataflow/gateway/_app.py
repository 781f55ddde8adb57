"""The ASGI application: one set of REST endpoints per model, each running the model's nodes."""

# No "from __future__ import annotations": FastAPI reads the endpoint annotations at run time.

import inspect
import json
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from .._dataflow import DataFlow
from .._errors import (
    DatabaseConnectionError,
    DataFlowError,
    GatewayWithoutAuthWarning,
    InvalidFilterError,
    RecordError,
    RecordNotFoundError,
    TransactionError,
    ValidationError,
)
from .._model import ModelSpec
from .._runtime import AsyncLocalRuntime
from .._tenancy import check_tenant_id
from ._schemas import ErrorBody, ModelSchemas, schemas_for

__all__ = ["REQUIRED", "build_app", "status_for"]

#: The default of ``auth=``: no way to authenticate was given, so every request gets 401.
REQUIRED: Any = object()

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    404: {"model": ErrorBody, "description": "No such record (DF-301)"},
    409: {"model": ErrorBody, "description": "Conflict: unique or other constraint (DF-302, DF-303, DF-304)"},
    422: {"model": ErrorBody, "description": "Invalid input (DF-1xx, DF-2xx)"},
    503: {"model": ErrorBody, "description": "The database is unavailable (DF-5xx)"},
}


def status_for(error: DataFlowError) -> int:
    """The HTTP status of a DataFlow error: 404 not found, 422 invalid input, 409 a conflict with
    what is stored (or a transaction to retry), 503 the database unreachable, 500 anything else."""
    if isinstance(error, RecordNotFoundError):
        return 404
    if isinstance(error, ValidationError):
        return 422
    if isinstance(error, (RecordError, TransactionError)):
        return 409
    if isinstance(error, DatabaseConnectionError):
        return 503
    return 500  # WorkflowError, ConfigurationError, DatabaseError: not the client's fault


def _error_response(error: DataFlowError) -> JSONResponse:
    body = {"error": {"code": error.code, "title": error.title, "message": error.detail, "url": error.url}}
    return JSONResponse(body, status_code=status_for(error))


def _refuse() -> None:
    raise HTTPException(
        status_code=401,
        detail="This gateway was created without auth=: pass an authentication dependency to create_gateway_api().",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _tenant_of(auth: Any, tenant: Any) -> Any:
    """The dependency that gives each request its tenant: ``tenant(principal)`` (None without ``tenant=``)."""
    if tenant is None:

        async def no_tenant() -> None:
            return None

        return no_tenant

    async def request_tenant(principal: Annotated[Any, Depends(auth)]) -> str:
        value = tenant(principal)
        if inspect.isawaitable(value):
            value = await value
        if value is None:
            raise HTTPException(status_code=403, detail="The authenticated principal belongs to no tenant.")
        return check_tenant_id(value, "the gateway's tenant=")

    return request_tenant


def build_app(db: DataFlow, models: Sequence[ModelSpec], auth: Any, *, title: str, tenant: Any = None) -> FastAPI:
    """The FastAPI application serving ``models`` of ``db``."""
    if auth is REQUIRED:
        warnings.warn(
            GatewayWithoutAuthWarning(
                "create_gateway_api() was called without auth=: every request gets 401 until you pass an "
                "authentication dependency (or auth=None for an open API)."
            ),
            stacklevel=3,
        )
        dependencies = [Depends(_refuse)]
    elif auth is None:
        dependencies = []
    else:
        dependencies = [Depends(auth)]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if auth is None:
            warnings.warn(
                GatewayWithoutAuthWarning(
                    f"The gateway for {db.url} starts with auth=None: every client can read and write "
                    "the exposed models."
                ),
                stacklevel=1,
            )
        await db.create_tables()  # the exposed models' tables exist before the first request
        try:
            yield
        finally:
            await db.cleanup_all_pools()

    app = FastAPI(title=title, lifespan=lifespan, responses=_ERRORS)

    @app.exception_handler(DataFlowError)
    async def dataflow_error(request: Request, exc: DataFlowError) -> JSONResponse:
        return _error_response(exc)

    runtime = AsyncLocalRuntime()
    tenant_of = _tenant_of(auth, tenant)
    for spec in models:
        app.include_router(_router(db, spec, runtime, schemas_for(spec), tenant_of), dependencies=dependencies)
    return app


def _router(
    db: DataFlow, spec: ModelSpec, runtime: AsyncLocalRuntime, schemas: ModelSchemas, tenant_of: Any
) -> APIRouter:
    path = f"/{spec.table}"
    router = APIRouter(prefix=path, tags=[spec.name])
    id_type = schemas.record.model_fields["id"].annotation

    async def run(operation: str, params: dict[str, Any], tenant_id: str | None) -> dict[str, Any]:
        workflow = db.workflow().add_node(f"{spec.name}{operation}Node", "op", params)
        results, _ = await runtime.execute_workflow_async(workflow.build(), tenant_id=tenant_id)
        output: dict[str, Any] = results["op"]
        return output

    def selection(filter: str | None, limit: int | None, offset: int | None, order_by: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if filter is not None:
            try:
                params["filter"] = json.loads(filter)
            except ValueError as exc:
                raise InvalidFilterError(
                    f"The filter query parameter of {path} is not JSON: {exc}. Pass a JSON object such as "
                    '{"age": {"$gte": 18}}.',
                    context={"parameter": "filter"},
                ) from exc
        if limit is not None:
            params["limit"] = limit
        if offset is not None:
            params["offset"] = offset
        if order_by is not None:
            params["order_by"] = [name.strip() for name in order_by.split(",") if name.strip()]
        return params

    filter_doc = 'A JSON filter, e.g. {"age": {"$gte": 18}} (DataFlow filter operators).'

    @router.get("", response_model=schemas.page, summary=f"List {spec.name} records")
    async def list_records(
        filter: str | None = Query(None, description=filter_doc),
        limit: int | None = Query(None, ge=0, le=10_000),
        offset: int | None = Query(None, ge=0),
        order_by: str | None = Query(None, description="Comma-separated fields; '-name' sorts descending."),
        tenant_id: str | None = Depends(tenant_of),
    ) -> Any:
        output = await run("List", selection(filter, limit, offset, order_by), tenant_id)
        return {"records": output["records"], "count": output["count"]}

    @router.get("/count", summary=f"Count {spec.name} records")
    async def count_records(
        filter: str | None = Query(None, description=filter_doc), tenant_id: str | None = Depends(tenant_of)
    ) -> dict[str, int]:
        output = await run("Count", selection(filter, None, None, None), tenant_id)
        return {"count": int(output["count"])}

    @router.get("/{record_id}", response_model=schemas.record, summary=f"Read one {spec.name}")
    async def read_record(record_id: id_type, tenant_id: str | None = Depends(tenant_of)) -> Any:  # type: ignore[valid-type]
        return await run("Read", {"id": record_id}, tenant_id)

    @router.post("", response_model=schemas.record, status_code=201, summary=f"Create a {spec.name}")
    async def create_record(body: schemas.create, tenant_id: str | None = Depends(tenant_of)) -> Any:  # type: ignore[name-defined]
        return await run("Create", body.model_dump(exclude_unset=True), tenant_id)

    @router.patch("/{record_id}", response_model=schemas.record, summary=f"Update a {spec.name}")
    async def update_record(
        record_id: id_type, body: schemas.update, tenant_id: str | None = Depends(tenant_of)  # type: ignore[valid-type,name-defined]
    ) -> Any:
        fields = body.model_dump(exclude_unset=True)
        if not fields:
            return await run("Read", {"id": record_id}, tenant_id)
        return await run("Update", {"id": record_id, "fields": fields}, tenant_id)

    @router.delete("/{record_id}", status_code=204, summary=f"Delete a {spec.name}")
    async def delete_record(record_id: id_type, tenant_id: str | None = Depends(tenant_of)) -> Response:  # type: ignore[valid-type]
        await run("Delete", {"id": record_id}, tenant_id)
        return Response(status_code=204)

    @router.post("/upsert", response_model=schemas.upserted, summary=f"Create or update a {spec.name}")
    async def upsert_record(body: schemas.upsert, tenant_id: str | None = Depends(tenant_of)) -> Any:  # type: ignore[name-defined]
        params = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        output = await run("Upsert", params, tenant_id)
        return {"created": output["created"], "record": output["record"]}

    return router
