"""WorkflowBuilder.build() validation: node types, ids, cycles, connections, static parameters."""

from __future__ import annotations

from typing import Any

import pytest

from dataflow import (
    DanglingConnectionError,
    DataFlow,
    DuplicateNodeIdError,
    InvalidConflictTargetError,
    InvalidFilterError,
    InvalidParameterError,
    MissingFieldError,
    TypeMismatchError,
    UnknownFieldError,
    UnknownNodeTypeError,
    Workflow,
    WorkflowBuilder,
    WorkflowCycleError,
)


@pytest.fixture
def db() -> Any:
    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Account:
        id: int
        email: str
        name: str
        age: int | None = None

    return db


def test_valid_workflow_builds_in_dependency_order(db: DataFlow) -> None:
    wf = WorkflowBuilder()
    wf.add_node("AccountReadNode", "read", {})
    wf.add_node("AccountCreateNode", "create", {"email": "a@x", "name": "A"})
    wf.add_connection("create", "id", "read", "id")
    built = wf.build()
    assert isinstance(built, Workflow)
    assert built.node_ids == ["create", "read"]


def test_node_class_is_accepted(db: DataFlow) -> None:
    built = WorkflowBuilder().add_node(db.nodes["AccountCountNode"], "c").build()
    assert built.node_ids == ["c"]


def test_unknown_node_type_df401_suggests(db: DataFlow) -> None:
    with pytest.raises(UnknownNodeTypeError) as info:
        WorkflowBuilder().add_node("AccountCreatNode", "c", {}).build()
    assert info.value.code == "DF-401"
    assert "AccountCreateNode" in str(info.value)
    assert info.value.context["node"] == "c"


def test_node_types_of_a_closed_instance_are_gone() -> None:
    import asyncio

    db = DataFlow("sqlite:///:memory:")

    @db.model
    class Ephemeral:
        id: int

    WorkflowBuilder().add_node("EphemeralCountNode", "c").build()
    asyncio.run(db.close())
    with pytest.raises(UnknownNodeTypeError):
        WorkflowBuilder().add_node("EphemeralCountNode", "c").build()


def test_duplicate_id_df402(db: DataFlow) -> None:
    wf = WorkflowBuilder().add_node("AccountCountNode", "n").add_node("AccountListNode", "n")
    with pytest.raises(DuplicateNodeIdError) as info:
        wf.build()
    assert info.value.code == "DF-402"
    assert "'n'" in str(info.value)


def test_cycle_df403(db: DataFlow) -> None:
    wf = WorkflowBuilder()
    for name in ("a", "b", "c"):
        wf.add_node("AccountReadNode", name, {})
    wf.add_connection("a", "id", "b", "id").add_connection("b", "id", "c", "id").add_connection("c", "id", "a", "id")
    with pytest.raises(WorkflowCycleError) as info:
        wf.build()
    assert info.value.code == "DF-403"
    for name in ("'a'", "'b'", "'c'"):
        assert name in str(info.value)


def test_self_loop_df403(db: DataFlow) -> None:
    wf = WorkflowBuilder().add_node("AccountReadNode", "a", {}).add_connection("a", "id", "a", "id")
    with pytest.raises(WorkflowCycleError):
        wf.build()


@pytest.mark.parametrize(("src", "dst"), [("creat", "read"), ("create", "reed")])
def test_dangling_connection_df404(db: DataFlow, src: str, dst: str) -> None:
    wf = WorkflowBuilder()
    wf.add_node("AccountCreateNode", "create", {"email": "e", "name": "n"})
    wf.add_node("AccountReadNode", "read", {"id": 1})
    wf.add_connection(src, "id", dst, "id")
    with pytest.raises(DanglingConnectionError) as info:
        wf.build()
    assert info.value.code == "DF-404"
    assert "did you mean" in str(info.value)


