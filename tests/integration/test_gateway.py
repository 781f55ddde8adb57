"""create_gateway_api(): the REST endpoints on both backends, errors as statuses, auth, and a fuzz
run of schemathesis from the app's own OpenAPI schema (0 server errors, 0 schema violations)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Header, HTTPException

import dataflow
from dataflow import DataFlow, Field, GatewayConfigurationError, GatewayWithoutAuthWarning
from dataflow.gateway import create_gateway_api, status_for

TOKEN = "t0ken"


def current_user(authorization: str | None = Header(None)) -> str:
    if authorization != f"Bearer {TOKEN}":
        raise HTTPException(status_code=401, detail="bad or missing token", headers={"WWW-Authenticate": "Bearer"})
    return "ada"


def declare(db: DataFlow) -> tuple[type, type]:
    @db.model
    class User:
        id: int
        name: str
        email: str = Field(unique=True)
        age: int = 0

    @db.model
    class Secret:
        id: int
        value: str

    return User, Secret


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    db = DataFlow(database_url)
    user, _ = declare(db)
    app = create_gateway_api(db, models=[user], auth=current_user)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as http:
            yield http
    await db.close()


async def test_create_read_list_count_update_upsert_delete(client: httpx.AsyncClient) -> None:
    created = await client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    assert created.status_code == 201, created.text
    ada = created.json()
    assert ada == {"id": ada["id"], "name": "Ada", "email": "ada@example.com", "age": 0}
    await client.post("/users", json={"name": "Bob", "email": "bob@example.com", "age": 40})
    assert (await client.get(f"/users/{ada['id']}")).json()["name"] == "Ada"
    page = (await client.get("/users", params={"filter": '{"age": {"$gte": 18}}', "order_by": "name"})).json()
    assert [r["name"] for r in page["records"]] == ["Bob"] and page["count"] == 1
    assert (await client.get("/users", params={"limit": 1, "order_by": "-name"})).json()["records"][0]["name"] == "Bob"
    assert (await client.get("/users/count")).json() == {"count": 2}
    updated = await client.patch(f"/users/{ada['id']}", json={"age": 37})
    assert updated.json()["age"] == 37
    upserted = await client.post(
        "/users/upsert", json={"where": {"email": "cy@example.com"}, "create": {"name": "Cy"}}
    )
    assert upserted.status_code == 200 and upserted.json()["created"] is True
    again = await client.post(
        "/users/upsert", json={"where": {"email": "cy@example.com"}, "create": {"name": "Cy"}, "update": {"age": 5}}
    )
    assert again.json()["created"] is False and again.json()["record"]["age"] == 5
    assert (await client.delete(f"/users/{ada['id']}")).status_code == 204
    assert (await client.get("/users/count")).json() == {"count": 2}


async def test_errors_carry_their_df_code_and_link(client: httpx.AsyncClient) -> None:
    missing = await client.get("/users/999")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "DF-301" and error["url"].endswith("#df-301")
    await client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    duplicate = await client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "DF-302"
    bad_filter = await client.get("/users", params={"filter": '{"nope": 1}'})
    assert bad_filter.status_code == 422 and bad_filter.json()["error"]["code"] == "DF-102"
    not_json = await client.get("/users", params={"filter": "{"})
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "DF-202"
    unknown_field = await client.post("/users", json={"name": "X", "email": "x@example.com", "role": "admin"})
    assert unknown_field.status_code == 422  # the request model forbids it


async def test_only_the_models_passed_are_exposed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/secrets")).status_code == 404
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths) == {"/users", "/users/count", "/users/{record_id}", "/users/upsert"}


async def test_unauthenticated_calls_get_401(database_url: str) -> None:
    db = DataFlow(database_url)
    user, _ = declare(db)
    app = create_gateway_api(db, models=[user], auth=current_user)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            for method, path in (("GET", "/users"), ("POST", "/users"), ("GET", "/users/1"), ("DELETE", "/users/1")):
                assert (await http.request(method, path, json={})).status_code == 401
    await db.close()


async def test_without_auth_every_request_is_refused_and_auth_none_is_warned(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    with pytest.warns(GatewayWithoutAuthWarning, match="DF-811"):
        closed = create_gateway_api(db)
    async with closed.router.lifespan_context(closed):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://test") as http:
            assert (await http.get("/users")).status_code == 401
    open_app = create_gateway_api(db, auth=None)
    with pytest.warns(GatewayWithoutAuthWarning, match="auth=None"):
        async with open_app.router.lifespan_context(open_app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=open_app), base_url="http://t") as http:
                assert (await http.get("/secrets")).json() == {"records": [], "count": 0}
    await db.close()


def test_the_seeds_call_runs_as_written(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GatewayWithoutAuthWarning)
        app = create_gateway_api()
    assert {"/users", "/secrets"} <= set(app.openapi()["paths"])
    import asyncio

    asyncio.run(db.close())


def test_bad_setups_are_df_812(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    with pytest.raises(GatewayConfigurationError, match="DF-812") as info:
        create_gateway_api(db, models=["Order"], auth=None)
    assert "does not declare" in str(info.value)
    other = DataFlow(database_url)
    try:
        with pytest.raises(GatewayConfigurationError, match="exactly one live DataFlow instance"):
            create_gateway_api(auth=None)
    finally:
        import asyncio

        asyncio.run(other.close())
        asyncio.run(db.close())


def _examples(operation: Any, given: Any, settings: Any, health_check: Any) -> list[Any]:
    """30 requests hypothesis draws from one operation's schema."""
    cases: list[Any] = []

    @settings(max_examples=30, deadline=None, suppress_health_check=list(health_check), database=None)
    @given(case=operation.as_strategy())
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_fuzzing_from_the_openapi_schema_finds_no_server_error(database_url: str) -> None:
    """schemathesis generates requests from the schema and checks every response against it:
    no 5xx, every status and body documented."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    db = DataFlow(database_url)
    user, _ = declare(db)
    app = create_gateway_api(db, models=[user], auth=current_user)
    await db.create_tables()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for operation in operations:
            for case in _examples(operation, given, settings, HealthCheck):
                kwargs = case.as_transport_kwargs(base_url="http://test")
                kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {TOKEN}"}
                response = await http.request(
                    kwargs["method"], kwargs["url"], headers=kwargs["headers"], params=kwargs.get("params"),
                    json=kwargs.get("json"), content=kwargs.get("content"),
                )
                statuses.append(response.status_code)
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:  # noqa: BLE001 - collect them all
                    failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:300]}")
    await db.close()
    assert not failures, "\n".join(failures[:5])
    assert len(statuses) >= 7 * 10 and {200, 201, 422} <= set(statuses), sorted(set(statuses))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (dataflow.RecordNotFoundError("gone"), 404),
        (dataflow.UnknownFieldError("no such field"), 422),
        (dataflow.UniqueViolationError("taken"), 409),
        (dataflow.SerializationFailureError("retry"), 409),
        (dataflow.ServerUnavailableError("down"), 503),
        (dataflow.UnknownNodeTypeError("no node"), 500),
    ],
)
def test_status_for_maps_each_error_family(error: dataflow.DataFlowError, status: int) -> None:
    assert status_for(error) == status
