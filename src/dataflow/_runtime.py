"""Runtimes: run a workflow's nodes in order and collect their outputs.

Both runtimes raise the failing node's typed error (with ``context["node"]``); neither ever returns
an error inside the results.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import threading
import weakref
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import DataFlowError, EventLoopClosedError, NodeExecutionError, TransactionError
from ._loops import close_loop_resources
from ._nodes import Node, live_owners
from ._observe import WatchState
from ._tenancy import current_tenant, run_tenant, tenant_scope
from ._tx_metrics import WORKFLOW
from ._workflow import UNPREPARED, NodeEntry, Workflow

if TYPE_CHECKING:
    from ._executor import ExecutionContext

__all__ = ["AsyncLocalRuntime", "LocalRuntime"]

Results = dict[str, dict[str, Any]]


async def _run_workflow(workflow: Workflow, tenant_id: Any = None, ambient: str | None = None) -> tuple[Results, str]:
    if not isinstance(workflow, Workflow):
        raise TypeError(
            f"execute() takes a built Workflow (call WorkflowBuilder.build()), got {type(workflow).__name__}"
        )
    run = _Run(workflow)
    tenant = run_tenant(tenant_id, workflow.metadata, ambient)
    token = WORKFLOW.set(workflow)
    try:
        if tenant is None:
            await run.nodes(workflow.nodes)
        else:
            with tenant_scope(tenant):
                await run.nodes(workflow.nodes)
    finally:
        WORKFLOW.reset(token)
    return run.results, _run_id()


class _Run:
    """One execution of a workflow: its results and the nodes skipped so far."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.results: Results = {}
        self.skipped: set[str] = set()
        self.inactive: dict[str, frozenset[str]] = {}

    async def nodes(self, entries: list[NodeEntry]) -> None:
        """Run ``entries`` in order; a scoped node's downstream nodes run inside its scope."""
        pending = list(entries)
        while pending:
            entry = pending.pop(0)
            node = await self.node(entry)
            if node is None or not entry.node_type.scoped:
                continue
            inside = self.workflow.downstream(entry.node_id)
            block = [e for e in pending if e.node_id in inside]
            rest = [e for e in pending if e.node_id not in inside]
            # What the block needs from outside it runs first (it does not depend on the scope).
            needed = self.workflow.upstream({e.node_id for e in block})
            await self.nodes([e for e in rest if e.node_id in needed])
            pending = [e for e in rest if e.node_id not in needed]
            await self.scope(entry, node, block)

    async def scope(self, entry: NodeEntry, node: Node, block: list[NodeEntry]) -> None:
        skipped, inactive = set(self.skipped), dict(self.inactive)

        async def body() -> None:  # run again from the same state on every attempt
            self.skipped, self.inactive = set(skipped), dict(inactive)
            for inner in block:
                self.results.pop(inner.node_id, None)
            await self.nodes(block)

        contexts: dict[int, ExecutionContext] = {}
        for inner in block:
            if inner.node_type.needs_database:
                context = inner.node_type.execution_context()
                contexts[id(context)] = context
        try:
            extra = await node.run_scope(self.results[entry.node_id], body, list(contexts.values()))
        except DataFlowError as exc:
            exc.add_context(node=entry.node_id, node_type=entry.node_type.type_name)
            raise
        self.results[entry.node_id] = {**self.results[entry.node_id], **extra}

    def databases(self) -> list[ExecutionContext]:
        """What a monitoring node looks at: the bound instance, the workflow's, or every live one."""
        if self.workflow.owner is not None:
            return [self.workflow.owner.execution_context]
        return self.workflow.execution_contexts() or [owner.execution_context for owner in live_owners()]

    async def node(self, entry: NodeEntry) -> Node | None:
        """Run one node (``None`` when it is skipped)."""
        if self.skipped or self.inactive:
            reason = self.workflow.skip_reason(entry, self.skipped, self.inactive)
            if reason is not None:
                self.skipped.add(entry.node_id)
                self.results[entry.node_id] = {"skipped": True, "reason": reason}
                return None
        prepared = entry.prepared
        params = self.workflow.resolve_params(entry, self.results) if prepared is UNPREPARED else None
        node_type = entry.node_type
        node = node_type()
        if node_type.uses_databases:
            node.databases = self.databases()
        try:
            if params is None:  # static parameters, validated by build()
                output = self.results[entry.node_id] = await node.run_prepared(prepared)
            else:
                output = self.results[entry.node_id] = await node.run(params)
            if node_type.branches and (branches := node_type.inactive_outputs(output)):
                self.inactive[entry.node_id] = branches
            if WatchState.watching and node_type.needs_database:
                _watched(node_type.execution_context(), node_type, output, None)
        except DataFlowError as exc:
            if entry.node_type.needs_database:
                context = entry.node_type.execution_context()
                exc.with_enhancer(context.enhancer)
                _watched(context, entry.node_type, None, exc)
            if exc.context.get("node") == entry.node_type.type_name:
                exc.context["node"] = entry.node_id  # validation code records the type; the node is its id
            exc.add_context(node=entry.node_id, node_type=entry.node_type.type_name)
            raise
        except Warning:  # a DataFlowWarning turned into an error by -W error stays what it is
            raise
        except Exception as exc:
            raise NodeExecutionError(
                f"Node '{entry.node_id}' ({entry.node_type.type_name}) failed: {type(exc).__name__}: {exc}",
                context={"node": entry.node_id, "node_type": entry.node_type.type_name},
            ) from exc
        return node


