"""Every DF- code, raised for real through the public API, with its code and its exact docs link.

Each trigger test is registered with ``@triggers("DF-nnn")``; ``test_every_code_has_a_trigger`` fails
for a catalog code that no test raises (the Rust error index does the same with its UI tests).
Tests that take ``database_url`` run on SQLite and PostgreSQL; the others say why they cannot.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

import dataflow
from dataflow import (
    AsyncLocalRuntime,
    DataFlow,
    Field,
    LocalRuntime,
    WorkflowBuilder,
)
from dataflow._catalog import CATALOG, DOCS_BASE_URL, docs_version

F = TypeVar("F", bound=Callable[..., Any])

#: code -> names of the tests that raise it for real.
COVERED: dict[str, list[str]] = {}

PASSWORD = "s3cret-Pa55word"


def triggers(*codes: str) -> Callable[[F], F]:
    """Register a test as the real trigger of ``codes``."""

    def register(fn: F) -> F:
        for code in codes:
            assert code in CATALOG, f"{fn.__name__} claims unknown code {code}"
            COVERED.setdefault(code, []).append(fn.__name__)
        return fn

    return register


def expected_link(code: str) -> str:
    return f"{DOCS_BASE_URL}{docs_version()}/troubleshooting/errors/#{code.lower()}"


def check(error: BaseException, code: str) -> str:
    """Assert ``error`` is the catalog's class for ``code`` with code, title and link; return the message."""
    info = CATALOG[code]
    assert type(error).__name__ == info.exception, f"expected {info.exception}, got {type(error).__name__}: {error}"
    assert type(error) is getattr(dataflow, info.exception)
    assert error.code == code  # type: ignore[attr-defined]
    message = str(error)
    assert message.startswith(f"{code}: {info.title}\n"), message
    assert f"\nDocumentation: {expected_link(code)}" in message, message
    assert message.endswith(expected_link(code)), message
    assert error.url == expected_link(code)  # type: ignore[attr-defined]
    assert "\x1b[" not in message
    assert PASSWORD not in message and PASSWORD not in repr(getattr(error, "context", ""))
    return message