def test_add_node_rejects_bad_ids_and_params(db: DataFlow) -> None:
    with pytest.raises(InvalidParameterError):
        WorkflowBuilder().add_node("AccountCountNode", "")
    with pytest.raises(InvalidParameterError):
        WorkflowBuilder().add_node("AccountCountNode", "c", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        WorkflowBuilder().add_connection("a", "id", "b", "")


def test_params_are_copied(db: DataFlow) -> None:
    params = {"filter": {"name": "A"}}
    wf = WorkflowBuilder().add_node("AccountListNode", "l", params)
    params["filter"]["nope"] = 1
    wf.build()  # the mutation after add_node does not leak in


def test_flat_records_are_copied_with_their_columns() -> None:
    from dataflow._param_copy import RecordList, copy_params

    records = [{"name": f"n{i}", "age": i, "ok": i % 2 == 0} for i in range(12)]
    records[5] = {"ok": False, "age": 5, "name": "n5"}  # another key order: the same columns
    copied = copy_params({"records": records})["records"]
    assert type(copied) is RecordList and copied == records
    assert all(c is not r for c, r in zip(copied, records, strict=True))
    assert copied.names == ("name", "age", "ok")
    assert copied.columns == [tuple(r[n] for r in records) for n in copied.names]
    assert copied.column_types == [{str}, {int}, {bool}]
    records[0]["name"] = "changed"
    assert copied[0]["name"] == "n0" and copied.columns[0][0] == "n0"
    other_key = [*records[:11], {"name": "x", "age": 1, "nick": True}]  # as many keys, not the same ones
    nested = [*records[:11], {"name": "x", "age": [1], "ok": True}]
    for not_flat in (other_key, nested, records[:8]):
        copied = copy_params({"records": not_flat})["records"]
        assert type(copied) is list and copied == not_flat


STATIC_ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("AccountCreateNode", {"name": "A"}, MissingFieldError, "DF-101"),
    ("AccountCreateNode", {"email": "e", "name": "A", "nick": "x"}, UnknownFieldError, "DF-102"),
    ("AccountCreateNode", {"email": "e", "name": 5}, TypeMismatchError, "DF-103"),
    ("AccountReadNode", {}, InvalidParameterError, "DF-105"),
    ("AccountReadNode", {"id": "one"}, TypeMismatchError, "DF-103"),
    ("AccountReadNode", {"idd": 1}, InvalidParameterError, "DF-105"),
    ("AccountListNode", {"limit": -1}, InvalidParameterError, "DF-105"),
    ("AccountListNode", {"offset": "2"}, InvalidParameterError, "DF-105"),
    ("AccountListNode", {"order_by": "-nope"}, UnknownFieldError, "DF-102"),
    ("AccountListNode", {"filter": {"age": {"$in": 3}}}, InvalidFilterError, "DF-202"),
    ("AccountListNode", {"filter": {}, "filters": {}}, InvalidParameterError, "DF-105"),
    ("AccountListNode", {"sort": "name"}, InvalidParameterError, "DF-105"),
    ("AccountUpdateNode", {"id": 1, "fields": {}}, InvalidParameterError, "DF-105"),
    ("AccountUpdateNode", {"id": 1, "fields": {"id": 2}}, InvalidParameterError, "DF-105"),
    ("AccountUpdateNode", {"id": 1, "fields": {"age": "old"}}, TypeMismatchError, "DF-103"),
    ("AccountUpsertNode", {"where": {"email": "e"}, "create": {"name": "n"}}, InvalidConflictTargetError, "DF-305"),
    ("AccountUpsertNode", {"where": {}}, InvalidParameterError, "DF-105"),
    ("AccountBulkCreateNode", {"records": [{"email": "e", "name": "n"}, {"email": "e"}]}, MissingFieldError, "DF-101"),
    ("AccountBulkCreateNode", {"records": "nope"}, InvalidParameterError, "DF-105"),
    ("AccountBulkUpsertNode", {"records": [], "conflict_on": ["name"]}, InvalidConflictTargetError, "DF-305"),
]


@pytest.mark.parametrize(
    ("node_type", "params", "error", "code"),
    STATIC_ERRORS,
    ids=[f"{e[0]}-{e[3]}-{i}" for i, e in enumerate(STATIC_ERRORS)],
)
def test_static_parameter_errors(
    db: DataFlow, node_type: str, params: dict[str, Any], error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as info:
        WorkflowBuilder().add_node(node_type, "the_node", params).build()
    assert info.value.code == code  # type: ignore[attr-defined]
    assert info.value.context["node"] == "the_node"  # type: ignore[attr-defined]
    assert str(info.value).startswith(code)


def test_connected_params_are_not_required_statically(db: DataFlow) -> None:
    wf = WorkflowBuilder()
    wf.add_node("AccountCreateNode", "src", {"email": "e", "name": "n"})
    wf.add_node("AccountCreateNode", "dst", {"email": "f"})
    wf.add_connection("src", "name", "dst", "name")
    wf.build()


def test_unbound_resolution_follows_instances_being_declared_closed_and_collected() -> None:
    """Unbound names are remembered per owner; a new declaration, a close or a collection undoes that."""
    import asyncio
    import gc

    from dataflow import AmbiguousNodeTypeError

    def declare(db: DataFlow) -> None:
        db.model(type("Ledger", (), {"__annotations__": {"id": int, "memo": str}}))

    def owner_of_unbound() -> Any:
        workflow = WorkflowBuilder().add_node("LedgerCountNode", "n", {}).build()
        return workflow.nodes[0].node_type.execution_context()

    first = DataFlow("sqlite:///:memory:")
    declare(first)
    assert owner_of_unbound() is owner_of_unbound()  # resolved, then remembered
    second = DataFlow("sqlite:///:memory:")
    assert owner_of_unbound() is not None  # declaring nothing yet: still unambiguous
    declare(second)
    with pytest.raises(AmbiguousNodeTypeError):
        owner_of_unbound()
    asyncio.run(first.close())
    second_context = owner_of_unbound()
    third = DataFlow("sqlite:///:memory:")
    declare(third)
    with pytest.raises(AmbiguousNodeTypeError):
        owner_of_unbound()
    del second, second_context
    gc.collect()
    assert owner_of_unbound() is owner_of_unbound()
    asyncio.run(third.close())
    with pytest.raises(UnknownNodeTypeError):
        owner_of_unbound()


def test_run_ids_are_uuid4_text_unique_across_threads_and_forks() -> None:
    import os
    import threading
    import uuid

    from dataflow._runtime import _run_id

    ids: list[str] = []

    def take() -> None:
        ids.extend(_run_id() for _ in range(2_000))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == len(ids) == 8_000
    for run_id in ids[:50]:
        parsed = uuid.UUID(run_id)
        assert parsed.hex == run_id and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child draws its own random half: its ids cannot repeat the parent's
        os.write(write, _run_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert uuid.UUID(child).version == 4 and child[:16] != _run_id()[:16]