def _watched(
    context: ExecutionContext, node_type: type[Node], output: dict[str, Any] | None, error: DataFlowError | None
) -> None:
    """Tell the instance's monitoring recorder (``dataflow.watch``) what a node did, if one watches."""
    watch = context.watch
    if watch is None:
        return
    if error is not None:
        watch.failed(error, context.current_transaction())
    elif output is not None:
        watch.node_ran(node_type.model.name, node_type.operation, output, context.current_transaction())


class _RunIds:
    """Run ids in the UUID version 4 text form: 60 random bits drawn once per process (again in a
    forked child) and a counter, instead of a system call per run. Unique within and across
    processes; not secrets."""

    _COUNTER_BITS = (1 << 62) - 1
    _VARIANT = 0b10 << 62  # RFC 4122

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        head = bytearray(os.urandom(8))
        head[6] = head[6] & 0x0F | 0x40  # version 4
        self.head = head.hex()
        start = int.from_bytes(os.urandom(8)) & self._COUNTER_BITS
        self.counter = itertools.count(start)  # next() on a count is atomic: safe across threads

    def new(self) -> str:
        return f"{self.head}{next(self.counter) & self._COUNTER_BITS | self._VARIANT:016x}"


_run_id = _RunIds().new


class AsyncLocalRuntime:
    """Runs workflows in the caller's event loop.

    Inside ``async with db.transaction():`` every node uses the transaction's connection.

    Example:
        ```python
        results, run_id = await AsyncLocalRuntime().execute_workflow_async(workflow.build())
        ```
    """

    async def execute_workflow_async(
        self, workflow: Workflow, inputs: dict[str, Any] | None = None, *, tenant_id: str | None = None
    ) -> tuple[Results, str]:
        """Run ``workflow``; return ``(results, run_id)``.

        Args:
            workflow: A built workflow.
            inputs: Not used by DataFlow's own nodes; accepted for API compatibility and must be empty.
            tenant_id: The tenant the run acts for (else ``workflow.metadata["tenant_id"]``, else the
                surrounding ``db.tenant()``); sources that disagree are DF-412.

        Raises:
            DataFlowError: the first node that fails, with ``context["node"]`` set.
        """
        if inputs:
            raise TypeError(
                "AsyncLocalRuntime.execute_workflow_async() takes no inputs; put values in node params"
            )
        return await _run_workflow(workflow, tenant_id, current_tenant())

    async def __aenter__(self) -> AsyncLocalRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def _close_runtime_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close the pools that live on the runtime's loop (whichever instance opened them), then the loop.

    Never raises.
    """
    if loop.is_closed() or loop.is_running():
        return

    async def close_pools() -> None:
        await close_loop_resources()
        await loop.shutdown_asyncgens()

    def work() -> None:
        try:
            loop.run_until_complete(close_pools())
        except Exception:  # a finalizer must not raise; pools left behind are cleaned as stale
            pass
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        work()
        return
    # Collected inside async code: this thread's loop is running, so drive ours from another thread.
    thread = threading.Thread(target=work, name="dataflow-runtime-close")
    thread.start()
    thread.join(30)


class LocalRuntime:
    """Runs workflows from synchronous code.

    Each runtime owns one event loop, reused across ``execute`` calls so pools stay warm; its pools
    are closed with it (``close()``, ``with LocalRuntime() as runtime:``, or when it is garbage
    collected), so no pool is left bound to a dead loop.

    Example:
        ```python
        results, run_id = LocalRuntime().execute(workflow.build())
        ```
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[[asyncio.AbstractEventLoop], LocalRuntime] | None = None

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise EventLoopClosedError(
                "This LocalRuntime was closed, and its event loop with it. Create a new LocalRuntime()."
            )
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._finalizer = weakref.finalize(self, _close_runtime_loop, self._loop)
        return self._loop

    def execute(
        self, workflow: Workflow, parameters: dict[str, Any] | None = None, *, tenant_id: str | None = None
    ) -> tuple[Results, str]:
        """Run ``workflow`` to completion; return ``(results, run_id)``.

        ``tenant_id`` is the tenant the run acts for (else ``workflow.metadata["tenant_id"]``, else
        the surrounding ``db.tenant()``); sources that disagree are DF-412.

        Called from inside a running event loop (async code), the workflow runs on the runtime's
        loop in a worker thread; use :class:`AsyncLocalRuntime` there instead when you can.

        Raises:
            DataFlowError: the first node that fails, with ``context["node"]`` set.
            TransactionError: DF-601, when called inside an async ``db.transaction()`` block.
        """
        if parameters:
            raise TypeError("LocalRuntime.execute() takes no parameters; put values in node params")
        if isinstance(workflow, Workflow):
            for context in workflow.execution_contexts():
                if context.current_transaction() is not None:
                    raise TransactionError(
                        "LocalRuntime.execute() was called inside an async db.transaction() block. The "
                        "transaction's connection belongs to the running event loop, so the workflow would run "
                        "outside it. Use 'await AsyncLocalRuntime().execute_workflow_async(...)' inside the block."
                    )
        ambient = current_tenant()
        with self._lock:
            loop = self._get_loop()
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return loop.run_until_complete(_run_workflow(workflow, tenant_id, ambient))
            with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dataflow-runtime") as pool:
                return pool.submit(loop.run_until_complete, _run_workflow(workflow, tenant_id, ambient)).result()

    def close(self) -> None:
        """Close the runtime's pools and its event loop. Safe to call twice."""
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> LocalRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
