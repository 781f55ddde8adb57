"""The Inspector's validation and its plain-text pictures of a workflow."""

from __future__ import annotations

from typing import Any

from .._errors import DataFlowError
from ._analysis import compatibility, connection_info, link_issues, param_issue, short
from ._results import DependencyMap, Issue, Text, type_word
from ._traces import ValidationResult
from ._view import WorkflowView, split_path

__all__ = [
    "connection_issues",
    "dependencies",
    "execution_order_text",
    "parameter_flow_text",
    "signature_issues",
    "structure_issues",
    "workflow_text",
]


def connection_issues(view: WorkflowView) -> ValidationResult:
    """Every connection's issues (see ``Inspector.validate_connections``)."""
    return ValidationResult(issue for link in view.links for issue in link_issues(view, link))


def structure_issues(view: WorkflowView) -> ValidationResult:
    """Unknown node types (DF-401, DF-407), duplicate ids (DF-402), missing nodes (DF-404), cycles (DF-403)."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for node in view.nodes:
        if node.error is not None:
            issues.append(Issue.from_error(node.error, node=node.node_id))
        if node.node_id in seen:
            message = f"Node id '{node.node_id}' is used twice in this workflow."
            issues.append(Issue("DF-402", message, node=node.node_id))
        seen.add(node.node_id)
    for link in view.links:
        issues += [i for i in link_issues(view, link, include_types=False) if i.code == "DF-404"]
    for cycle in view.cycles():
        issues.append(
            Issue(
                "DF-403",
                f"The connections between {', '.join(repr(n) for n in cycle[:-1])} form a cycle: {' → '.join(cycle)}.",
                node=cycle[0],
            )
        )
    return ValidationResult(issues)


def signature_issues(view: WorkflowView) -> ValidationResult:
    """Each node's parameters checked as ``build()`` checks them (see ``Inspector.validate_node_signatures``)."""
    issues: list[Issue] = []
    for node_id in view.ids:
        node = view.node(node_id)
        assert node is not None
        cls = node.node_cls
        if cls is None:
            continue
        known: dict[str, Any] = {}
        for name, value in node.params.items():
            issue = param_issue(node, name, value, connected=False)
            if issue is None:
                known[name] = value
            else:
                issues.append(issue)
        connected = {link.target_name for link in view.incoming(node_id)}
        sources: dict[str, list[str]] = {}
        for link in view.incoming(node_id, triggers=True):
            sources.setdefault(link.target_name, []).append(link.source)
        try:
            cls.validate(known, {name for name in connected if node.canonical(name) is not None})
            cls.validate_sources(known, sources)
        except DataFlowError as exc:
            issues.append(Issue.from_error(exc, node=node_id))
    return ValidationResult(issues)


def dependencies(view: WorkflowView) -> DependencyMap:
    """Each node -> the nodes whose outputs it takes, in execution order."""
    order, stuck = view.order()
    result = DependencyMap()
    for node_id in [*order, *stuck]:
        deps: list[str] = []
        for link in view.incoming(node_id, triggers=True):
            if link.source in view.ids and link.source not in deps:
                deps.append(link.source)
        result[node_id] = deps
    return result


def workflow_text(view: WorkflowView) -> Text:
    """Each node in execution order with its static and connected inputs."""
    order, stuck = view.order()
    nodes, links = len(view.ids), len(view.links)
    lines = [f"Workflow: {nodes} node{'s' * (nodes != 1)}, {links} connection{'s' * (links != 1)}"]
    for node_id in [*order, *stuck]:
        node = view.node(node_id)
        assert node is not None
        lines.append(node.label + ("  [in a cycle: DF-403]" if node_id in stuck else ""))
        lines += [f"    {name} = {short(value)}" for name, value in node.params.items()]
        for link in view.incoming(node_id, triggers=True):
            if link.trigger:
                lines.append(f"    runs after {link.source_label} (trigger)")
            else:
                lines.append(f"    {'.'.join(split_path(link.target_param))} ← {link.source_label}")
    return Text("\n".join(lines))


def execution_order_text(view: WorkflowView) -> Text:
    """The run order, with what each node waits for."""
    order, stuck = view.order()
    deps = dependencies(view)
    lines = ["Execution order:"]
    for index, node_id in enumerate(order, start=1):
        node = view.node(node_id)
        assert node is not None
        after = f", after {', '.join(deps[node_id])}" if deps.get(node_id) else ""
        lines.append(f"{index}. {node.label}{after}")
    if stuck:
        lines.append(f"not run: {', '.join(stuck)} (the connections form a cycle: DF-403)")
    return Text("\n".join(lines))


def parameter_flow_text(view: WorkflowView) -> Text:
    """Every connection with the type at each end, grouped by the node it feeds."""
    order, stuck = view.order()
    lines = ["Parameter flow:"]
    for node_id in [*order, *stuck]:
        for link in view.incoming(node_id, triggers=True):
            if link.trigger:
                lines.append(f"{link}")
                continue
            info = connection_info(view, link)
            left = link.source_label + (f" ({type_word(info.source_type)})" if info.source_type else "")
            right = link.target_label + (f" ({type_word(info.target_type)})" if info.target_type else "")
            mark = ""
            if info.source_type and info.target_type and compatibility(info.source_type, info.target_type) == "no":
                mark = "  [type mismatch: DF-103]"
            lines.append(f"{left} → {right}{mark}")
    lines += [f"{link}  [unknown node: DF-404]" for link in view.links if link not in view.valid_links()]
    if len(lines) == 1:
        lines.append("no connections")
    return Text("\n".join(lines))
