"""Performance: estimates from a workflow's shape, and measured node timings from a real run.

The estimate counts, per node, the SQL statements and the round trips to the database that the
node's operation takes (see the library tour for what each node does), and reports per-row work
that a bulk node does in one statement. The profile runs the workflow node by node through a
runtime and times each node.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConnectionPathError
from .._workflow import Workflow, WorkflowBuilder
from ._results import Text
from ._view import NodeView, WorkflowView, split_path

if TYPE_CHECKING:
    from .._runtime import AsyncLocalRuntime, LocalRuntime

__all__ = ["NodeEstimate", "NodeTiming", "PerformanceReport", "Profile", "estimate", "profile_async", "profile_sync"]


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
    """

    node_id: str
    type_name: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The timing as JSON-ready data (milliseconds)."""
        return {"node": self.node_id, "type": self.type_name, "ms": round(self.seconds * 1000, 3)}


@dataclass(frozen=True)
class Profile:
    """Measured node timings of one run.

    Attributes:
        timings: One per node, in execution order.
        results: The outputs, as the runtime returns them (``results[node_id]``).
        runtime: The runtime's class name.
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
        lines = [f"Profile ({self.runtime}, each node timed on its own):"]
        for t in self.timings:
            lines.append(f"  {t.node_id:<{width_id}}  {t.type_name:<{width_type}}  {t.seconds * 1000:9.2f} ms")
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


def _get(output: Any, path: str, source: str, target: str) -> Any:
    value = output
    for part in split_path(path):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            found = list(value) if isinstance(value, Mapping) else f"a {type(value).__name__}"
            raise ConnectionPathError(
                f"Connection {source}.{path} -> {target}: '{part}' is not in the output of '{source}' "
                f"(found: {found}).",
                context={"node": target, "source": source, "path": path},
            )
    return value


def _set(params: dict[str, Any], path: str, value: Any) -> None:
    parts = split_path(path)
    target = params
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


def _steps(workflow: Workflow) -> list[tuple[str, Any, str, list[Any]]]:
    steps = []
    for entry in workflow.nodes:
        incoming = [c for c in workflow.connections if c.target == entry.node_id]
        steps.append((entry.node_id, entry.node_type, entry.node_type.type_name, incoming))
    return steps


def _single(workflow: Workflow, node_id: str, node_type: Any, incoming: list[Any], results: dict[str, Any]) -> Workflow:
    """A one-node workflow with the node's connected parameters filled in from earlier results."""
    params = next(copy.deepcopy(dict(e.params)) for e in workflow.nodes if e.node_id == node_id)
    for conn in incoming:
        _set(params, conn.target_param, _get(results[conn.source], conn.source_output, conn.source, node_id))
    return WorkflowBuilder().add_node(node_type, node_id, params).build()


def profile_sync(workflow: Workflow, runtime: LocalRuntime | None) -> Profile:
    """Run ``workflow`` node by node on ``runtime`` (a new LocalRuntime when None) and time each node."""
    from .._runtime import LocalRuntime

    owned = runtime is None
    rt = runtime if runtime is not None else LocalRuntime()
    results: dict[str, Any] = {}
    timings = []
    try:
        for node_id, node_type, type_name, incoming in _steps(workflow):
            single = _single(workflow, node_id, node_type, incoming, results)
            start = time.perf_counter()
            out, _run_id = rt.execute(single)
            timings.append(NodeTiming(node_id, type_name, time.perf_counter() - start))
            results[node_id] = out[node_id]
    finally:
        if owned:
            rt.close()
    return Profile(tuple(timings), results, "LocalRuntime")


async def profile_async(workflow: Workflow, runtime: AsyncLocalRuntime | None) -> Profile:
    """Run ``workflow`` node by node on the running loop and time each node."""
    from .._runtime import AsyncLocalRuntime

    rt = runtime if runtime is not None else AsyncLocalRuntime()
    results: dict[str, Any] = {}
    timings = []
    for node_id, node_type, type_name, incoming in _steps(workflow):
        single = _single(workflow, node_id, node_type, incoming, results)
        start = time.perf_counter()
        out, _run_id = await rt.execute_workflow_async(single)
        timings.append(NodeTiming(node_id, type_name, time.perf_counter() - start))
        results[node_id] = out[node_id]
    return Profile(tuple(timings), results, "AsyncLocalRuntime")
