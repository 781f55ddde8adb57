"""Performance: estimates from a workflow's shape, and measured node timings from a real run.

The estimate counts, per node, the SQL statements and the round trips to the database that the
node's operation takes (see the library tour for what each node does), and reports per-row work
that a bulk node does in one statement. The profile runs the workflow the way the runtimes do,
node after node (branches not taken are skipped), and times each node.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import DataFlowError, NodeExecutionError
from .._loops import close_loop_resources
from .._tenancy import current_tenant, run_tenant, tenant_scope
from .._workflow import Workflow
from ._results import Text
from ._view import NodeView, WorkflowView, split_path

__all__ = [
    "NodeEstimate",
    "NodeTiming",
    "PerformanceReport",
    "Profile",
    "estimate",
    "profile_async",
    "profile_sync",
]


@dataclass(frozen=True)
class NodeEstimate:
    """What one node costs, judged from its operation and parameters.

    Attributes:
        node_id: The node id.
        type_name: The node type.
        statements: SQL statements the node sends (None: depends on connected values).
        round_trips: Round trips to the database, transaction statements included.
        rows: Which rows it touches, in words.
    """

    node_id: str
    type_name: str
    statements: int | None
    round_trips: int | None
    rows: str

    def to_dict(self) -> dict[str, Any]:
        """The estimate as JSON-ready data."""
        return {
            "node": self.node_id,
            "type": self.type_name,
            "statements": self.statements,
            "round_trips": self.round_trips,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class PerformanceReport:
    """The estimate of a whole workflow: one :class:`NodeEstimate` per node, and hints.

    Attributes:
        nodes: The estimates, in execution order.
        hints: Work that another node (or another parameter) does with fewer statements.
    """

    nodes: tuple[NodeEstimate, ...]
    hints: tuple[str, ...]

    @property
    def statements(self) -> int:
        """The statements of every node whose count is known."""
        return sum(n.statements or 0 for n in self.nodes)

    @property
    def round_trips(self) -> int:
        """The round trips of every node whose count is known."""
        return sum(n.round_trips or 0 for n in self.nodes)

    def show(self) -> Text:
        """The estimate as a table, then the hints."""
        width_id = max([len("total"), *(len(n.node_id) for n in self.nodes)])
        width_type = max([len("type"), *(len(n.type_name) for n in self.nodes)])
        lines = [
            "Performance estimate (from the workflow's shape; nothing ran):",
            f"  {'node':<{width_id}}  {'type':<{width_type}}  statements  round trips  rows",
        ]
        for n in self.nodes:
            statements = "?" if n.statements is None else str(n.statements)
            trips = "?" if n.round_trips is None else str(n.round_trips)
            lines.append(
                f"  {n.node_id:<{width_id}}  {n.type_name:<{width_type}}  {statements:<10}  {trips:<11}  {n.rows}"
            )
        lines.append(
            f"  {'total':<{width_id}}  {'':<{width_type}}  {self.statements:<10}  {self.round_trips:<11}"
        )
        lines.append("Hints:" if self.hints else "Hints: none")
        lines += [f"  - {hint}" for hint in self.hints]
        return Text("\n".join(line.rstrip() for line in lines))

    def __str__(self) -> str:
        return self.show()

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "nodes": [n.to_dict() for n in self.nodes],
            "statements": self.statements,
            "round_trips": self.round_trips,
            "hints": list(self.hints),
        }


def _by_filter(node: NodeView, view: WorkflowView) -> bool:
    """True when a single-record Update or Delete selects its record by filter, not by id."""
    names = {node.canonical(k) for k in node.params}
    names |= {node.canonical(link.target_name) for link in view.incoming(node.node_id)}
    return "id" not in names and "filter" in names


def _column_sets(records: Any) -> int | None:
    if not isinstance(records, (list, tuple)):
        return None
    return max(1, len({tuple(r) for r in records if isinstance(r, Mapping)}))


def _estimate_node(node: NodeView, view: WorkflowView) -> NodeEstimate:
    operation = node.node_cls.operation if node.node_cls else None
    if node.node_cls is not None and not node.node_cls.needs_database:
        return NodeEstimate(node.node_id, node.type_name, 0, 0, "no SQL: evaluated in Python")
    records = node.params.get("records")
    count = len(records) if isinstance(records, (list, tuple)) else None
    if operation in ("update", "delete") and _by_filter(node, view):
        return NodeEstimate(node.node_id, node.type_name, 2, 4, "one row, looked up by filter in a transaction")
    if operation in ("bulk_create", "bulk_upsert"):
        connected = {link.target_name for link in view.incoming(node.node_id)}
        groups = _column_sets(records) if "records" not in connected else None
        rows = f"{count} rows in one transaction" if count is not None else "every record given, in one transaction"
        if groups is None:
            return NodeEstimate(node.node_id, node.type_name, None, None, rows + " (one statement per column set)")
        return NodeEstimate(node.node_id, node.type_name, groups, groups + 2, rows)
    simple = {
        "create": "one row",
        "read": "one row, by primary key",
        "update": "one row, by primary key",
        "delete": "one row, by primary key",
        "list": "every matching row" + (f" (at most {node.params['limit']})" if "limit" in node.params else ""),
        "count": "counted in the database, no rows fetched",
        "upsert": "one row (INSERT ... ON CONFLICT)",
        "bulk_update": "every matching row, one statement",
        "bulk_delete": "every matching row, one statement",
    }
    if operation in simple:
        return NodeEstimate(node.node_id, node.type_name, 1, 1, simple[operation])
    return NodeEstimate(node.node_id, node.type_name, None, None, "unknown node type")


def _hints(view: WorkflowView) -> list[str]:
    hints: list[str] = []
    sources = {link.source for link in view.links}
    groups: dict[tuple[str, str], list[NodeView]] = {}
    for node_id in view.ids:
        node = view.node(node_id)
        if node is None or node.node_cls is None:
            continue
        cls = node.node_cls
        if cls.operation in ("create", "upsert") and node_id not in sources:
            groups.setdefault((cls.model.name, cls.operation), []).append(node)
        if cls.operation == "list":
            used = [link.source_output for link in view.outgoing(node_id)]
            if used and all(split_path(path)[:1] == ["count"] for path in used):
                hints.append(
                    f"{node_id} ({node.type_name}) fetches rows but only its count is used: "
                    f"{cls.model.name}CountNode counts in the database without fetching them."
                )
        if cls.operation in ("update", "delete") and _by_filter(node, view):
            hints.append(
                f"{node_id} ({node.type_name}) selects its record by filter: a lookup and the write in a "
                f"transaction (4 round trips); by id it is one statement."
            )
    for (model, operation), nodes in groups.items():
        if len(nodes) < 2:
            continue
        bulk = "BulkCreate" if operation == "create" else "BulkUpsert"
        ids = ", ".join(n.node_id for n in nodes)
        hints.append(
            f"{len(nodes)} {model}{operation.capitalize()}Node nodes ({ids}) write one row each: one "
            f"{model}{bulk}Node with records=[...] writes them in one transaction."
        )
    return hints


def estimate(view: WorkflowView) -> PerformanceReport:
    """The performance estimate of the workflow in ``view`` (nodes in execution order)."""
    order, stuck = view.order()
    nodes = []
    for node_id in [*order, *stuck]:
        node = view.node(node_id)
        assert node is not None
        nodes.append(_estimate_node(node, view))
    return PerformanceReport(tuple(nodes), tuple(_hints(view)))


# --- measured ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeTiming:
    """How long one node took.

    Attributes:
        node_id: The node id.
        type_name: The node type.
        seconds: Wall-clock time of the node's run.
        skipped: True for a node on a branch not taken (it did not run).
    """

    node_id: str
    type_name: str
    seconds: float
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The timing as JSON-ready data (milliseconds)."""
        ms = round(self.seconds * 1000, 3)
        return {"node": self.node_id, "type": self.type_name, "ms": ms, "skipped": self.skipped}


