"""The Inspector: look inside a workflow before (and after) you run it.

```python
from dataflow.platform.inspector import Inspector

inspector = Inspector(workflow)  # a WorkflowBuilder (before build()) or a built Workflow
print(inspector.connections())
print(inspector.trace_parameter("list", "user_id").show())
validation = inspector.validate_connections()
```

The Inspector never raises for a mistake in the workflow: it reports it, with the DF- code that
``build()`` or the runtime would raise and its link. It raises only when asked about a node id the
workflow does not have (``UnknownNodeIdError``, DF-409). On a builder it reads the nodes and
connections each time a method is called, so it sees what was added since.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .._nodes import Node
from .._workflow import Workflow, WorkflowBuilder
from ._analysis import chains, connection_info, find_node, lineage, link_issues, node_info, short, trace
from ._checks import (
    connection_issues,
    dependencies,
    execution_order_text,
    parameter_flow_text,
    signature_issues,
    structure_issues,
    workflow_text,
)
from ._perf import PerformanceReport, Profile, estimate, profile_async, profile_sync
from ._results import ChainList, ConnectionList, CycleList, DependencyMap, Issue, Text
from ._signature import NodeInfo, NodeList
from ._traces import ParameterLineage, ParameterTrace, ValidationResult
from ._view import WorkflowView, split_path

__all__ = ["Inspector"]


class Inspector:
    """Inspect a workflow: its connections, parameters, validity, shape and measured timings.

    Args:
        workflow: A :class:`~dataflow.WorkflowBuilder` (before ``build()``, when you debug) or a
            built :class:`~dataflow.Workflow`.

    The methods come in six groups: connections, parameters, validation, visual, performance and
    nodes. Every result prints as plain text and has ``to_dict()`` for JSON.

    Example:
        ```python
        inspector = Inspector(workflow)
        validation = inspector.validate_connections()
        if not validation["is_valid"]:
            for error in validation["errors"]:
                print(f"ERROR: {error}")
        ```
    """

    def __init__(self, workflow: WorkflowBuilder | Workflow) -> None:
        if not isinstance(workflow, (WorkflowBuilder, Workflow)):
            raise TypeError(f"Inspector takes a WorkflowBuilder or a built Workflow, got {type(workflow).__name__}")
        self.workflow = workflow

    def __repr__(self) -> str:
        view = self._view()
        kind = "built workflow" if view.built else "builder"
        nodes, links = len(view.nodes), len(view.links)
        return f"<Inspector of a {kind}: {nodes} node{'s' * (nodes != 1)}, {links} connection{'s' * (links != 1)}>"

    def _view(self) -> WorkflowView:
        return WorkflowView(self.workflow)

    # --- connections ---------------------------------------------------------------------------

    def connections(self) -> ConnectionList:
        """Every connection, in the order it was added; prints ``Found 1 connection: read.id → list.user_id``."""
        view = self._view()
        return ConnectionList(connection_info(view, link) for link in view.links)

    def connections_to(self, node_id: str) -> ConnectionList:
        """The connections into ``node_id``."""
        view = self._view()
        find_node(view, node_id)
        return ConnectionList(connection_info(view, link) for link in view.incoming(node_id, triggers=True))

    def connections_from(self, node_id: str) -> ConnectionList:
        """The connections out of ``node_id``."""
        view = self._view()
        find_node(view, node_id)
        return ConnectionList(connection_info(view, link) for link in view.outgoing(node_id))

    def broken_connections(self) -> ConnectionList:
        """Connections that cannot work: a missing source or target node (DF-404), a parameter the
        target does not take (DF-105), an output the source does not have (DF-405)."""
        view = self._view()
        broken = ConnectionList(what="broken connection")
        for link in view.links:
            issues = link_issues(view, link, include_types=False)
            if issues:
                broken.append(replace(connection_info(view, link), issues=tuple(issues)))
        return broken

    def trace_connection_chain(self, node_id: str | None = None, param: str | None = None) -> ChainList:
        """The chains of connections that lead to ``node_id`` (only through ``param`` when given).

        Without arguments: every chain from a node nothing feeds to a node that feeds nothing.
        """
        view = self._view()
        if node_id is not None:
            find_node(view, node_id)
        return chains(view, node_id, param)

    def find_connection_cycles(self) -> CycleList:
        """Every cycle the connections form (``build()`` raises DF-403 for them)."""
        return CycleList(self._view().cycles())

    def isolated_nodes(self) -> list[str]:
        """Nodes with no connection in or out (they run in the order they were added)."""
        view = self._view()
        linked = {n for link in view.valid_links() for n in (link.source, link.target)}
        return [n for n in view.ids if n not in linked]

    # --- parameters ----------------------------------------------------------------------------

    def trace_parameter(self, node_id: str, param: str) -> ParameterTrace:
        """Where ``node_id``'s parameter ``param`` (a name or a path such as ``filter.user_id``) gets
        its value: the connections into it, its static value, or nothing.

        ``trace.show()`` is the trace as a tree; ``trace.issues`` holds the error ``build()`` raises
        when the node does not take the parameter (DF-105, with a "did you mean").
        """
        view = self._view()
        return trace(view, find_node(view, node_id), param)

    def parameter_lineage(self, node_id: str) -> ParameterLineage:
        """Every parameter ``node_id`` takes with its sources, then the names it gets but does not take."""
        view = self._view()
        return lineage(view, find_node(view, node_id))

    def parameter_dependencies(self) -> DependencyMap:
        """Each node -> the nodes whose outputs it takes, in execution order."""
        return dependencies(self._view())

    def static_parameters(self, node_id: str) -> dict[str, Any]:
        """The parameters given to ``add_node`` for ``node_id`` (a copy)."""
        return dict(find_node(self._view(), node_id).params)

    def connected_parameters(self, node_id: str) -> dict[str, list[str]]:
        """Parameter path -> the outputs connected to it (``{"user_id": ["read.id"]}``)."""
        view = self._view()
        find_node(view, node_id)
        result: dict[str, list[str]] = {}
        for link in view.incoming(node_id):
            result.setdefault(".".join(split_path(link.target_param)), []).append(link.source_label)
        return result

    def missing_parameters(self, node_id: str | None = None) -> dict[str, list[str]]:
        """Required parameters neither given nor connected, per node (``build()`` fails on them)."""
        view = self._view()
        nodes = [find_node(view, node_id)] if node_id is not None else [view.node(n) for n in view.ids]
        result: dict[str, list[str]] = {}
        for node in nodes:
            if node is None or node.spec is None:
                continue
            have = {node.canonical(k) for k in node.params}
            have |= {node.canonical(link.target_name) for link in view.incoming(node.node_id)}
            missing = [name for name in node.spec.required if name not in have]
            if missing:
                result[node.node_id] = missing
        return result

    # --- validation ----------------------------------------------------------------------------

    def validate_connections(self) -> ValidationResult:
        """Check every connection before running: both nodes exist (DF-404), the target takes the
        parameter (DF-105, with a "did you mean"), the source has the output (DF-405), and the types
        at both ends fit (DF-103; a string that must parse as a date or number is a warning).

        Returns:
            ``{"is_valid": bool, "errors": [Issue, ...], "warnings": [Issue, ...]}``.
        """
        return connection_issues(self._view())

    def validate_workflow_structure(self) -> ValidationResult:
        """Check the workflow as a whole: unknown node types (DF-401, DF-407), duplicate ids (DF-402),
        connections to missing nodes (DF-404) and cycles (DF-403)."""
        return structure_issues(self._view())

    def validate_node_signatures(self) -> ValidationResult:
        """Check each node's parameters as ``build()`` does: every name the node does not take
        (DF-105, DF-102 for a Create node's fields), then the first invalid value (DF-101, DF-103,
        DF-105, DF-2xx, DF-305)."""
        return signature_issues(self._view())

    def validate(self) -> ValidationResult:
        """Everything: structure, node signatures and connections, each issue once."""
        view = self._view()
        seen: set[tuple[str, str]] = set()
        issues: list[Issue] = []
        for result in (structure_issues(view), signature_issues(view), connection_issues(view)):
            for issue in result.issues:
                if (issue.code, issue.message) not in seen:
                    seen.add((issue.code, issue.message))
                    issues.append(issue)
        return ValidationResult(issues)

    def is_valid(self) -> bool:
        """True when :meth:`validate` finds no error (warnings do not count)."""
        return self.validate().is_valid

    # --- visual --------------------------------------------------------------------------------

    def show(self) -> Text:
        """The workflow as text: each node in execution order with its static and connected inputs."""
        return workflow_text(self._view())

    def show_execution_order(self) -> Text:
        """The order in which the runtime runs the nodes, and what each one waits for."""
        return execution_order_text(self._view())

    def show_parameter_flow(self) -> Text:
        """Every connection with the type at each end, grouped by the node it feeds."""
        return parameter_flow_text(self._view())

    def show_node(self, node_id: str) -> Text:
        """One node's signature, with what this workflow gives it."""
        info = self.node(node_id)
        lines = [str(info.show())]
        if info.static:
            lines.append("  given: " + ", ".join(f"{k}={short(v)}" for k, v in info.static.items()))
        if info.connected:
            lines.append("  connected: " + ", ".join(info.connected))
        return Text("\n".join(lines))

    # --- performance ---------------------------------------------------------------------------

    def estimate_performance(self) -> PerformanceReport:
        """Statements and round trips per node, from the workflow's shape (nothing runs), with hints."""
        return estimate(self._view())

    def find_bottlenecks(self) -> list[str]:
        """The hints of :meth:`estimate_performance`: per-row work a bulk node does in one
        transaction, a List node used only to count, a filter where an id would do."""
        return list(self.estimate_performance().hints)

    def profile(self) -> Profile:
        """Run the workflow for real and time each node, from synchronous code.

        The nodes run one after the other, as ``LocalRuntime`` runs them, on an event loop of their
        own whose pools are closed afterwards. The workflow must build, and it writes what it writes
        in any other run. ``profile.results`` holds the outputs, as a runtime returns them.
        """
        return profile_sync(self._built())

    async def profile_async(self) -> Profile:
        """:meth:`profile` in async code: the nodes run on the running event loop, as
        ``AsyncLocalRuntime`` runs them (inside ``db.transaction()`` they use its connection)."""
        return await profile_async(self._built())

    def _built(self) -> Workflow:
        return self.workflow if isinstance(self.workflow, Workflow) else self.workflow.build()

    # --- nodes ---------------------------------------------------------------------------------

    def nodes(self) -> NodeList:
        """Every node (the first of each id) with its type, model and operation."""
        view = self._view()
        result = NodeList()
        for node_id in view.ids:
            node = view.node(node_id)
            assert node is not None
            result.append(node_info(view, node, node.node_cls))
        return result

    def node(self, node_id: str) -> NodeInfo:
        """One node: its type's parameters and outputs, and its static and connected parameters."""
        view = self._view()
        node = find_node(view, node_id)
        return node_info(view, node, node.node_cls)

    def node_signature(self, node: str | type[Node]) -> NodeInfo:
        """The parameters and outputs of a node of this workflow (by id), or of a node type (by name
        or class), without the workflow's values."""
        if isinstance(node, type) and issubclass(node, Node):
            return node_info(None, None, node)
        view = self._view()
        found = view.node(node)
        if found is not None:
            return node_info(None, None, found.node_cls) if found.node_cls else node_info(view, found, None)
        builder = self.workflow if isinstance(self.workflow, WorkflowBuilder) else WorkflowBuilder()
        return node_info(None, None, builder.resolve_node_type(node, "?"))

    def execution_order(self) -> list[str]:
        """Node ids in the order the runtime runs them (nodes in a cycle last, in the order added)."""
        order, stuck = self._view().order()
        return [*order, *stuck]
