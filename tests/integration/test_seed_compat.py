"""The seeds' spellings and small systems: bulk parameters, the schema cache, SwitchNode, log lines."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from dataflow import (
    AsyncLocalRuntime,
    ConfigurationError,
    DataFlow,
    InvalidFilterError,
    InvalidParameterError,
    SchemaMismatchError,
    WorkflowBuilder,
)


def declare(db: DataFlow) -> None:
    @db.model
    class Product:
        id: int
        name: str
        price: float = 0.0
        tags: list | None = None


async def run(db: DataFlow, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    workflow = db.workflow()
    for node_type, node_id, params in nodes:
        workflow.add_node(node_type, node_id, params)
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
    return results


# --- bulk spellings ------------------------------------------------------------------------------


async def test_bulk_nodes_take_the_seed_spellings(db: DataFlow) -> None:
    declare(db)
    out = await run(
        db,
        ("ProductBulkCreateNode", "create", {"data": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
        ("ProductBulkUpdateNode", "update", {"filter": {"name": "a"}, "updates": {"price": 2.5}}),
        ("ProductBulkUpsertNode", "upsert", {"data": [{"id": 2, "name": "B"}, {"id": 9, "name": "n"}]}),
        (
            "ProductBulkUpsertNode",
            "ignore",
            {"data": [{"id": 3, "name": "kept?"}, {"id": 10, "name": "new"}], "on_conflict": "ignore"},
        ),
        ("ProductListNode", "all", {"order_by": "id"}),
    )
    assert out["create"] == {"created": 3} and out["update"] == {"updated": 1}
    assert out["upsert"] == {"upserted": 2}
    assert out["ignore"] == {"upserted": 1, "skipped": 1}
    assert [(r["id"], r["name"], r["price"]) for r in out["all"]["records"]] == [
        (1, "a", 2.5), (2, "B", 0.0), (3, "c", 0.0), (9, "n", 0.0), (10, "new", 0.0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("node", "params", "message"),
    [
        ("ProductBulkCreateNode", {"data": [], "records": []}, "both 'records' and 'data'"),
        ("ProductBulkUpdateNode", {"filter": {}, "fields": {"price": 1.0}, "updates": {"price": 2.0}}, "both"),
        ("ProductBulkUpsertNode", {"data": [{"id": 1, "name": "x"}], "on_conflict": "merge"}, "'update' or 'ignore'"),
        (
            "ProductBulkUpsertNode",
            {"records": [{"id": 1, "name": "x"}], "on_conflict": "ignore", "update_fields": ["name"]},
            "no effect",
        ),
        ("ProductBulkCreateNode", {"datas": []}, "did you mean 'data'"),
    ],
)
async def test_bad_bulk_spellings_are_df105(db: DataFlow, node: str, params: dict[str, Any], message: str) -> None:
    declare(db)
    with pytest.raises(InvalidParameterError, match=message) as info:
        await run(db, (node, "n", params))
    assert info.value.code == "DF-105"


# --- list containment ------------------------------------------------------------------------------


async def test_contains_on_a_list_field_means_holds_all(db: DataFlow) -> None:
    declare(db)
    records = [{"name": "a", "tags": ["tutorial", "python"]}, {"name": "b", "tags": ["python"]}, {"name": "c"}]
    await run(db, ("ProductBulkCreateNode", "c", {"records": records}))
    found = await run(db, ("ProductListNode", "l", {"filter": {"tags": {"$contains": ["tutorial"]}}}))
    assert [r["name"] for r in found["l"]["records"]] == ["a"]
    both = await run(db, ("ProductCountNode", "n", {"filter": {"tags": {"$contains": ["python", "tutorial"]}}}))
    assert both["n"] == {"count": 1}
    with pytest.raises(InvalidFilterError, match="list of str, int"):
        await run(db, ("ProductListNode", "l", {"filter": {"tags": {"$contains": [["nested"]]}}}))
    with pytest.raises(InvalidFilterError):  # still substring only on str fields, and $null only on dicts
        await run(db, ("ProductListNode", "l", {"filter": {"tags": {"$gt": ["a"]}}}))


# --- the schema cache ---------------------------------------------------------------------------------


async def test_three_creates_are_one_miss_and_two_hits(db: DataFlow) -> None:
    declare(db)
    for name in ("Alice", "Bob", "Carol"):
        await run(db, ("ProductCreateNode", "create", {"name": name}))
    metrics = db._schema_cache.get_metrics()
    assert (metrics["misses"], metrics["hits"], metrics["cached_tables"]) == (1, 2, 1)
    assert f"{metrics['hit_rate']:.2%}" == "66.67%"
    assert db.schema_cache is db._schema_cache
    assert db.schema_cache.is_table_ensured("Product", db.url) and db.schema_cache.is_table_ensured("products")
    assert not db.schema_cache.is_table_ensured("Product", "sqlite:///elsewhere.db")
    assert db.schema_cache.clear_table("Product") and not db.schema_cache.is_table_ensured("Product")
    await run(db, ("ProductCountNode", "n", {}))
    assert db.schema_cache.get_metrics()["misses"] == 2
    await db.drop_tables()  # schema operations forget what they change
    assert not db.schema_cache.is_table_ensured("Product")


async def test_disabled_cache_checks_every_time_and_ttl_expires(database_url: str) -> None:
    off = DataFlow(database_url, schema_cache_enabled=False)
    short = DataFlow(database_url, schema_cache_ttl=0.05, schema_cache_max_size=1)
    try:
        for db in (off, short):
            declare(db)
            await run(db, ("ProductCreateNode", "c", {"name": "x"}), ("ProductCountNode", "n", {}))
        assert off.schema_cache.get_metrics()["misses"] == 2 and off.schema_cache.get_metrics()["cached_tables"] == 0
        await asyncio.sleep(0.1)
        await run(short, ("ProductCountNode", "n", {}))
        assert short.schema_cache.get_metrics()["expirations"] == 1
    finally:
        await off.close()
        await short.close()


async def test_validation_names_missing_and_mismatched_columns(database_url: str) -> None:
    old = DataFlow(database_url)

    @old.model(table="items")
    class Item:
        id: int
        name: str

    await old.create_tables()
    await old.close()
    new = DataFlow(database_url, schema_cache_validation=True)

    @new.model(table="items")
    class Item2:
        id: int
        name: int
        price: float

    try:
        with pytest.raises(SchemaMismatchError) as info:
            await run(new, ("Item2CountNode", "n", {}))
        assert info.value.code == "DF-106"
        assert "missing column(s): price" in str(info.value) and "name (" in str(info.value)
    finally:
        await new.close()


def test_schema_cache_is_thread_safe(database_url: str) -> None:
    db = DataFlow(database_url)
    cache = db.schema_cache
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(2000):
                name = f"M{(worker + i) % 7}"
                if not cache.check(name):
                    cache.mark(name)
                if i % 97 == 0:
                    cache.forget([name])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics = cache.get_metrics()
    assert not errors and metrics["hits"] + metrics["misses"] == 16000


@pytest.mark.parametrize(
    "bad", [{"schema_cache_ttl": 0}, {"schema_cache_max_size": 0}, {"schema_cache_enabled": "yes"}]
)
def test_bad_schema_cache_settings_are_df802(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        DataFlow("sqlite:///:memory:", **bad)


# --- SwitchNode ----------------------------------------------------------------------------------------


async def test_switch_runs_one_branch_and_skips_what_depends_on_the_other(db: DataFlow) -> None:
    declare(db)

    def workflow() -> WorkflowBuilder:
        builder = db.workflow()
        builder.add_node("ProductListNode", "check", {"filters": {"name": "lamp"}, "limit": 1})
        builder.add_node("SwitchNode", "exists", {"condition": "len(check) > 0"})
        builder.add_connection("check", "results", "exists", "input")
        builder.add_node("ProductCreateNode", "create", {"name": "lamp", "price": 10.0})
        builder.add_node("ProductUpdateNode", "update", {"filter": {"name": "lamp"}, "fields": {"price": 12.0}})
        builder.add_node("ProductReadNode", "reread", {})
        builder.add_connection("exists", "true_output", "update", "trigger")
        builder.add_connection("exists", "false_output", "create", "trigger")
        builder.add_connection("update", "id", "reread", "id")
        return builder

    first, _ = await AsyncLocalRuntime().execute_workflow_async(workflow().build())
    assert first["exists"]["result"] is False and first["create"]["price"] == 10.0
    assert first["update"] == {"skipped": True, "reason": "'exists.true_output' is the branch not taken"}
    assert first["reread"] == {"skipped": True, "reason": "'update' was skipped"}
    second, _ = await AsyncLocalRuntime().execute_workflow_async(workflow().build())
    assert second["create"]["skipped"] is True and second["reread"]["price"] == 12.0


# --- log lines -----------------------------------------------------------------------------------------


async def test_log_lines_as_the_adr_quotes_them(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dataflow")
    db = DataFlow(database_url)
    declare(db)
    await run(db, ("ProductCountNode", "n", {}))
    await db.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "dataflow"]
    assert any(m.startswith("DataFlow: Test mode enabled (auto-detected pytest environment)") for m in messages)
    created = [m for m in messages if m.startswith("DataFlow: Created connection pool 'pool-")]
    assert created and "(test mode)" in created[0], messages
    assert all("secret" not in m for m in messages)


# --- error enhancement modes -----------------------------------------------------------------------


async def test_modes_per_instance_and_from_the_environment(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataflow import ConfigurationError, MissingFieldError, PerformanceMode
    from dataflow.core.config import ErrorEnhancerConfig

    full = DataFlow(database_url)
    minimal = DataFlow(database_url, error_enhancer=ErrorEnhancerConfig(mode=PerformanceMode.MINIMAL, cache_size=200))
    monkeypatch.setenv("DATAFLOW_ERROR_MODE", "disabled")
    disabled = DataFlow(database_url)
    messages = {}
    try:
        for name, db in (("full", full), ("minimal", minimal), ("disabled", disabled)):
            declare(db)
            with pytest.raises(MissingFieldError) as info:  # the same class in every mode
                await run(db, ("ProductCreateNode", "create", {"price": 1.0}))
            assert info.value.code == "DF-101" and info.value.context["node"] == "create"
            messages[name] = str(info.value)
    finally:
        for db in (full, minimal, disabled):
            await db.close()
    assert "\nContext:\n- Node: create\n" in messages["full"] and "\nCauses:\n1. " in messages["full"]
    assert "\nSolutions:\n1. " in messages["full"]
    assert messages["minimal"].count("\n") == 2 and messages["minimal"].endswith("#df-101")
    assert messages["disabled"].startswith("DF-101: ProductCreateNode is missing") and "\n" not in messages["disabled"]
    monkeypatch.setenv("DATAFLOW_ERROR_MODE", "loud")
    with pytest.raises(ConfigurationError, match="DATAFLOW_ERROR_MODE='loud'"):
        DataFlow(database_url)
    monkeypatch.delenv("DATAFLOW_ERROR_MODE")
    with pytest.raises(ConfigurationError, match="error_enhancer='verbose'"):
        DataFlow(database_url, error_enhancer="verbose")
    with pytest.raises(ValueError, match="mode must be one of"):
        ErrorEnhancerConfig(mode="verbose")  # type: ignore[arg-type]