@dataclass(frozen=True)
class Profile:
    """Measured node timings of one run.

    Attributes:
        timings: One per node, in execution order.
        results: The outputs, as the runtime returns them (``results[node_id]``).
        runtime: Where it ran: ``the running event loop`` or ``an event loop of its own``.
    """

    timings: tuple[NodeTiming, ...]
    results: dict[str, dict[str, Any]]
    runtime: str

    @property
    def total(self) -> float:
        """The sum of the node times, in seconds."""
        return sum(t.seconds for t in self.timings)

    @property
    def slowest(self) -> NodeTiming | None:
        """The node that took longest (None for an empty workflow)."""
        return max(self.timings, key=lambda t: t.seconds, default=None)

    def show(self) -> Text:
        """The timings as a table, with the total and the slowest node's share."""
        width_id = max([len("total"), *(len(t.node_id) for t in self.timings)])
        width_type = max([0, *(len(t.type_name) for t in self.timings)])
        lines = [f"Profile (on {self.runtime}):"]
        for t in self.timings:
            took = "  skipped (branch not taken)" if t.skipped else f"{t.seconds * 1000:9.2f} ms"
            lines.append(f"  {t.node_id:<{width_id}}  {t.type_name:<{width_type}}  {took}")
        lines.append(f"  {'total':<{width_id}}  {'':<{width_type}}  {self.total * 1000:9.2f} ms")
        slowest = self.slowest
        if slowest is not None and self.total > 0:
            lines.append(f"  slowest: {slowest.node_id} ({slowest.seconds / self.total:.0%} of the total)")
        return Text("\n".join(lines))

    def __str__(self) -> str:
        return self.show()

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready data (milliseconds)."""
        return {
            "runtime": self.runtime,
            "nodes": [t.to_dict() for t in self.timings],
            "total_ms": round(self.total * 1000, 3),
        }


async def _timed_run(
    workflow: Workflow, ambient: str | None = None
) -> tuple[list[NodeTiming], dict[str, dict[str, Any]]]:
    """Run ``workflow`` as the runtimes do (skipped branches and its tenant included), timing each node's ``run``."""
    with tenant_scope(run_tenant(None, workflow.metadata, ambient)):
        return await _timed_nodes(workflow)