@pytest.fixture(autouse=True)
def _published_docs_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links are checked against the published site, whatever the environment says."""
    monkeypatch.delenv("DATAFLOW_DOCS_URL", raising=False)


def declare(db: DataFlow) -> None:
    """The model every test uses."""

    @db.model
    class User:
        id: int
        name: str
        email: str = Field(unique=True)
        age: int = 0


def workflow(
    *nodes: tuple[str, str, dict[str, Any]],
    connections: tuple[tuple[str, str, str, str], ...] = (),
    db: DataFlow | None = None,
) -> Any:
    builder = WorkflowBuilder(db)
    for node_type, node_id, params in nodes:
        builder.add_node(node_type, node_id, params)
    for connection in connections:
        builder.add_connection(*connection)
    return builder.build()


async def run(*nodes: tuple[str, str, dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    results, _ = await AsyncLocalRuntime().execute_workflow_async(workflow(*nodes, **kwargs))
    return results


def create(name: str = "Ada", email: str = "ada@example.com", **extra: Any) -> tuple[str, str, dict[str, Any]]:
    return ("UserCreateNode", f"create_{uuid.uuid4().hex[:6]}", {"name": name, "email": email, **extra})


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[DataFlow]:
    instance = DataFlow(database_url)
    declare(instance)
    yield instance
    await instance.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_credentials(
    url: str, *, user: str | None = None, password: str | None = None, database: str | None = None
) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    netloc = f"{user or parts.username}" + (f":{password}" if password else "") + f"@{host}:{parts.port}"
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


# --- meta --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(CATALOG))
def test_every_code_has_a_trigger(code: str) -> None:
    """A code in the catalog that no test raises for real is an untested promise."""
    if CATALOG[code].retired:
        return
    assert COVERED.get(code), f"{code} ({CATALOG[code].exception}) has no @triggers({code!r}) test in this module"


def test_triggers_name_only_catalog_codes() -> None:
    assert set(COVERED) <= set(CATALOG)


# --- 1xx: models and parameters ----------------------------------------------------------------


@triggers("DF-101")
async def test_df101_missing_required_field(db: DataFlow) -> None:
    with pytest.raises(dataflow.MissingFieldError) as info:
        await run(("UserCreateNode", "create", {"email": "ada@example.com"}))
    message = check(info.value, "DF-101")
    assert "'name'" in message and "UserCreateNode" in message
    assert info.value.context["node"] == "create"


@triggers("DF-102")
async def test_df102_unknown_field_in_filter(db: DataFlow) -> None:
    with pytest.raises(dataflow.UnknownFieldError) as info:
        await run(("UserListNode", "list", {"filter": {"nmae": "Ada"}}))
    message = check(info.value, "DF-102")
    assert "'nmae'" in message and "name" in message


@triggers("DF-103")
async def test_df103_type_mismatch(db: DataFlow) -> None:
    with pytest.raises(dataflow.TypeMismatchError) as info:
        await run(create(age="thirty"))
    message = check(info.value, "DF-103")
    assert "'age'" in message and "int" in message


@triggers("DF-103")
async def test_df103_nul_byte_rejected(db: DataFlow) -> None:
    with pytest.raises(dataflow.TypeMismatchError) as info:
        await run(create(name="Ada\x00Lovelace"))
    check(info.value, "DF-103")


@triggers("DF-104")
def test_df104_model_without_id(database_url: str) -> None:
    db = DataFlow(database_url)
    with pytest.raises(dataflow.InvalidModelError) as info:

        @db.model
        class Note:
            title: str

    message = check(info.value, "DF-104")
    assert "Note" in message and "id" in message
    asyncio.run(db.close())


@triggers("DF-105")
async def test_df105_parameter_of_wrong_type(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidParameterError) as info:
        await run(("UserListNode", "list", {"limit": "10"}))
    message = check(info.value, "DF-105")
    assert "limit" in message


# --- 2xx: filters --------------------------------------------------------------------------------


@triggers("DF-106")
async def test_df106_table_does_not_match_the_model(database_url: str) -> None:
    first = DataFlow(database_url)
    declare(first)
    await first.create_tables()
    await first.close()
    second = DataFlow(database_url, schema_cache_validation=True)

    @second.model(table="users")
    class User:
        id: int
        name: str
        nickname: str

    try:
        with pytest.raises(dataflow.SchemaMismatchError) as info:
            await run(("UserCountNode", "count", {}), db=second)
        message = check(info.value, "DF-106")
        assert "missing column(s): nickname" in message and "'users'" in message
    finally:
        await second.close()


@triggers("DF-201")
async def test_df201_unknown_operator(db: DataFlow) -> None:
    with pytest.raises(dataflow.UnknownOperatorError) as info:
        await run(("UserListNode", "list", {"filter": {"name": {"$regex": "^A"}}}))
    message = check(info.value, "DF-201")
    assert "$regex" in message and "$like" in message


@triggers("DF-202")
async def test_df202_malformed_filter(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidFilterError) as info:
        await run(("UserListNode", "list", {"filter": {"age": {"$in": 30}}}))
    message = check(info.value, "DF-202")
    assert "$in" in message


# --- 3xx: records and constraints --------------------------------------------------------------


@triggers("DF-301")
async def test_df301_record_not_found(db: DataFlow) -> None:
    with pytest.raises(dataflow.RecordNotFoundError) as info:
        await run(("UserReadNode", "read", {"id": 999}))
    message = check(info.value, "DF-301")
    assert "999" in message


@triggers("DF-302")
async def test_df302_unique_violation(db: DataFlow) -> None:
    await run(create())
    with pytest.raises(dataflow.UniqueViolationError) as info:
        await run(create(name="Other"))
    message = check(info.value, "DF-302")
    assert "email" in message
    assert info.value.__cause__ is not None  # the driver's error is kept


@triggers("DF-303")
async def test_df303_not_null_column_the_model_dropped(database_url: str) -> None:
    """The table was created by an older version of the model, with a required column the model no longer has."""

    async def create_table_of_old_model() -> None:
        old = DataFlow(database_url)

        @old.model
        class User:
            id: int
            name: str
            nickname: str

        await old.create_tables()
        await old.close()

    await create_table_of_old_model()
    db = DataFlow(database_url)

    @db.model
    class User:
        id: int
        name: str

    with pytest.raises(dataflow.ConstraintViolationError) as info:
        await run(("UserCreateNode", "create", {"name": "Ada"}))
    message = check(info.value, "DF-303")
    assert "nickname" in message
    assert info.value.__cause__ is not None
    await db.close()


@triggers("DF-304")
async def test_df304_update_filter_matches_several(db: DataFlow) -> None:
    await run(create("Ada", "ada@example.com", age=36), create("Alan", "alan@example.com", age=36))
    with pytest.raises(dataflow.MultipleRecordsError) as info:
        await run(("UserUpdateNode", "update", {"filter": {"age": 36}, "fields": {"age": 37}}))
    message = check(info.value, "DF-304")
    assert "BulkUpdate" in message or "UserBulkUpdateNode" in message or "2" in message


@triggers("DF-305")
async def test_df305_conflict_target_not_unique(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidConflictTargetError) as info:
        await run(
            (
                "UserUpsertNode",
                "upsert",
                {"where": {"name": "Ada"}, "create": {"name": "Ada", "email": "ada@example.com"}, "update": {"age": 1}},
            )
        )
    message = check(info.value, "DF-305")
    assert "name" in message


# --- soft delete and versioned rows ------------------------------------------------------------------


def declare_rows(db: DataFlow) -> None:
    """A model with both row options."""

    @db.model(soft_delete=True, versioned=True)
    class Doc:
        id: int
        title: str
        slug: str = Field(unique=True)


@triggers("DF-310")
async def test_df310_update_and_delete_with_a_stale_version(db: DataFlow) -> None:
    declare_rows(db)
    await run(("DocCreateNode", "create", {"title": "a", "slug": "a"}), db=db)
    await run(("DocUpdateNode", "edit", {"id": 1, "fields": {"title": "b"}, "expected_version": 1}), db=db)
    with pytest.raises(dataflow.StaleRecordError) as info:
        await run(("DocUpdateNode", "edit", {"id": 1, "fields": {"title": "c"}, "expected_version": 1}), db=db)
    message = check(info.value, "DF-310")
    assert "Doc 1 is at version 2, not the expected version 1" in message
    assert {k: info.value.context[k] for k in ("model", "id", "expected_version", "current_version")} == {
        "model": "Doc", "id": 1, "expected_version": 1, "current_version": 2,
    }
    with pytest.raises(dataflow.StaleRecordError) as info:
        await run(("DocDeleteNode", "delete", {"id": 1, "expected_version": 1}), db=db)
    check(info.value, "DF-310")


@triggers("DF-311")
async def test_df311_upsert_on_the_key_of_a_soft_deleted_record(db: DataFlow) -> None:
    declare_rows(db)
    await run(("DocCreateNode", "create", {"title": "a", "slug": "a"}), db=db)
    await run(("DocDeleteNode", "delete", {"id": 1}), db=db)
    with pytest.raises(dataflow.DeletedRecordConflictError) as info:
        await run(("DocUpsertNode", "upsert", {"where": {"id": 1}, "create": {"title": "b", "slug": "b"}}), db=db)
    message = check(info.value, "DF-311")
    assert "the Doc with {'id': 1} is soft-deleted" in message
    with pytest.raises(dataflow.DeletedRecordConflictError) as info:
        await run(("DocBulkUpsertNode", "bulk", {"records": [{"id": 1, "title": "b", "slug": "b"}]}), db=db)
    check(info.value, "DF-311")


@triggers("DF-416")
async def test_df416_row_option_parameters_on_a_model_without_the_option(db: DataFlow) -> None:
    with pytest.raises(dataflow.RowOptionNotEnabledError) as info:
        workflow(("UserListNode", "list", {"include_deleted": True}), db=db)
    message = check(info.value, "DF-416")
    assert "UserListNode got 'include_deleted', which only models declared with @db.model(soft_delete=True)" in message
    with pytest.raises(dataflow.RowOptionNotEnabledError) as info:
        workflow(("UserUpdateNode", "edit", {"id": 1, "fields": {"age": 2}, "expected_version": 1}), db=db)
    assert "@db.model(versioned=True)" in check(info.value, "DF-416")


@triggers("DF-417")
async def test_df417_a_node_sets_a_managed_field(db: DataFlow) -> None:
    declare_rows(db)
    with pytest.raises(dataflow.ManagedFieldError) as info:
        workflow(("DocCreateNode", "create", {"title": "a", "slug": "a", "version": 5}), db=db)
    message = check(info.value, "DF-417")
    assert "'version' in parameters is a field DataFlow maintains for model Doc" in message
    with pytest.raises(dataflow.ManagedFieldError) as info:
        await run(("DocBulkCreateNode", "bulk", {"records": [{"title": "a", "slug": "a", "deleted_at": None}]}), db=db)
    assert "'deleted_at' in records[0]" in check(info.value, "DF-417")


@triggers("DF-817")
async def test_df817_invalid_row_options_of_a_model(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidModelOptionError) as info:

        @db.model(versioned="yes")  # type: ignore[arg-type]
        class Page:
            id: int

    assert "Model Page: versioned must be True or False, got 'yes'." in check(info.value, "DF-817")
    with pytest.raises(dataflow.InvalidModelOptionError) as info:

        @db.model(versioned=True)
        class Post:
            id: int
            version: int = 1

    assert "Model Post declares a field 'version', which versioned=True adds itself" in check(info.value, "DF-817")


# --- 4xx: workflows -------------------------------------------------------------------------------


@triggers("DF-401")
async def test_df401_unknown_node_type(db: DataFlow) -> None:
    with pytest.raises(dataflow.UnknownNodeTypeError) as info:
        workflow(("UsrCreateNode", "create", {"name": "Ada", "email": "a@example.com"}))
    message = check(info.value, "DF-401")
    assert "UserCreateNode" in message  # the close match


@triggers("DF-402")
async def test_df402_duplicate_node_id(db: DataFlow) -> None:
    with pytest.raises(dataflow.DuplicateNodeIdError) as info:
        workflow(create(), ("UserListNode", "step", {}), ("UserCountNode", "step", {}))
    message = check(info.value, "DF-402")
    assert "'step'" in message


@triggers("DF-403")
async def test_df403_cycle(db: DataFlow) -> None:
    with pytest.raises(dataflow.WorkflowCycleError) as info:
        workflow(
            ("UserReadNode", "a", {}),
            ("UserReadNode", "b", {}),
            connections=(("a", "id", "b", "id"), ("b", "id", "a", "id")),
        )
    check(info.value, "DF-403")


@triggers("DF-404")
async def test_df404_connection_to_unknown_node(db: DataFlow) -> None:
    with pytest.raises(dataflow.DanglingConnectionError) as info:
        workflow(("UserReadNode", "read", {}), connections=(("create", "id", "read", "id"),))
    message = check(info.value, "DF-404")
    assert "'create'" in message


@triggers("DF-405")
async def test_df405_connection_path_missing(db: DataFlow) -> None:
    with pytest.raises(dataflow.ConnectionPathError) as info:
        await run(
            ("UserCreateNode", "create", {"name": "Ada", "email": "ada@example.com"}),
            ("UserReadNode", "read", {}),
            connections=(("create", "user_id", "read", "id"),),
        )
    message = check(info.value, "DF-405")
    assert "user_id" in message


@triggers("DF-406")
async def test_df406_unexpected_exception_inside_a_node(database_url: str) -> None:
    """A non-DataFlow exception inside a node: here a model's default_factory raises."""

    def broken_default() -> str:
        raise ZeroDivisionError("division by zero in the default")

    db = DataFlow(database_url)

    @db.model
    class Item:
        id: int
        label: str = Field(default_factory=broken_default)

    try:
        with pytest.raises(dataflow.NodeExecutionError) as info:
            await AsyncLocalRuntime().execute_workflow_async(workflow(("ItemCreateNode", "create", {})))
        message = check(info.value, "DF-406")
        assert "'create'" in message and isinstance(info.value.__cause__, ZeroDivisionError)
    finally:
        await db.close()


# --- 5xx: connections, pools and event loops --------------------------------------------------------


@triggers("DF-407")
async def test_df407_unbound_name_declared_by_two_instances(database_url: str) -> None:
    first, second = DataFlow(database_url), DataFlow(database_url)
    declare(first)
    declare(second)
    try:
        with pytest.raises(dataflow.AmbiguousNodeTypeError) as info:
            workflow(create())
        message = check(info.value, "DF-407")
        assert "2 live DataFlow instances" in message and "db.workflow()" in message
        assert "test_errors_triggered.py" in message  # where each instance was created
        assert first.url in message  # named by its redacted URL (db.url never shows a password)
        # Bound, each builder resolves on its own instance; closing one ends the ambiguity.
        assert workflow(create(), db=second).nodes[0].node_type is second.nodes["UserCreateNode"]
        await first.close()
        assert workflow(create()).nodes[0].node_type is second.nodes["UserCreateNode"]
    finally:
        await first.close()
        await second.close()


