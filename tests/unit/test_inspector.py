"""The Inspector on builders and built workflows: every group of methods, without a database.

Creating a DataFlow does not connect, and nothing here runs a workflow (``test_inspector_profile.py``
does, on both backends).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest

import dataflow
from dataflow import DataFlow, Field, Inspector, UnknownNodeIdError, WorkflowBuilder
from dataflow.platform import Issue, Text, ValidationResult


@pytest.fixture
def db() -> Iterator[DataFlow]:
    instance = DataFlow("sqlite:///:memory:")

    @instance.model
    class User:
        id: int
        name: str
        email: str = Field(unique=True)
        active: bool = True
        joined: datetime | None = None

    @instance.model
    class Order:
        id: int
        user_id: int
        total: float
        note: str = ""

    yield instance


def lifecycle(db: DataFlow) -> WorkflowBuilder:
    workflow = db.workflow()
    workflow.add_node("UserCreateNode", "create", {"name": "Ada", "email": "ada@example.com"})
    workflow.add_node("UserReadNode", "read")
    workflow.add_node("OrderCreateNode", "order", {"total": 9.5})
    workflow.add_node("OrderListNode", "orders", {"filter": {"total": {"$gt": 1}}})
    workflow.add_connection("create", "id", "read", "id")
    workflow.add_connection("read", "id", "order", "user_id")
    workflow.add_connection("order", "user_id", "orders", "filter.user_id")
    return workflow


def test_importable_from_the_seed_path_and_from_dataflow() -> None:
    from dataflow.platform.inspector import Inspector as SeedPath

    assert SeedPath is dataflow.Inspector is Inspector


def test_rejects_what_is_not_a_workflow() -> None:
    with pytest.raises(TypeError, match="takes a WorkflowBuilder or a built Workflow"):
        Inspector({"nodes": []})  # type: ignore[arg-type]


def test_a_valid_workflow_on_the_builder_and_built(db: DataFlow) -> None:
    builder = lifecycle(db)
    for workflow in (builder, builder.build()):
        inspector = Inspector(workflow)
        assert inspector.validate() == {"is_valid": True, "errors": [], "warnings": []}
        assert str(inspector.validate()) == "Valid: no errors, no warnings."
        assert inspector.is_valid()
        assert inspector.execution_order() == ["create", "read", "order", "orders"]
    assert repr(Inspector(builder)) == "<Inspector of a builder: 4 nodes, 3 connections>"


def test_connections_print_with_types(db: DataFlow) -> None:
    inspector = Inspector(lifecycle(db))
    connections = inspector.connections()
    assert str(connections) == (
        "Found 3 connections:\n  create.id → read.id\n  read.id → order.user_id\n"
        "  order.user_id → orders.filter.user_id"
    )
    assert [(c.source_type, c.target_type) for c in connections] == [("int", "int")] * 3
    assert str(inspector.connections_to("read")) == "Found 1 connection: create.id → read.id"
    assert str(inspector.connections_from("orders")) == "Found 0 connections."
    assert json.loads(json.dumps(connections.to_dict()))[2]["target_param"] == "filter.user_id"


def test_chains_cycles_and_isolated_nodes(db: DataFlow) -> None:
    workflow = lifecycle(db)
    workflow.add_node("UserCountNode", "count")
    inspector = Inspector(workflow)
    (chain,) = inspector.trace_connection_chain()
    assert chain.nodes == ("create", "read", "order", "orders")
    assert str(chain).splitlines()[0] == "create → read → order → orders"
    assert [c.nodes for c in inspector.trace_connection_chain("order")] == [("create", "read", "order")]
    assert inspector.trace_connection_chain("order", "total") == []
    assert str(inspector.trace_connection_chain("create")) == "No connection chains."
    assert inspector.isolated_nodes() == ["count"]
    assert str(inspector.find_connection_cycles()) == "No cycles."

    workflow.add_connection("orders", "count", "read", "id")
    cycles = inspector.find_connection_cycles()
    assert cycles == [["read", "order", "orders", "read"]]
    assert str(cycles) == "Found 1 cycle: read → order → orders → read"
    structure = inspector.validate_workflow_structure()
    assert [e.code for e in structure["errors"]] == ["DF-403"]
    assert inspector.execution_order() == ["create", "count", "read", "order", "orders"]
    assert "not run: read, order, orders (the connections form a cycle: DF-403)" in inspector.show_execution_order()


def test_broken_connections_carry_the_codes_build_and_run_raise(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserCreateNode", "create", {"name": "Ada", "email": "a@example.com"})
    workflow.add_node("UserReadNode", "read")
    workflow.add_connection("create", "idd", "read", "id")
    workflow.add_connection("create", "id", "raed", "id")
    workflow.add_connection("create", "id", "read", "ident")
    broken = Inspector(workflow).broken_connections()
    codes = [[i.code for i in c.issues] for c in broken]
    assert codes == [["DF-405"], ["DF-404"], ["DF-105"]]
    text = str(broken)
    assert "Found 3 broken connections:" in text
    assert "DF-405: Connection create.idd → read.id: UserCreateNode has no output 'idd'" in text
    assert "(did you mean 'id'?)" in text
    assert "names target node 'raed', which is not in the workflow (did you mean 'read'?)" in text
    assert "UserReadNode does not take parameter 'ident'" in text
    with pytest.raises(dataflow.DanglingConnectionError):
        workflow.build()  # the code the Inspector reported is the one build() raises


def test_unknown_parameter_gets_builds_code_and_a_did_you_mean(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("OrderListNode", "list", {"user_id": 1, "limt": 5})
    signatures = Inspector(workflow).validate_node_signatures()
    messages = [(e.code, e.message, e.details) for e in signatures["errors"]]
    assert messages[0][0] == "DF-105"
    assert messages[0][2] == (
        "did you mean 'filter.user_id'? user_id is a field of Order: pass it as {'filter': {'user_id': ...}}",
    )
    assert messages[1][:2] == (
        "DF-105",
        "OrderListNode does not take parameter 'limt' (did you mean 'limit'?). It takes: filter, order_by, limit, "
        "offset, filters.",
    )
    with pytest.raises(dataflow.InvalidParameterError, match="DF-105"):
        workflow.build()


def test_signature_values_checked_like_build(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserCreateNode", "create", {"name": "Ada"})  # email is required
    workflow.add_node("UserReadNode", "read", {"id": "seven"})
    workflow.add_node("UserCreateNode", "other", {"name": "Bob", "emial": "b@example.com"})
    errors = Inspector(workflow).validate_node_signatures()["errors"]
    assert [(e.node, e.code) for e in errors] == [
        ("create", "DF-101"),
        ("read", "DF-103"),
        ("other", "DF-102"),  # every name the node does not take, then the first invalid value
        ("other", "DF-101"),
    ]
    assert isinstance(errors[0], Issue) and errors[0].url.endswith("troubleshooting/errors/#df-101")


def test_type_checks_across_connections(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserReadNode", "read", {"id": 1})
    workflow.add_node("OrderUpdateNode", "update")
    workflow.add_node("UserListNode", "list")
    workflow.add_connection("read", "name", "update", "id")  # str -> int: error
    workflow.add_connection("read", "id", "update", "fields.total")  # int -> float: fine
    workflow.add_connection("read", "name", "list", "filter.joined.$gte")  # str -> datetime: may parse
    workflow.add_connection("read", "active", "list", "filter.name.$in")  # a list of values: not checked
    result = Inspector(workflow).validate_connections()
    assert [(i.code, i.message) for i in result["errors"]] == [
        ("DF-103", "Connection read.name → update.id has type mismatch")
    ]
    (warning,) = result["warnings"]
    assert warning.message == (
        "Connection read.name → list.filter.joined.$gte passes a string that must parse as datetime"
    )
    assert str(result).splitlines()[0] == "Not valid: 1 error, 1 warning."
    assert "[type mismatch: DF-103]" in Inspector(workflow).show_parameter_flow().splitlines()[1]


def test_nested_outputs_of_upsert_and_list(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserUpsertNode", "upsert", {"where": {"email": "a@example.com"}, "create": {"name": "A"}})
    workflow.add_node("UserListNode", "list")
    workflow.add_node("OrderCountNode", "count")
    workflow.add_connection("upsert", "record.id", "count", "filter.user_id")
    workflow.add_connection("list", "records.0.name", "count", "filter.note")
    workflow.add_connection("list", "records.id", "count", "filter.id")
    inspector = Inspector(workflow)
    types = [(c.source_type, c.target_type) for c in inspector.connections()]
    assert types[:2] == [("int", "int"), ("str", "str")]
    (broken,) = inspector.broken_connections()
    assert "'records' is a list: name a position first (records.0.id)" in broken.issues[0].message


def test_trace_parameter_sources(db: DataFlow) -> None:
    workflow = lifecycle(db)
    inspector = Inspector(workflow)
    assert str(inspector.trace_parameter("read", "id")) == "Parameter Trace: read.id\n└─ create.id (integer)"
    trace = inspector.trace_parameter("orders", "filter")
    assert trace.show() == (
        "Parameter Trace: orders.filter\n"
        "├─ static value {'total': {'$gt': 1}}\n"
        "└─ filter.user_id ← order.user_id (integer)"
    )
    assert inspector.trace_parameter("orders", "limit").show().endswith("└─ not set")
    workflow.add_node("UserDeleteNode", "delete")
    assert inspector.trace_parameter("delete", "id").show().endswith("└─ not set")
    workflow.add_node("UserCountNode", "count", {"filters": {"active": True}})
    assert inspector.trace_parameter("count", "filter").show().endswith("└─ static value {'active': True}")
    trace = inspector.trace_parameter("count", "nope")
    assert [i.code for i in trace.issues] == ["DF-105"]
    assert json.loads(json.dumps(trace.to_dict()))["issues"][0]["code"] == "DF-105"


def test_lineage_dependencies_and_parameter_lists(db: DataFlow) -> None:
    workflow = lifecycle(db)
    workflow.add_node("OrderListNode", "more", {"filters": {"total": 1}, "sort": "total"})
    inspector = Inspector(workflow)
    assert inspector.parameter_lineage("orders").show() == (
        "Parameters of orders (OrderListNode)\n"
        "├─ filter\n"
        "│  ├─ static value {'total': {'$gt': 1}}\n"
        "│  └─ filter.user_id ← order.user_id (integer)\n"
        "├─ order_by: not set\n"
        "├─ limit: not set\n"
        "└─ offset: not set"
    )
    lineage = str(inspector.parameter_lineage("more"))
    assert "├─ filters: static value {'total': 1}" in lineage
    assert "└─ sort (not a parameter of OrderListNode: DF-105): static value 'total'" in lineage
    deps = inspector.parameter_dependencies()
    assert deps == {"create": [], "read": ["create"], "order": ["read"], "orders": ["order"], "more": []}
    assert str(deps).splitlines()[1] == "read    ← create"
    assert inspector.static_parameters("create") == {"name": "Ada", "email": "ada@example.com"}
    assert inspector.connected_parameters("orders") == {"filter.user_id": ["order.user_id"]}
    workflow.add_node("UserUpdateNode", "update")
    assert inspector.missing_parameters() == {"update": ["fields"]}
    assert inspector.missing_parameters("read") == {}


def test_unknown_node_ids_raise_df408(db: DataFlow) -> None:
    inspector = Inspector(lifecycle(db))
    for ask in (
        lambda: inspector.trace_parameter("reed", "id"),
        lambda: inspector.parameter_lineage("reed"),
        lambda: inspector.connections_to("reed"),
        lambda: inspector.node("reed"),
        lambda: inspector.show_node("reed"),
        lambda: inspector.trace_connection_chain("reed"),
    ):
        with pytest.raises(UnknownNodeIdError, match="Node 'reed' is not in this workflow .did you mean") as info:
            ask()
        assert info.value.code == "DF-409"


def test_structure_duplicate_ids_and_unknown_types(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserReadNode", "read", {"id": 1})
    workflow.add_node("UserReadNode", "read", {"id": 2})
    workflow.add_node("UsrListNode", "list")
    inspector = Inspector(workflow)
    errors = inspector.validate_workflow_structure()["errors"]
    assert [e.code for e in errors] == ["DF-402", "DF-401"]
    assert "'UserListNode'" in errors[1].message  # the close match build() suggests
    assert str(inspector.nodes()) == "2 nodes:\n  read  UserReadNode (read on User)\n  list  UsrListNode (DF-401)"
    assert inspector.node("list").show().startswith("list (UsrListNode): Node 'list' has unknown type")


def test_unbound_builder_with_two_instances_reports_df407(db: DataFlow) -> None:
    other = DataFlow("sqlite:///:memory:")
    other.model(db.models["User"].cls)
    workflow = WorkflowBuilder()
    workflow.add_node("UserReadNode", "read", {"id": 1})
    (error,) = Inspector(workflow).validate()["errors"]
    assert error.code == "DF-407"
    assert Inspector(db.workflow().add_node("UserReadNode", "read", {"id": 1})).is_valid()


def test_visual_output_reads_as_plain_text(db: DataFlow) -> None:
    inspector = Inspector(lifecycle(db))
    shown = inspector.show()
    assert isinstance(shown, Text) and repr(shown) == str(shown)
    assert shown.splitlines()[:4] == [
        "Workflow: 4 nodes, 3 connections",
        "create (UserCreateNode)",
        "    name = 'Ada'",
        "    email = 'ada@example.com'",
    ]
    assert "    filter.user_id ← order.user_id" in shown
    assert inspector.show_execution_order().splitlines() == [
        "Execution order:",
        "1. create (UserCreateNode)",
        "2. read (UserReadNode), after create",
        "3. order (OrderCreateNode), after read",
        "4. orders (OrderListNode), after order",
    ]
    assert inspector.show_parameter_flow().splitlines()[1] == "create.id (integer) → read.id (integer)"


def test_node_signatures_list_params_and_outputs(db: DataFlow) -> None:
    inspector = Inspector(lifecycle(db))
    info = inspector.node_signature("OrderListNode")
    assert [p.name for p in info.params] == ["filter", "order_by", "limit", "offset"]
    assert [o.name for o in info.outputs] == ["records", "count"]
    assert info.show().splitlines()[0] == "OrderListNode: list on model Order"
    assert inspector.node_signature(db.nodes["UserReadNode"]).params[0].field_type == "int"
    assert inspector.node_signature("read").type_name == "UserReadNode"
    shown = inspector.show_node("orders")
    assert "  connected: filter.user_id" in shown and "  given: filter={'total': {'$gt': 1}}" in shown
    data = json.loads(json.dumps(inspector.node("create").to_dict()))
    assert data["outputs"][0] == {
        "name": "id", "description": data["outputs"][0]["description"], "type": "int", "aliases": []
    }


def test_performance_estimate_and_hints(db: DataFlow) -> None:
    workflow = db.workflow()
    for index in range(3):
        workflow.add_node("UserCreateNode", f"u{index}", {"name": f"U{index}", "email": f"u{index}@example.com"})
    workflow.add_node("OrderListNode", "orders")
    workflow.add_node("UserCountNode", "count")
    workflow.add_node(
        "UserUpdateNode", "deactivate", {"filter": {"email": "u0@example.com"}, "fields": {"active": False}}
    )
    records = [{"user_id": 1, "total": 1.0}, {"user_id": 2, "total": 2.0, "note": "x"}]  # two column sets
    workflow.add_node("OrderBulkCreateNode", "bulk", {"records": records})
    workflow.add_connection("orders", "count", "count", "filter.id")
    report = Inspector(workflow).estimate_performance()
    by_node = {n.node_id: (n.statements, n.round_trips) for n in report.nodes}
    assert by_node["u0"] == (1, 1) and by_node["deactivate"] == (2, 4) and by_node["bulk"] == (2, 4)
    assert report.statements == sum(s for s, _ in by_node.values())
    hints = Inspector(workflow).find_bottlenecks()
    assert len(hints) == 3
    assert hints[0].startswith("orders (OrderListNode) fetches rows but only its count is used")
    assert "3 UserCreateNode nodes (u0, u1, u2) write one row each: one UserBulkCreateNode" in hints[2]
    text = report.show()
    assert text.splitlines()[0] == "Performance estimate (from the workflow's shape; nothing ran):"
    assert json.loads(json.dumps(report.to_dict()))["round_trips"] == report.round_trips


def test_validation_result_is_the_seeds_dict() -> None:
    result = ValidationResult([Issue("DF-103", "bad", severity="warning")])
    assert isinstance(result, dict) and result["is_valid"] is True and result.is_valid
    assert result["warnings"][0].severity == "warning"
    assert repr(result["warnings"][0]) == "<warning DF-103: bad>"


def test_trigger_connections_and_switch_nodes(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("UserCountNode", "count")
    workflow.add_node("SwitchNode", "empty", {"condition": "count == 0"})
    workflow.add_node("UserCreateNode", "first", {"name": "Ada", "email": "ada@example.com"})
    workflow.add_connection("count", "count", "empty", "input")
    workflow.add_connection("empty", "true_output", "first", "trigger")
    inspector = Inspector(workflow)
    assert inspector.validate().is_valid, inspector.validate()
    workflow.build()  # build() agrees
    assert str(inspector.connections_to("first")) == "Found 1 connection: empty.true_output → first (trigger)"
    assert "    runs after empty.true_output (trigger)" in inspector.show()
    assert inspector.parameter_dependencies()["first"] == ["empty"]
    assert inspector.node("empty").show().splitlines()[0] == "empty (SwitchNode): switch (no model, no SQL)"
    assert "  empty  SwitchNode (switch)" in str(inspector.nodes())
    switch = next(n for n in inspector.estimate_performance().nodes if n.node_id == "empty")
    assert (switch.statements, switch.round_trips) == (0, 0)

    workflow.add_node("SwitchNode", "bad", {"condition": "other > 0", "input": 1})
    (error,) = inspector.validate()["errors"]
    assert (error.code, error.node) == ("DF-408", "bad")  # what build() raises for the condition
    with pytest.raises(dataflow.InvalidConditionError):
        workflow.build()


def test_output_aliases_are_the_outputs_they_stand_for(db: DataFlow) -> None:
    workflow = db.workflow()
    workflow.add_node("OrderListNode", "list")
    workflow.add_node("OrderCountNode", "count")
    alias = next(a for o in db.nodes["OrderListNode"].spec.outputs for a in o.aliases)
    workflow.add_connection("list", f"{alias}.0.user_id", "count", "filter.user_id")
    (connection,) = Inspector(workflow).connections()
    assert (connection.source_type, connection.target_type) == ("int", "int")
    assert Inspector(workflow).is_valid()
