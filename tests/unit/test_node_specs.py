"""One parameter specification per node, used at build time and at run time alike."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from dataflow import DataFlow, InvalidParameterError, UnknownFieldError, WorkflowBuilder
from dataflow._events import PoolEvent, PoolEventKind, publish, subscribe

OPERATIONS = [
    "Create", "Read", "Update", "Delete", "List", "Count", "Upsert",
    "BulkCreate", "BulkUpdate", "BulkDelete", "BulkUpsert",
]  # fmt: skip


@pytest.fixture
def db() -> Any:
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Person:
        id: int
        name: str

    return db


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_connection_into_an_unknown_parameter_fails_at_build(db: DataFlow, operation: str) -> None:
    workflow = db.workflow()
    workflow.add_node("PersonCreateNode", "source", {"name": "Ada"})
    workflow.add_node(f"Person{operation}Node", "target", {})
    workflow.add_connection("source", "name", "target", "bogus")
    expected = UnknownFieldError if operation == "Create" else InvalidParameterError
    with pytest.raises(expected) as info:
        workflow.build()
    assert info.value.context["node"] == "target"
    assert "bogus" in str(info.value)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_an_unknown_parameter_fails_the_same_way_at_run_time(db: DataFlow, operation: str) -> None:
    node_cls = db.nodes[f"Person{operation}Node"]
    expected = UnknownFieldError if operation == "Create" else InvalidParameterError
    with pytest.raises(expected) as built:
        node_cls.validate({"bogus": 1})
    with pytest.raises(expected) as ran:
        await node_cls().run({"bogus": 1})
    assert built.value.code == ran.value.code
    await db.close()


def test_specs_describe_parameters_and_outputs(db: DataFlow) -> None:
    update = db.nodes["PersonUpdateNode"].spec
    assert [p.name for p in update.params] == ["id", "filter", "fields"]
    assert update.by_name["filter"].aliases == ("filters",)
    assert update.required == ("fields",)
    read = db.nodes["PersonReadNode"].spec
    assert [(o.name, o.field_type) for o in read.outputs] == [("id", "int"), ("name", "str")]
    create = db.nodes["PersonCreateNode"].spec
    assert create.takes_fields and create.required == ("name",)


def test_node_classes_pickle_by_name(db: DataFlow) -> None:
    node_cls = db.nodes["PersonListNode"]
    assert node_cls.__module__ == "dataflow.nodes"
    assert pickle.loads(pickle.dumps(node_cls)) is node_cls


def test_both_spellings_at_once_is_df105(db: DataFlow) -> None:
    workflow = WorkflowBuilder(db).add_node("PersonListNode", "l", {"filter": {}, "filters": {}})
    with pytest.raises(InvalidParameterError, match="both 'filter' and 'filters'"):
        workflow.build()


def test_pool_events_reach_subscribers_until_they_unsubscribe() -> None:
    seen: list[PoolEvent] = []
    unsubscribe = subscribe(seen.append)
    event = PoolEvent(PoolEventKind.CREATED, "sqlite:///x.db", "owner", 1)
    publish(event)
    unsubscribe()
    publish(event)
    assert seen == [event]