@triggers("DF-408")
@pytest.mark.parametrize(
    "condition",
    ["__import__('os').system('true')", "input.__class__", "[x for x in input]", "len(input) >", "other > 0"],
)
def test_df408_unsafe_or_invalid_condition(condition: str) -> None:
    builder = WorkflowBuilder().add_node("SwitchNode", "switch", {"condition": condition, "input": [1]})
    with pytest.raises(dataflow.InvalidConditionError) as info:
        builder.build()
    check(info.value, "DF-408")
    assert info.value.context["node"] == "switch"


@triggers("DF-409")
async def test_df409_inspector_asked_about_a_node_the_workflow_lacks(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    try:
        builder = db.workflow().add_node("UserCreateNode", "create", {"name": "Ada", "email": "ada@example.com"})
        inspector = dataflow.Inspector(builder)
        for ask in (
            lambda: inspector.trace_parameter("craete", "name"),
            lambda: inspector.parameter_lineage("craete"),
            lambda: inspector.node("craete"),
        ):
            with pytest.raises(dataflow.UnknownNodeIdError) as info:
                ask()
            message = check(info.value, "DF-409")
            assert "Node 'craete' is not in this workflow (did you mean 'create'?). Nodes: create." in message
        trace = inspector.trace_parameter("create", "name").show()
        assert trace == "Parameter Trace: create.name\n└─ static value 'Ada'"
    finally:
        await db.close()


@triggers("DF-501")
async def test_df501_connection_refused_names_host_and_port() -> None:
    """PostgreSQL only by nature (SQLite has no server); needs no server at all: a free local port."""
    port = free_port()
    db = DataFlow(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/app", connect_timeout=5)
    declare(db)
    started = time.monotonic()
    with pytest.raises(dataflow.ServerUnavailableError) as info:
        await run(create())
    assert time.monotonic() - started < 5
    message = check(info.value, "DF-501")
    assert f"127.0.0.1:{port}" in message
    assert info.value.context["port"] == port
    await db.close()


@triggers("DF-502")
@pytest.mark.postgresql_only(reason="authentication is a PostgreSQL server concept; SQLite files have no users")
async def test_df502_authentication_failed(database_url: str) -> None:
    url = with_credentials(database_url, user="no_such_role_df502", password=PASSWORD)
    db = DataFlow(url)
    declare(db)
    with pytest.raises(dataflow.AuthenticationError) as info:
        await run(create())
    message = check(info.value, "DF-502")
    assert "no_such_role_df502" in message
    await db.close()


@triggers("DF-503")
@pytest.mark.postgresql_only(reason="SQLite creates a missing database file; only a server can lack a database")
async def test_df503_database_does_not_exist(database_url: str) -> None:
    missing = f"df_missing_{uuid.uuid4().hex[:8]}"
    db = DataFlow(with_credentials(database_url, password=PASSWORD, database=missing))
    declare(db)
    with pytest.raises(dataflow.DatabaseNotFoundError) as info:
        await run(create())
    message = check(info.value, "DF-503")
    assert missing in message
    await db.close()


@triggers("DF-504")
async def test_df504_pool_closed_after_close(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    wf = workflow(create())
    await AsyncLocalRuntime().execute_workflow_async(wf)
    await db.close()
    # A workflow built before close() (say by a wider-scoped fixture) is run again.
    with pytest.raises(dataflow.PoolClosedError) as info:
        await AsyncLocalRuntime().execute_workflow_async(wf)
    message = check(info.value, "DF-504")
    assert "pool is closed" in message
    assert "close()" in message


@triggers("DF-505")
def test_df505_local_runtime_used_after_close(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    runtime = LocalRuntime()
    results, _ = runtime.execute(workflow(create()))
    assert len(results) == 1
    runtime.close()
    with pytest.raises(dataflow.EventLoopClosedError) as info:
        runtime.execute(workflow(("UserCountNode", "count", {})))
    message = check(info.value, "DF-505")
    assert "LocalRuntime" in message
    asyncio.run(db.close())


@triggers("DF-506")
def test_df506_isolated_connection_used_from_another_loop(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    with asyncio.Runner() as owner:
        owner.run(db.create_tables())
        isolated = db.isolated()
        owner.run(isolated.__aenter__())
        try:
            with pytest.raises(dataflow.WrongEventLoopError) as info:
                asyncio.run(run(("UserCountNode", "count", {})))
        finally:
            owner.run(isolated.__aexit__(None, None, None))
        message = check(info.value, "DF-506")
        assert "different" in message or "another" in message
        owner.run(db.close())


@triggers("DF-506")
def test_df506_transaction_used_from_another_loop(database_url: str) -> None:
    db = DataFlow(database_url)
    declare(db)
    context = contextvars.copy_context()
    with asyncio.Runner() as owner, asyncio.Runner() as other:
        owner.run(db.create_tables())
        tx = db.transaction()
        owner.run(tx.__aenter__(), context=context)
        try:
            with pytest.raises(dataflow.WrongEventLoopError) as info:
                other.run(run(("UserCountNode", "count", {})), context=context)
        finally:
            owner.run(tx.__aexit__(None, None, None), context=context)
        check(info.value, "DF-506")
        owner.run(db.close())


@triggers("DF-520")
@pytest.mark.postgresql_only(reason="SQLite has no streaming replication, so it has no replicas")
async def test_df520_every_replica_down_reads_from_the_primary(database_url: str) -> None:
    parts = urlsplit(database_url)
    nowhere = parts._replace(netloc=f"{parts.hostname}:1").geturl()  # nothing listens on port 1
    db = DataFlow(database_url, read_replicas=[nowhere])
    declare(db)
    try:
        with pytest.warns(dataflow.ReplicasUnavailableWarning) as record:
            results = await run(("UserCountNode", "count", {}))
        assert results["count"]["count"] == 0  # the read itself succeeded, on the primary
    finally:
        await db.close()
    warning = next(w.message for w in record if isinstance(w.message, dataflow.ReplicasUnavailableWarning))
    message = str(warning)
    assert warning.code == "DF-520" and message.startswith(f"DF-520: {CATALOG['DF-520'].title}\n")
    assert message.endswith(expected_link("DF-520")) and ":1/" in message


@triggers("DF-507")
@pytest.mark.dataflow_leaks_expected(reason="closes an event loop without shutdown on purpose, to make the pool stale")
def test_df507_stale_pool_warning(database_url: str) -> None:
    db = DataFlow(database_url, test_mode=True)
    declare(db)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(run(create()))
    loop.close()  # closed without shutdown_asyncgens(): the pool is left behind, stale

    async def next_test() -> None:
        try:
            results = await run(("UserCountNode", "count", {}))
            assert results["count"]["count"] == 1
        finally:
            await db.close()

    with pytest.warns(dataflow.StalePoolWarning) as record:
        with pytest.warns(dataflow.LoopReuseWarning):  # the same instance on a second loop (DF-703)
            asyncio.run(next_test())
    warning = next(w.message for w in record if isinstance(w.message, dataflow.StalePoolWarning))
    message = str(warning)
    assert warning.code == "DF-507"
    assert message.startswith(f"DF-507: {CATALOG['DF-507'].title}\n")
    assert message.endswith(expected_link("DF-507"))
    assert "\x1b[" not in message


@triggers("DF-509")
async def test_df509_pool_acquire_timeout(database_url: str) -> None:
    db = DataFlow(database_url, pool_max_size=1, pool_acquire_timeout=0.3)
    declare(db)
    await db.create_tables()
    holding, release = asyncio.Event(), asyncio.Event()

    async def long_transaction() -> None:
        async with db.transaction():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(long_transaction())
    await holding.wait()
    try:
        with pytest.raises(dataflow.PoolTimeoutError) as info:
            await run(("UserCountNode", "count", {}))
    finally:
        release.set()
        await holder
    message = check(info.value, "DF-509")
    assert "pool_acquire_timeout=0.3s" in message
    await db.close()


@triggers("DF-510")
@pytest.mark.sqlite_only(reason="database is locked is SQLite's file lock; PostgreSQL waits on row locks instead")
async def test_df510_two_instances_write_one_file(database_url: str) -> None:
    writer = DataFlow(database_url)
    declare(writer)
    await writer.create_tables()
    first = workflow(create(), db=writer)
    other = DataFlow(database_url, sqlite_busy_timeout=0.2)
    declare(other)
    second = workflow(create("Alan", "alan@example.com"), db=other)
    runtime = AsyncLocalRuntime()
    try:
        async with writer.transaction():
            await runtime.execute_workflow_async(first)  # `writer` now holds SQLite's write lock
            started = time.monotonic()
            with pytest.raises(dataflow.DatabaseLockedError) as info:
                await runtime.execute_workflow_async(second)
            assert time.monotonic() - started < 3
    finally:
        await other.close()
        await writer.close()
    message = check(info.value, "DF-510")
    assert "database is locked" in message and "sqlite_busy_timeout=0.2s" in message


@triggers("DF-511")
@pytest.mark.postgresql_only(reason="only a server can drop a connection; a SQLite connection is a file handle")
async def test_df511_connection_terminated_by_the_server(database_url: str, postgres_server: Any) -> None:
    import psycopg

    db = DataFlow(database_url, pool_max_size=1)
    declare(db)
    await db.create_tables()
    database = urlsplit(database_url).path.lstrip("/")
    with pytest.raises(dataflow.ConnectionLostError) as info:
        async with db.transaction():
            await run(create())
            with psycopg.connect(postgres_server.admin_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (database,),
                )
            await run(("UserCountNode", "count", {}))
    message = check(info.value, "DF-511")
    assert urlsplit(database_url).port is not None and f":{urlsplit(database_url).port}" in message
    # The pool discards the broken connection: the same instance works again.
    results = await run(("UserCountNode", "count", {}))
    assert results["count"]["count"] == 0  # the transaction was rolled back
    await db.close()


@triggers("DF-512")
async def test_df512_table_with_other_columns(database_url: str) -> None:
    """The table exists with the columns of an older model: the database's own error, untranslated."""

    async def create_table_of_old_model() -> None:
        old = DataFlow(database_url)

        @old.model
        class User:
            id: int
            nickname: str | None = None

        await old.create_tables()
        await old.close()

    await create_table_of_old_model()
    db = DataFlow(database_url)

    @db.model
    class User:
        id: int
        name: str

    with pytest.raises(dataflow.DatabaseError) as info:
        await run(("UserCreateNode", "create", {"name": "Ada"}))
    message = check(info.value, "DF-512")
    assert "name" in message
    assert info.value.__cause__ is not None
    await db.close()


# --- 6xx: transactions ------------------------------------------------------------------------------


@triggers("DF-601")
async def test_df601_transaction_entered_twice(db: DataFlow) -> None:
    tx = db.transaction()
    async with tx:
        await run(create())
    with pytest.raises(dataflow.TransactionError) as info:
        async with tx:
            pass
    message = check(info.value, "DF-601")
    assert "committed" in message


@triggers("DF-601")
async def test_df601_sync_runtime_inside_async_transaction(db: DataFlow) -> None:
    with pytest.raises(dataflow.TransactionError) as info:
        async with db.transaction():
            LocalRuntime().execute(workflow(create()))
    message = check(info.value, "DF-601")
    assert "AsyncLocalRuntime" in message


@triggers("DF-602")
@pytest.mark.postgresql_only(reason="two transactions overlap only on PostgreSQL; SQLite runs one writer at a time")
async def test_df602_write_skew_under_serializable(db: DataFlow) -> None:
    first = await run(create("a", "a@example.com"))
    second = await run(create("b", "b@example.com"))
    ids = [next(iter(first.values()))["id"], next(iter(second.values()))["id"]]
    both_read = asyncio.Barrier(2)

    async def shift(me: int) -> None:
        async with db.transaction(isolation="SERIALIZABLE"):
            adults = (await run(("UserCountNode", "n", {"filter": {"age": 0}})))["n"]["count"]
            await both_read.wait()
            if adults == 2:
                await run(("UserUpdateNode", "u", {"id": me, "fields": {"age": 1}}))

    # return_exceptions: the loser's error must not return before the winner's COMMIT and release
    # finish, or the leak check sees the winner's task still pending.
    outcomes = await asyncio.gather(*(shift(me) for me in ids), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], dataflow.SerializationFailureError), outcomes
    message = check(failures[0], "DF-602")
    assert "retries" in message and failures[0].context["sqlstate"] == "40001"


@triggers("DF-603")
async def test_df603_lock_wait_outlasts_the_timeout(database_url: str) -> None:
    holder, waiter = DataFlow(database_url), DataFlow(database_url)
    try:
        declare(holder)
        declare(waiter)
        user = next(iter((await run(create(), db=holder)).values()))
        held, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with holder.transaction():
                await run(("UserUpdateNode", "u", {"id": user["id"], "fields": {"age": 5}}), db=holder)
                held.set()
                await release.wait()

        task = asyncio.create_task(hold())
        await asyncio.wait_for(held.wait(), 10)
        try:
            with pytest.raises(dataflow.TransactionTimeoutError) as info:
                async with waiter.transaction(timeout=0.2):
                    await run(("UserUpdateNode", "u", {"id": user["id"], "fields": {"age": 6}}), db=waiter)
        finally:
            release.set()
            await task
        message = check(info.value, "DF-603")
        assert "timeout" in message
    finally:
        await holder.close()
        await waiter.close()


@triggers("DF-604")
async def test_df604_unknown_isolation_level(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidTransactionOptionError) as info:
        db.transaction(isolation="SNAPSHOT")
    message = check(info.value, "DF-604")
    assert "SERIALIZABLE" in message
    with pytest.raises(dataflow.InvalidTransactionOptionError) as info:
        workflow(("TransactionContextNode", "tx", {"timeout": -1}), db=db)
    assert check(info.value, "DF-604") and info.value.context["node"] == "tx"


@triggers("DF-605")
async def test_df605_compensation_for_an_unknown_step(db: DataFlow) -> None:
    with pytest.raises(dataflow.InvalidSagaError) as info:
        await dataflow.SagaCoordinator(db).run(
            [{"name": "create", "node": "UserCreateNode", "params": {"name": "a", "email": "a"}}],
            {"craete": {"node": "UserDeleteNode", "params": {"id": "${create.id}"}}},
        )
    message = check(info.value, "DF-605")
    assert "'craete'" in message


@triggers("DF-606")
async def test_df606_participant_cannot_prepare(backend: str, db: DataFlow) -> None:
    """SQLite cannot prepare at all; a PostgreSQL participant cannot inside an open transaction."""
    with pytest.raises(dataflow.TwoPhaseCommitUnavailableError) as info:
        if backend == "sqlite":
            async with dataflow.TwoPhaseCommit([db], log=db):
                pass
        else:
            async with db.transaction():
                async with dataflow.TwoPhaseCommit([db], log=db):
                    pass
    message = check(info.value, "DF-606")
    assert ("saga" if backend == "sqlite" else "outside other transactions") in message


@triggers("DF-607")
@pytest.mark.postgresql_only(reason="SQLite has no PREPARE TRANSACTION")
async def test_df607_participant_fails_to_prepare(db: DataFlow, database_url: str) -> None:
    other = DataFlow(database_url)
    try:
        with pytest.raises(dataflow.TwoPhaseCommitError) as info:
            async with dataflow.TwoPhaseCommit([db, other], log=db):
                await run(create())
                async with other.connection() as connection:
                    await connection.execute('CREATE TABLE "t" ("x" INT UNIQUE DEFERRABLE INITIALLY DEFERRED)')
                    await connection.execute('INSERT INTO "t" VALUES (1), (1)')
        message = check(info.value, "DF-607")
        assert "nothing was committed" in message
        assert (await run(("UserCountNode", "n", {})))["n"]["count"] == 0
    finally:
        await other.close()


# --- 7xx: testing support ---------------------------------------------------------------------------


@triggers("DF-701")
def test_df701_leak_check_names_the_test(pytester: pytest.Pytester, database_url: str) -> None:
    """The leak check of the dataflow.testing plugin, on a test that never closes its DataFlow."""
    pytest.importorskip("dataflow.testing")
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_leaky=textwrap.dedent(
            f"""
            from dataflow import AsyncLocalRuntime, DataFlow, WorkflowBuilder

            async def test_forgets_to_close():
                db = DataFlow({database_url!r})

                @db.model
                class Item:
                    id: int
                    name: str

                builder = WorkflowBuilder()
                builder.add_node("ItemCreateNode", "create", {{"name": "a"}})
                await AsyncLocalRuntime().execute_workflow_async(builder.build())
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "dataflow.testing", "--dataflow-leak-check", "-p", "no:randomly")
    output = result.stdout.str()
    assert "ResourceLeakError" in output, output
    assert "DF-701: " + CATALOG["DF-701"].title in output, output
    assert "test_leaky.py::test_forgets_to_close" in output
    assert "test_leaky.py:" in output  # where the pool was created
    assert expected_link("DF-701") in output
    assert "\x1b[" not in output


def _inner_isolated_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database_url: str, tests: str
) -> str:
    """Run ``tests`` (which use ``dataflow_isolated`` with one Item model) in an inner pytest session."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the inner run is not an xdist worker
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest


            class Item:
                id: int
                name: str


            @pytest.fixture(scope="session")
            def dataflow_models():
                return [Item]
            """
        )
    )
    pytester.makepyfile(test_inner=textwrap.dedent(tests))
    result = pytester.runpytest_subprocess("-p", "dataflow.testing", "-p", "no:randomly")
    return result.stdout.str()


@triggers("DF-702")
def test_df702_a_raw_commit_under_dataflow_isolated(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """A test that ends the isolation's transaction with a raw COMMIT, then writes: the rows stay."""
    output = _inner_isolated_run(
        pytester,
        monkeypatch,
        database_url,
        """
        from dataflow import AsyncLocalRuntime

        async def test_commits(dataflow_isolated):
            async with dataflow_isolated.connection() as connection:
                await connection.execute("COMMIT")
            workflow = dataflow_isolated.workflow()
            workflow.add_node("ItemCreateNode", "create", {"id": 1, "name": "escaped"})
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        """,
    )
    assert "EscapedWritesError" in output, output
    assert "DF-702: " + CATALOG["DF-702"].title in output, output
    assert "Test test_inner.py::test_commits wrote to the database outside its isolation" in output, output
    assert "table 'items': 1 row(s) inserted or updated (0 -> 1 rows)" in output, output
    assert expected_link("DF-702") in output
    assert PASSWORD not in output


@triggers("DF-703")
@pytest.mark.dataflow_leaks_expected(reason="the first loop's pool is left to DataFlow's safety net on purpose")
def test_df703_an_unclosed_instance_on_a_second_loop(database_url: str) -> None:
    """One test-mode instance used by two asyncio.run() loops, nobody closing its pools in between."""
    db = DataFlow(database_url, test_mode=True)
    declare(db)
    asyncio.run(db.create_tables())  # this loop's pool is closed by DataFlow when the loop ends
    with pytest.warns(dataflow.LoopReuseWarning) as record:
        asyncio.run(db.create_tables())
    asyncio.run(db.close())
    warning = next(w.message for w in record if isinstance(w.message, dataflow.LoopReuseWarning))
    message = str(warning)
    assert warning.code == "DF-703"
    assert message.startswith(f"DF-703: {CATALOG['DF-703'].title}\n")
    assert "created at " + __file__ in message  # where the instance was created
    assert "guide/fixture-patterns/#a-dataflow-instance-that-nobody-closes" in message
    assert message.endswith(expected_link("DF-703"))
    assert PASSWORD not in message


@triggers("DF-704")
def test_df704_a_seed_fixture_that_returns_a_plain_function(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """``dataflow_seed`` returns a sync function instead of an async loader."""
    output = _inner_isolated_run(
        pytester,
        monkeypatch,
        database_url,
        """
        import pytest

        @pytest.fixture(scope="module")
        def dataflow_seed():
            def load(db):
                pass
            return load

        async def test_seeded(dataflow_isolated):
            pass
        """,
    )
    assert "SeedError" in output, output
    assert "DF-704: " + CATALOG["DF-704"].title in output, output
    assert "it must return None or an async function that takes the DataFlow instance" in output, output
    assert expected_link("DF-704") in output
@triggers("DF-827")
def test_df827_a_function_loop_test_that_requests_the_session_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    """A test marked for its own function loop requests ``dataflow_isolated_session``."""
    output = _inner_isolated_run(
        pytester,
        monkeypatch,
        database_url,
        """
        import pytest

        @pytest.mark.asyncio(loop_scope="function")
        async def test_on_its_own_loop(dataflow_isolated_session):
            pass
        """,
    )
    assert "IsolationModeError" in output, output
    assert "DF-827: " + CATALOG["DF-827"].title in output, output
    assert 'sets loop_scope="function"' in output and 'loop_scope="session"' in output, output
    assert expected_link("DF-827") in output


@triggers("DF-710")
async def test_df710_a_tracked_task_that_swallows_its_cancellation() -> None:
    from dataflow.testing import TaskTracker

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # carries on
        await asyncio.sleep(3600)

    tracker = TaskTracker(timeout=0.1)
    task = tracker.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    with pytest.raises(dataflow.TaskNotStoppedError) as info:
        await tracker.close()
    message = check(info.value, "DF-710")
    assert "task 'stubborn' running" in message and "0.1s after cancel()" in message
    task.cancel()
    await asyncio.wait([task])


# --- 8xx: configuration --------------------------------------------------------------------------------


@triggers("DF-801")
@pytest.mark.parametrize(
    "url",
    [
        f"mysql://root:{PASSWORD}@localhost/app",
        "sqlite://relative.db",
        f"postgresql://app:{PASSWORD}@localhost:notaport/app",
    ],
    ids=["unsupported-scheme", "sqlite-two-slashes", "postgresql-bad-port"],
)
def test_df801_invalid_url(url: str) -> None:
    with pytest.raises(dataflow.InvalidURLError) as info:
        DataFlow(url)
    message = check(info.value, "DF-801")
    assert "sqlite:///" in message  # the accepted forms


@triggers("DF-802")
def test_df802_invalid_pool_settings() -> None:
    with pytest.raises(dataflow.ConfigurationError) as info:
        DataFlow("sqlite:///:memory:", pool_min_size=5, pool_max_size=2)
    message = check(info.value, "DF-802")
    assert "pool_min_size" in message


def _inner_suite(pytester: pytest.Pytester, source: str, *args: str) -> str:
    """Run ``source`` as an inner suite with the plugin; return stdout and stderr."""
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    result = pytester.runpytest_subprocess("-p", "dataflow.testing", "-p", "no:randomly", *args)
    return result.stdout.str() + result.stderr.str()


@triggers("DF-803")
def test_df803_reuse_db_and_drop_db_together(pytester: pytest.Pytester) -> None:
    output = _inner_suite(pytester, "def test_x():\n    pass\n", "--dataflow-reuse-db", "--dataflow-drop-db")
    assert "DF-803: " + CATALOG["DF-803"].title in output, output
    assert "--dataflow-reuse-db and --dataflow-drop-db were both given" in output
    assert expected_link("DF-803") in output


@triggers("DF-804")
def test_df804_dataflow_backend_marker_without_reason(pytester: pytest.Pytester) -> None:
    output = _inner_suite(
        pytester,
        """
        import pytest

        @pytest.mark.dataflow_backend("postgresql")
        def test_locks():
            pass
        """,
    )
    assert "BackendMarkerError" in output and "DF-804: " + CATALOG["DF-804"].title in output, output
    assert "test_inner.py::test_locks" in output and "has no reason=" in output
    assert expected_link("DF-804") in output


@triggers("DF-805")
async def test_df805_track_task_given_a_coroutine() -> None:
    from dataflow.testing import TaskTracker

    coro = asyncio.sleep(0)
    try:
        with pytest.raises(dataflow.InvalidTaskError) as info:
            TaskTracker().track_task(coro)  # type: ignore[arg-type]
    finally:
        coro.close()
    message = check(info.value, "DF-805")
    assert "not a coroutine" in message
@triggers("DF-810")
def test_df810_read_replicas_on_sqlite_and_bad_replica_urls(tmp_path: Any) -> None:
    with pytest.raises(dataflow.ReplicaConfigurationError) as info:
        DataFlow(f"sqlite:///{tmp_path}/app.db", read_replicas=[f"sqlite:///{tmp_path}/copy.db"])
    assert "streaming replication" in check(info.value, "DF-810")
    with pytest.raises(dataflow.ReplicaConfigurationError) as info:
        DataFlow(f"postgresql://app:{PASSWORD}@primary/shop", read_replicas=f"postgresql://app:{PASSWORD}@replica/shop")
    assert "must be a list of URLs" in check(info.value, "DF-810")


@triggers("DF-811")
def test_df811_gateway_without_auth(database_url: str) -> None:
    from dataflow.gateway import create_gateway_api

    db = DataFlow(database_url)
    declare(db)
    try:
        with pytest.warns(dataflow.GatewayWithoutAuthWarning) as record:
            create_gateway_api(db)
    finally:
        asyncio.run(db.close())
    warning = next(w.message for w in record if isinstance(w.message, dataflow.GatewayWithoutAuthWarning))
    message = str(warning)
    assert message.startswith(f"DF-811: {CATALOG['DF-811'].title}\n") and message.endswith(expected_link("DF-811"))


@triggers("DF-812")
def test_df812_gateway_for_a_model_the_instance_does_not_declare(database_url: str) -> None:
    from dataflow.gateway import create_gateway_api

    db = DataFlow(database_url)
    declare(db)
    try:
        with pytest.raises(dataflow.GatewayConfigurationError) as info:
            create_gateway_api(db, models=["Invoice"], auth=None)
    finally:
        asyncio.run(db.close())
    assert "Invoice" in check(info.value, "DF-812")


# --- 9xx: migrations -----------------------------------------------------------------------------------


def migrated_users(database_url: str, directory: Any) -> DataFlow:
    """A DataFlow whose first revision (create users) is generated and applied."""
    db = DataFlow(database_url, migrations_dir=directory)
    declare(db)
    db.generate_migration("create users")
    db.migrate()
    return db


@triggers("DF-901")
async def test_df901_two_revisions_with_one_parent(database_url: str, tmp_path: Any) -> None:
    from _migrate_help import write

    db = migrated_users(database_url, tmp_path)
    for column in ("nickname", "score"):
        write(tmp_path, f"0002_{column}", f"0002_{column}", "0001_create_users",
              f'add_column("users", "{column}", "str", nullable=True)', f'drop_column("users", "{column}")')
    with pytest.raises(dataflow.MultipleHeadsError) as info:
        await db.migrate_async()
    message = check(info.value, "DF-901")
    assert "2 heads: 0002_nickname" in message and "0002_score" in message
    await db.close()


@triggers("DF-902")
async def test_df902_applied_file_edited(database_url: str, tmp_path: Any) -> None:
    db = migrated_users(database_url, tmp_path)
    path = tmp_path / "0001_create_users.py"
    path.write_text(path.read_text().replace('column("age", "int", default=0)', 'column("age", "int", default=1)'))
    with pytest.raises(dataflow.MigrationChecksumError) as info:
        await db.migrate_async()
    message = check(info.value, "DF-902")
    assert "0001_create_users" in message and "changed after being applied" in message
    await db.close()


@triggers("DF-903")
async def test_df903_rollback_target_not_in_history(database_url: str, tmp_path: Any) -> None:
    db = migrated_users(database_url, tmp_path)
    with pytest.raises(dataflow.InvalidMigrationTargetError) as info:
        await db.rollback_async("0007_nope")
    message = check(info.value, "DF-903")
    assert "'0007_nope' is not a revision of the history. Revisions: 0001_create_users." in message
    await db.close()


@triggers("DF-904")
async def test_df904_primary_key_altered(database_url: str, tmp_path: Any) -> None:
    from _migrate_help import write

    db = migrated_users(database_url, tmp_path)
    write(tmp_path, "0002_text_ids", "0002_text_ids", "0001_create_users",
          'alter_column("users", "id", type="str")', 'alter_column("users", "id", type="int")')
    with pytest.raises(dataflow.UnsupportedMigrationOperationError) as info:
        await db.migrate_async()
    message = check(info.value, "DF-904")
    assert 'upgrade operation 1, alter_column("users", "id", type="str")' in message
    assert await db.migrations.current() == "0001_create_users"
    await db.close()


@triggers("DF-905")
async def test_df905_not_null_column_added_to_rows(database_url: str, tmp_path: Any) -> None:
    from _migrate_help import write

    db = migrated_users(database_url, tmp_path)
    await run(create(), db=db)
    write(tmp_path, "0002_country", "0002_country", "0001_create_users",
          'add_column("users", "country", "str")', 'drop_column("users", "country")')
    with pytest.raises(dataflow.MigrationFailedError) as info:
        await db.migrate_async()
    message = check(info.value, "DF-905")
    assert 'upgrade operation 1 of 1, add_column("users", "country", "str")' in message
    assert "the database is at 0001_create_users" in message
    await db.close()


@triggers("DF-906")
async def test_df906_revision_file_without_downgrade(database_url: str, tmp_path: Any) -> None:
    db = migrated_users(database_url, tmp_path)
    (tmp_path / "0002_half.py").write_text("revision = '0002_half'\nparent = '0001_create_users'\nupgrade = []\n")
    with pytest.raises(dataflow.InvalidMigrationHistoryError) as info:
        await db.migrate_async()
    message = check(info.value, "DF-906")
    assert "0002_half.py: it does not set downgrade." in message
    await db.close()


# --- a private PostgreSQL server: too many clients, and stopping the server mid-run ------------------


@pytest.fixture
def private_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A throwaway PostgreSQL server of this test alone, with room for only 4 client connections."""
    import _postgres

    if _postgres.os.environ.get(_postgres.ENV_URL):
        pytest.skip(f"{_postgres.ENV_URL} is set: the suite does not start or stop servers of its own")
    monkeypatch.setattr(
        _postgres,
        "SERVER_SETTINGS",
        {**_postgres.SERVER_SETTINGS, "max_connections": "4", "superuser_reserved_connections": "0"},
    )
    try:
        server = _postgres.start_throwaway_server(_postgres.find_pg_ctl(), worker=f"{_postgres.worker_id()}-errors")
    except _postgres.PostgresUnavailableError as exc:
        _postgres.handle_unavailable(str(exc))
    try:
        wait_until_ready(server.admin_url)
        yield server
    finally:
        server.close()


def wait_until_ready(admin_url: str, timeout: float = 30.0) -> None:
    """``pg_ctl start -w`` can return while the server still answers "the database system is starting up"."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(admin_url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@triggers("DF-508")
@pytest.mark.dataflow_leaks_expected(
    reason="the server refuses connections mid-acquire; asyncpg's connect attempts are still running"
)
async def test_df508_too_many_clients(private_postgres: Any) -> None:
    """PostgreSQL only (SQLite has no connection limit): a pool larger than the server's max_connections."""
    port = urlsplit(private_postgres.admin_url).port
    url = with_credentials(private_postgres.admin_url, password=PASSWORD)
    db = DataFlow(url, pool_min_size=6, pool_max_size=6)
    declare(db)
    with pytest.raises(dataflow.TooManyConnectionsError) as info:
        await run(create())
    message = check(info.value, "DF-508")
    assert "too many clients already" in message
    assert f"127.0.0.1:{port}" in message
    await db.close()


@triggers("DF-501")
async def test_df501_server_stopped_mid_run_then_restarted(private_postgres: Any) -> None:
    """Stopping PostgreSQL mid-suite gives DF-501 naming host:port within seconds, not a hang; after a
    restart the same DataFlow instance works again. PostgreSQL only: SQLite has no server to stop."""
    url = private_postgres.create_database()
    port = urlsplit(url).port
    db = DataFlow(url, connect_timeout=3)
    declare(db)
    await run(create())
    executor = private_postgres._executor
    await asyncio.to_thread(executor.stop)
    started = time.monotonic()
    with pytest.raises(dataflow.ServerUnavailableError) as info:
        await run(("UserCountNode", "count", {}))
    assert time.monotonic() - started < 5, "a stopped server must fail fast, not hang"
    message = check(info.value, "DF-501")
    assert f"127.0.0.1:{port}" in message
    await asyncio.to_thread(executor.start)
    await asyncio.to_thread(wait_until_ready, private_postgres.admin_url)
    results = await run(("UserCountNode", "count", {}))
    assert results["count"]["count"] == 1
    await db.close()


# --- change data capture -----------------------------------------------------------------------------


@triggers("DF-410")
async def test_df410_change_capture_of_a_table_no_model_declares(db: DataFlow) -> None:
    workflow = WorkflowBuilder().add_node("ChangeDataCaptureNode", "cdc", {"source_table": "custmers"})
    with pytest.raises(dataflow.UnknownSourceTableError) as info:
        workflow.build()
    message = check(info.value, "DF-410")
    assert "source_table 'custmers' is not a model or table of any live DataFlow instance" in message
    with pytest.raises(dataflow.UnknownSourceTableError) as info:
        db.change_feed("orders")
    assert "its tables: users" in check(info.value, "DF-410")


@triggers("DF-411")
async def test_df411_unsupported_capture_operation_feed_name_and_limit(db: DataFlow) -> None:
    workflow = db.workflow().add_node(
        "ChangeDataCaptureNode", "cdc", {"source_table": "users", "capture_operations": ["INSERT", "TRUNCATE"]}
    )
    with pytest.raises(dataflow.InvalidCaptureParameterError) as info:
        workflow.build()
    message = check(info.value, "DF-411")
    assert "'TRUNCATE' is not an operation change capture supports; use INSERT, UPDATE, DELETE." in message
    with pytest.raises(dataflow.InvalidCaptureParameterError) as info:
        db.change_feed("users", name="Billing-2")
    assert "'Billing-2' is not a feed name" in check(info.value, "DF-411")
    with pytest.raises(dataflow.InvalidCaptureParameterError) as info:
        await db.change_feed("users").read(0)
    assert "limit must be a positive integer, got 0." in check(info.value, "DF-411")
    flag = db.workflow().add_node("ChangeDataCaptureNode", "cdc", {"source_table": "users", "acknowledge": "no"})
    with pytest.raises(dataflow.InvalidCaptureParameterError) as info:
        flag.build()
    assert "acknowledge must be True or False, got 'no'." in check(info.value, "DF-411")


@pytest.fixture
def replica_level_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A throwaway PostgreSQL server of this test alone, with wal_level=replica (no logical decoding)."""
    import _postgres

    if _postgres.os.environ.get(_postgres.ENV_URL):
        pytest.skip(f"{_postgres.ENV_URL} is set: the suite does not start or stop servers of its own")
    monkeypatch.setattr(_postgres, "SERVER_SETTINGS", {**_postgres.SERVER_SETTINGS, "wal_level": "replica"})
    try:
        server = _postgres.start_throwaway_server(_postgres.find_pg_ctl(), worker=f"{_postgres.worker_id()}-cdc")
    except _postgres.PostgresUnavailableError as exc:
        _postgres.handle_unavailable(str(exc))
    try:
        wait_until_ready(server.admin_url)
        yield server
    finally:
        server.close()


@triggers("DF-513")
async def test_df513_postgresql_without_logical_decoding(replica_level_postgres: Any) -> None:
    """PostgreSQL only: SQLite captures with triggers and has no wal_level."""
    db = DataFlow(replica_level_postgres.create_database())
    declare(db)
    with pytest.raises(dataflow.LogicalDecodingUnavailableError) as info:
        await db.change_feed("users").create()
    message = check(info.value, "DF-513")
    assert "The server runs with wal_level=replica" in message
    assert "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL" in message
    assert not await db.change_feed("users").exists()
    await db.close()


@triggers("DF-514")
async def test_df514_a_feed_created_twice(db: DataFlow) -> None:
    feed = db.change_feed("users", name="billing")
    await feed.create()
    try:
        with pytest.raises(dataflow.ChangeFeedExistsError) as info:
            await db.change_feed("users", name="billing").create()
        message = check(info.value, "DF-514")
        assert "Change feed 'billing' already exists for table 'users'" in message
    finally:
        await feed.drop()


@triggers("DF-515")
async def test_df515_a_feed_read_before_create_and_after_drop(db: DataFlow) -> None:
    feed = db.change_feed("users", name="billing")
    with pytest.raises(dataflow.ChangeFeedNotFoundError) as info:
        await feed.read()
    message = check(info.value, "DF-515")
    assert "await db.change_feed('users', name='billing').create()" in message
    async with db.transaction():  # inside one, the read looks for its table first: nothing fails in SQL
        with pytest.raises(dataflow.ChangeFeedNotFoundError):
            await feed.read()
        async with db.connection() as connection:  # so the transaction goes on (PostgreSQL would abort it)
            assert (await connection.fetch("SELECT 1"))[0][0] == 1
    await feed.create()
    await feed.drop()
    for call in (feed.read, feed.drop, feed.position):
        with pytest.raises(dataflow.ChangeFeedNotFoundError):
            await call()
    if db.dialect == "postgresql":  # the slot dropped behind DataFlow's back
        await feed.create()
        async with db.connection() as connection:
            await connection.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = current_database() AND slot_name LIKE 'dataflow_billing_%'"
            )
        with pytest.raises(dataflow.ChangeFeedNotFoundError) as info:
            await feed.read()
        assert "of change feed 'billing' does not exist (it was dropped outside DataFlow" in check(info.value, "DF-515")
        await feed.drop()
        assert not await feed.exists()


@triggers("DF-516")
@pytest.mark.sqlite_only(reason="PostgreSQL decodes the write-ahead log, which follows column changes by itself")
async def test_df516_sqlite_triggers_outdated_by_a_column_change(db: DataFlow) -> None:
    feed = db.change_feed("users")
    await feed.create()
    async with db.connection() as connection:
        await connection.execute('ALTER TABLE "users" ADD COLUMN "country" TEXT')
    with pytest.raises(dataflow.ChangeCaptureOutdatedError) as info:
        await feed.read()
    message = check(info.value, "DF-516")
    assert "lists other columns than table 'users' has now" in message
    assert "Run await db.change_feed('users', name='users').refresh()." in message
    await feed.refresh()
    assert await feed.read() == []


@triggers("DF-513")
@pytest.mark.postgresql_only(reason="replication privileges are PostgreSQL roles; SQLite has no users")
async def test_df513_a_role_without_the_replication_attribute(database_url: str) -> None:
    import asyncpg

    role = f"no_replication_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    try:
        db = DataFlow(with_credentials(database_url, user=role, password=PASSWORD))
        declare(db)
        with pytest.raises(dataflow.LogicalDecodingUnavailableError) as info:
            await db.change_feed("users").create()
        message = check(info.value, "DF-513")
        assert f"The user '{role}' may not use replication slots" in message
        assert f'ALTER ROLE "{role}" REPLICATION;' in message
        assert PASSWORD not in message
        await db.close()
    finally:
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


# --- the query cache's Redis backend (DF-521..DF-523, DF-820, DF-821) ---------------------------


async def _count_with_cache(database_url: str, cache_backend: str, warning: type[Warning]) -> str:
    """One count through an instance whose Redis fails; return the warning's message (the read succeeds)."""
    db = DataFlow(database_url, enable_query_cache=True, cache_backend=cache_backend)
    declare(db)
    try:
        with pytest.warns(warning) as record:
            results, _ = await AsyncLocalRuntime().execute_workflow_async(
                db.workflow().add_node("UserCountNode", "count", {}).build()
            )
        assert results["count"]["count"] == 0  # the read itself succeeded, on the database
    finally:
        await db.close()
    message = next(str(w.message) for w in record if isinstance(w.message, warning))
    assert PASSWORD not in message
    return message


def _warning_starts(message: str, code: str) -> None:
    assert message.startswith(f"{code}: {CATALOG[code].title}\n") and message.endswith(expected_link(code))


@triggers("DF-521")
async def test_df521_redis_unreachable_reads_from_the_database(database_url: str) -> None:
    message = await _count_with_cache(
        database_url, f"redis://:{PASSWORD}@127.0.0.1:1/0", dataflow.CacheUnavailableWarning
    )  # nothing listens on port 1
    _warning_starts(message, "DF-521")
    assert "redis://:***@127.0.0.1:1/0 is unreachable" in message


@triggers("DF-522")
async def test_df522_redis_refuses_the_credentials(database_url: str, redis_url: str) -> None:
    netloc = urlsplit(redis_url).netloc
    message = await _count_with_cache(
        database_url, f"redis://nobody:{PASSWORD}@{netloc}/0", dataflow.CacheAuthenticationWarning
    )
    _warning_starts(message, "DF-522")
    assert f"redis://nobody:***@{netloc}/0 refused the credentials" in message


@triggers("DF-523")
async def test_df523_redis_refuses_a_command(database_url: str, redis_url: str) -> None:
    from _redis import command

    parts = urlsplit(redis_url)
    assert parts.hostname is not None and parts.port is not None
    rights = ("on", f">{PASSWORD}", "~*", "+get", "+set")  # no EVALSHA: the cache's lookup is refused
    reply = command(parts.hostname, parts.port, "ACL", "SETUSER", "df_no_scripts", *rights)
    assert reply.startswith(b"+OK")
    message = await _count_with_cache(
        database_url, f"redis://df_no_scripts:{PASSWORD}@{parts.netloc}/0", dataflow.CacheRejectedWarning
    )
    _warning_starts(message, "DF-523")
    assert "refused a command (NoPermissionError" in message and "evalsha" in message


@triggers("DF-820")
def test_df820_a_cache_backend_that_is_not_redis(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    with pytest.raises(dataflow.CacheBackendConfigurationError) as info:
        DataFlow(url, enable_query_cache=True, cache_backend=f"memcached://app:{PASSWORD}@cache:11211")
    message = check(info.value, "DF-820")
    assert "is neither 'memory' nor a Redis URL" in message and "memcached://app:***@cache:11211" in message
    with pytest.raises(dataflow.CacheBackendConfigurationError) as info:
        DataFlow(url, cache_backend="redis://cache:6379/0")
    assert "enable_query_cache is False" in check(info.value, "DF-820")


@triggers("DF-821")
def test_df821_redis_backend_without_redis_py(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "redis", None)  # an environment without the extra
    with pytest.raises(dataflow.CacheBackendNotInstalledError) as info:
        DataFlow(f"sqlite:///{tmp_path}/app.db", enable_query_cache=True, cache_backend=f"redis://:{PASSWORD}@cache:6379/0")
    message = check(info.value, "DF-821")
    assert "needs redis-py, which is not installed" in message and "redis://:***@cache:6379/0" in message
@triggers("DF-420")
def test_df420_a_monitoring_option_out_of_range() -> None:
    """Checked when the workflow is built (no database is needed)."""
    builder = WorkflowBuilder().add_node("PerformanceAnomalyNode", "anomaly", {"baseline_window": "5 minutes"})
    with pytest.raises(dataflow.InvalidMonitorOptionError) as info:
        builder.build()
    message = check(info.value, "DF-420")
    assert "PerformanceAnomalyNode option 'baseline_window' must be a number above 0, got '5 minutes'." in message
    for node_type, params in (
        ("DeadlockDetectorNode", {"detection_threshold": 0}),
        ("RaceConditionDetectorNode", {"monitoring_enabled": "yes"}),
        ("PerformanceAnomalyNode", {"min_samples": 1}),
    ):
        with pytest.raises(dataflow.InvalidMonitorOptionError) as info:
            WorkflowBuilder().add_node(node_type, "n", params).build()
        check(info.value, "DF-420")
    with pytest.raises(dataflow.InvalidMonitorOptionError) as info:
        dataflow.RaceConditionDetector(window=-1)
    assert "RaceConditionDetector option 'window'" in check(info.value, "DF-420")
    with pytest.raises(dataflow.InvalidMonitorOptionError) as info:
        dataflow.watch(DataFlow("sqlite:///:memory:")).forget("deadlocks")
    assert "got ['deadlocks']" in check(info.value, "DF-420")


@triggers("DF-421")
async def test_df421_watching_a_url_instead_of_the_instance(db: DataFlow, database_url: str) -> None:
    with pytest.raises(dataflow.MonitoredDatabaseError) as info:
        dataflow.watch(database_url)  # type: ignore[arg-type]
    message = check(info.value, "DF-421")
    assert "Only a DataFlow instance can be watched, got str" in message
    with pytest.raises(dataflow.MonitoredDatabaseError) as info:
        dataflow.DeadlockDetector(db, "User")
    check(info.value, "DF-421")


@triggers("DF-823")
def test_df823_export_without_opentelemetry(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """The import fails as it does where the otel extra is not installed."""
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    db = DataFlow(database_url)
    with pytest.raises(dataflow.OpenTelemetryUnavailableError) as info:
        dataflow.export_metrics(db)
    message = check(info.value, "DF-823")
    assert "pip install 'dataflow[otel]'" in message
    assert db.execution_context.watch is None  # nothing was set up


@triggers("DF-824")
def test_df824_a_reader_instead_of_the_meter_provider(database_url: str) -> None:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    db = DataFlow(database_url)
    with pytest.raises(dataflow.InvalidMeterProviderError) as info:
        dataflow.export_metrics(db, meter_provider=InMemoryMetricReader())
    message = check(info.value, "DF-824")
    assert "takes an OpenTelemetry MeterProvider, got InMemoryMetricReader" in message


# --- multi-tenancy -----------------------------------------------------------------------------------


def declare_tenant_model(db: DataFlow, tenant: Any = True) -> None:
    @db.model(tenant=tenant)
    class Ledger:
        id: int
        org_id: str = ""
        entry: str = ""


@triggers("DF-306")
async def test_df306_tenant_scoped_model_without_a_tenant(database_url: str) -> None:
    db = DataFlow(database_url)
    declare_tenant_model(db)
    try:
        built = db.workflow().add_node("LedgerListNode", "list", {}).build()
        with pytest.raises(dataflow.TenantRequiredError) as info:
            await AsyncLocalRuntime().execute_workflow_async(built)
    finally:
        await db.close()
    message = check(info.value, "DF-306")
    assert "Model Ledger is tenant-scoped and no tenant is set" in message and "Node: list" in message


@triggers("DF-307")
async def test_df307_create_for_another_tenant(database_url: str) -> None:
    db = DataFlow(database_url)
    declare_tenant_model(db)
    try:
        built = db.workflow().add_node("LedgerCreateNode", "create", {"entry": "x", "tenant_id": "globex"}).build()
        with pytest.raises(dataflow.TenantMismatchError) as info:
            await AsyncLocalRuntime().execute_workflow_async(built, tenant_id="acme")
    finally:
        await db.close()
    assert "names tenant 'globex' in field 'tenant_id', but the current tenant is 'acme'" in check(info.value, "DF-307")


@triggers("DF-308")
async def test_df308_tenant_id_that_is_not_a_string(database_url: str) -> None:
    db = DataFlow(database_url)
    declare_tenant_model(db)
    try:
        with pytest.raises(dataflow.InvalidTenantError) as info:
            db.tenant(42)  # type: ignore[arg-type]
        assert "from db.tenant() must be a non-empty str" in check(info.value, "DF-308")
        workflow = db.workflow().add_node("LedgerCountNode", "count", {})
        workflow.metadata["tenant_id"] = ""
        with pytest.raises(dataflow.InvalidTenantError) as info:
            await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        assert "workflow.metadata['tenant_id']" in check(info.value, "DF-308")
    finally:
        await db.close()


@triggers("DF-412")
async def test_df412_two_tenants_for_one_run(database_url: str) -> None:
    db = DataFlow(database_url)
    declare_tenant_model(db)
    try:
        workflow = db.workflow().add_node("LedgerCountNode", "count", {})
        async with db.tenant("acme"):
            with pytest.raises(dataflow.TenantConflictError) as info:
                await AsyncLocalRuntime().execute_workflow_async(workflow.build(), tenant_id="globex")
    finally:
        await db.close()
    message = check(info.value, "DF-412")
    assert "the runtime's tenant_id= = 'globex', the surrounding db.tenant() block = 'acme'" in message


@triggers("DF-813")
def test_df813_tenant_option_names_no_usable_field(database_url: str) -> None:
    db = DataFlow(database_url)
    for option, expected in [
        ("org", "tenant='org' names no field"),
        ("id", "must be a non-optional str field other than 'id'"),
        (1.5, "tenant= takes True or the name of a str field"),
    ]:
        with pytest.raises(dataflow.InvalidTenantOptionError) as info:
            declare_tenant_model(db, option)
        assert expected in check(info.value, "DF-813")
    asyncio.run(db.close())


@triggers("DF-814")
@pytest.mark.sqlite_only(reason="SQLite is the backend without row-level security")
def test_df814_row_level_security_on_sqlite(database_url: str) -> None:
    with pytest.raises(dataflow.RowSecurityUnsupportedError) as info:
        DataFlow(database_url, tenant_rls=True)
    assert "which sqlite does not have" in check(info.value, "DF-814")


@triggers("DF-815")
@pytest.mark.postgresql_only(reason="row-level security is PostgreSQL's; the suite's server connects as a superuser")
async def test_df815_row_level_security_for_a_superuser(database_url: str) -> None:
    db = DataFlow(database_url, tenant_rls=True)
    declare_tenant_model(db)
    try:
        with pytest.raises(dataflow.RowSecurityBypassedError) as info:
            await AsyncLocalRuntime().execute_workflow_async(
                db.workflow().add_node("LedgerCountNode", "count", {}).build(), tenant_id="acme"
            )
    finally:
        await db.close()
    assert "is a superuser or has BYPASSRLS" in check(info.value, "DF-815")
