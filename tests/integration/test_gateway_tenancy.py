"""The gateway's tenant (``create_gateway_api(..., tenant=...)``) on both backends: each request acts
for its principal's tenant, and another tenant's record is a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import Header, HTTPException

from dataflow import DataFlow, Field, GatewayConfigurationError
from dataflow.gateway import create_gateway_api


@dataclass
class Principal:
    name: str
    org: str | None


USERS = {
    "ada-token": Principal("ada", "acme"),
    "bob-token": Principal("bob", "globex"),
    "eve-token": Principal("eve", None),
}


def current_user(authorization: str | None = Header(None)) -> Principal:
    user = USERS.get((authorization or "").removeprefix("Bearer "))
    if user is None:
        raise HTTPException(status_code=401, detail="bad or missing token")
    return user


def declare(db: DataFlow) -> type:
    @db.model(tenant=True)
    class Invoice:
        id: int
        number: str = Field(unique=True)
        total: int = 0

    return Invoice


@pytest.fixture
async def app_client(database_url: str) -> AsyncIterator[tuple[DataFlow, httpx.AsyncClient]]:
    db = DataFlow(database_url)
    invoice = declare(db)
    async def tenant_of(user: Principal) -> str | None:  # an awaitable works as well as a plain value
        return user.org

    app = create_gateway_api(db, models=[invoice], auth=current_user, tenant=tenant_of)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield db, http
    await db.close()


def as_user(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_each_request_acts_for_its_principals_tenant(app_client: tuple[DataFlow, httpx.AsyncClient]) -> None:
    _, http = app_client
    ada, bob = as_user("ada-token"), as_user("bob-token")
    created = await http.post("/invoices", json={"number": "1", "total": 10}, headers=ada)
    assert created.status_code == 201, created.text
    assert created.json()["tenant_id"] == "acme"
    assert (await http.post("/invoices", json={"number": "1", "total": 20}, headers=bob)).status_code == 201
    invoice_id = created.json()["id"]
    assert (await http.get(f"/invoices/{invoice_id}", headers=bob)).status_code == 404
    assert (await http.patch(f"/invoices/{invoice_id}", json={"total": 0}, headers=bob)).status_code == 404
    assert (await http.delete(f"/invoices/{invoice_id}", headers=bob)).status_code == 404
    assert (await http.get(f"/invoices/{invoice_id}", headers=ada)).json()["total"] == 10
    listed = (await http.get("/invoices", params={"filter": '{"tenant_id": "acme"}'}, headers=bob)).json()
    assert listed == {"records": [], "count": 0}
    assert (await http.get("/invoices/count", headers=bob)).json() == {"count": 1}
    body = {"where": {"number": "1"}, "update": {"total": 99}}
    upserted = await http.post("/invoices/upsert", json=body, headers=bob)
    assert upserted.status_code == 200 and upserted.json()["created"] is False
    assert (await http.get(f"/invoices/{invoice_id}", headers=ada)).json()["total"] == 10


async def test_the_tenant_field_is_not_an_input(app_client: tuple[DataFlow, httpx.AsyncClient]) -> None:
    _, http = app_client
    response = await http.post("/invoices", json={"number": "2", "tenant_id": "globex"}, headers=as_user("ada-token"))
    assert response.status_code == 422
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    assert "tenant_id" not in schemas["InvoiceCreate"]["properties"]


async def test_a_principal_without_a_tenant_gets_403(app_client: tuple[DataFlow, httpx.AsyncClient]) -> None:
    _, http = app_client
    assert (await http.get("/invoices", headers=as_user("eve-token"))).status_code == 403
    assert (await http.get("/invoices")).status_code == 401


async def test_tenant_scoped_models_need_tenant(database_url: str) -> None:
    db = DataFlow(database_url)
    invoice = declare(db)
    try:
        with pytest.raises(GatewayConfigurationError, match="without tenant="):
            create_gateway_api(db, models=[invoice], auth=current_user)
        with pytest.raises(GatewayConfigurationError, match="needs a callable and an auth= dependency"):
            create_gateway_api(db, models=[invoice], auth=None, tenant=lambda user: "x")
    finally:
        await db.close()