async def _timed_nodes(workflow: Workflow) -> tuple[list[NodeTiming], dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, Any]] = {}
    timings: list[NodeTiming] = []
    skipped: set[str] = set()
    inactive: dict[str, frozenset[str]] = {}
    for entry in workflow.nodes:
        node_type = entry.node_type
        reason = workflow.skip_reason(entry, skipped, inactive) if skipped or inactive else None
        if reason is not None:
            skipped.add(entry.node_id)
            results[entry.node_id] = {"skipped": True, "reason": reason}
            timings.append(NodeTiming(entry.node_id, node_type.type_name, 0.0, skipped=True))
            continue
        params = workflow.resolve_params(entry, results)
        start = time.perf_counter()
        try:
            output = await node_type().run(params)
        except DataFlowError as exc:
            if exc.context.get("node") == node_type.type_name:
                exc.context["node"] = entry.node_id
            exc.add_context(node=entry.node_id, node_type=node_type.type_name)
            raise
        except Exception as exc:
            raise NodeExecutionError(
                f"Node '{entry.node_id}' ({node_type.type_name}) failed: {type(exc).__name__}: {exc}",
                context={"node": entry.node_id, "node_type": node_type.type_name},
            ) from exc
        timings.append(NodeTiming(entry.node_id, node_type.type_name, time.perf_counter() - start))
        results[entry.node_id] = output
        branches = node_type.inactive_outputs(output)
        if branches:
            inactive[entry.node_id] = branches
    return timings, results


async def profile_async(workflow: Workflow) -> Profile:
    """Run ``workflow`` on the running event loop, as ``AsyncLocalRuntime`` does, timing each node."""
    timings, results = await _timed_run(workflow, current_tenant())
    return Profile(tuple(timings), results, "the running event loop")


def profile_sync(workflow: Workflow) -> Profile:
    """Run ``workflow`` on an event loop of its own, as ``LocalRuntime`` does, timing each node.

    The pools the run opened on that loop are closed before the loop is (nothing is left to
    DataFlow's safety net). Called from async code, the loop runs in a worker thread.
    """

    ambient = current_tenant()

    async def main() -> tuple[list[NodeTiming], dict[str, dict[str, Any]]]:
        try:
            return await _timed_run(workflow, ambient)
        finally:
            await close_loop_resources()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        timings, results = asyncio.run(main())
    else:
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dataflow-profile") as pool:
            timings, results = pool.submit(asyncio.run, main()).result()
    return Profile(tuple(timings), results, "an event loop of its own")
