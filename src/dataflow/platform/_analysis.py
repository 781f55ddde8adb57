"""The Inspector's analysis of one workflow view: connection types, parameter issues, traces, chains.

Every function takes a :class:`~dataflow.platform._view.WorkflowView` (and a node or connection of
it) and returns results; none raises for a mistake in the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from .._errors import DataFlowError, UnknownNodeIdError
from .._nodes import Node
from .._types import FieldType
from ._results import ChainList, ConnectionChain, ConnectionInfo, Issue, type_label, type_word
from ._signature import NodeInfo, OutputInfo, ParameterInfo
from ._traces import ParameterLineage, ParameterSource, ParameterTrace
from ._view import Link, NodeView, WorkflowView, split_path

__all__ = [
    "chains",
    "compatibility",
    "connection_info",
    "find_node",
    "lineage",
    "link_issues",
    "node_info",
    "param_issue",
    "short",
    "trace",
]

_MAX_CHAINS = 100


def compatibility(source: FieldType, target: FieldType) -> str:
    """``"ok"``, ``"maybe"`` (a string the target may parse) or ``"no"``: can a value move across?"""
    if source is target:
        return "ok"
    if target is FieldType.JSON:
        return "ok" if source in (FieldType.STR, FieldType.INT, FieldType.FLOAT, FieldType.BOOL) else "no"
    if target is FieldType.FLOAT and source is FieldType.INT:
        return "ok"
    if target is FieldType.DECIMAL and source in (FieldType.INT, FieldType.FLOAT):
        return "ok"
    if target in (FieldType.DECIMAL, FieldType.DATETIME, FieldType.DATE) and source is FieldType.STR:
        return "maybe"
    return "no"


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def find_node(view: WorkflowView, node_id: str) -> NodeView:
    """The node with id ``node_id``; DF-409 (with the closest id) when the workflow has none."""
    node = view.node(node_id)
    if node is None:
        hint = get_close_matches(str(node_id), view.ids, n=1)
        raise UnknownNodeIdError(
            f"Node {node_id!r} is not in this workflow"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f". Nodes: {', '.join(view.ids) or 'none'}.",
            context={"node": node_id},
        )
    return node


def connection_info(view: WorkflowView, link: Link) -> ConnectionInfo:
    """The connection with the field types at both ends (None where unknown)."""
    source, target = view.node(link.source), view.node(link.target)
    source_type = view.output_type(source, link.source_output)[0] if source else None
    target_type = view.param_type(target, link.target_param) if target else None
    return ConnectionInfo.of(link, source_type, target_type)


def param_issue(node: NodeView, name: str, value: Any, *, connected: bool) -> Issue | None:
    """The error ``build()`` raises for parameter ``name`` of ``node``, or None when it takes it.

    When the name is a field of the node's model, the issue suggests the parameter that takes
    field values (``filter.user_id``).
    """
    cls = node.node_cls
    if cls is None or node.canonical(name) is not None:
        return None
    try:
        if connected:
            cls.validate({}, {name})
        else:
            cls.validate({name: value}, set())
    except DataFlowError as exc:
        details: tuple[str, ...] = ()
        model = node.model
        if model is not None and name in model.fields and "did you mean" not in exc.detail:
            for holder in ("filter", "fields"):
                if node.canonical(holder) is not None:
                    details = (
                        f"did you mean '{holder}.{name}'? {name} is a field of {model.name}: "
                        f"pass it as {{'{holder}': {{'{name}': ...}}}}",
                    )
                    break
        return Issue(exc.code, exc.detail, details, node=node.node_id)
    return None


def _missing_end(view: WorkflowView, link: Link) -> list[Issue]:
    issues = []
    for end, role in ((link.source, "source"), (link.target, "target")):
        if view.node(end) is None:
            hint = get_close_matches(str(end), view.ids, n=1)
            issues.append(
                Issue(
                    "DF-404",
                    f"Connection {link} names {role} node '{end}', which is not in the workflow"
                    + (f" (did you mean '{hint[0]}'?)" if hint else "")
                    + f". Nodes: {', '.join(view.ids) or 'none'}.",
                    node=end,
                    connection=str(link),
                )
            )
    return issues


def _type_issue(link: Link, source_type: FieldType, target_type: FieldType) -> Issue | None:
    verdict = compatibility(source_type, target_type)
    if verdict == "ok":
        return None
    details = (
        f"{link.source_label} outputs: {type_label(source_type)}",
        f"{link.target_label} expects: {type_label(target_type)}",
    )
    if verdict == "no":
        return Issue("DF-103", f"Connection {link} has type mismatch", details, node=link.target, connection=str(link))
    return Issue(
        "DF-103",
        f"Connection {link} passes a string that must parse as {type_label(target_type)}",
        details,
        severity="warning",
        node=link.target,
        connection=str(link),
    )


def link_issues(view: WorkflowView, link: Link, *, include_types: bool = True) -> list[Issue]:
    """What is wrong with one connection: a missing node (DF-404), an output the source does not
    have (DF-405), a type that does not fit (DF-103), a parameter the target does not take (DF-105)."""
    issues = _missing_end(view, link)
    if issues:
        return issues
    source, target = view.node(link.source), view.node(link.target)
    assert source is not None and target is not None
    source_type, problem = view.output_type(source, link.source_output)
    if problem is not None:
        outputs = [o.name for o in source.spec.outputs] if source.spec else []
        first = split_path(link.source_output)[0]
        hint = get_close_matches(first, outputs, n=1) if first not in outputs else []
        issues.append(
            Issue(
                "DF-405",
                f"Connection {link}: {problem}"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
                + "; the run fails when it reads the output.",
                node=link.source,
                connection=str(link),
            )
        )
    if link.trigger:
        return issues  # passes no value: only the source's output path matters
    target_type = view.param_type(target, link.target_param)
    if include_types and source_type is not None and target_type is not None:
        mismatch = _type_issue(link, source_type, target_type)
        if mismatch is not None:
            issues.append(mismatch)
    unknown = param_issue(target, link.target_name, None, connected=True)
    if unknown is not None:
        issues.append(
            Issue(unknown.code, f"Connection {link}: {unknown.message}", unknown.details, node=link.target,
                  connection=str(link))
        )
    return issues


def _value_at(params: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = params
    for part in split_path(path):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def _overlaps(a: str, b: str) -> bool:
    pa, pb = split_path(a), split_path(b)
    n = min(len(pa), len(pb))
    return pa[:n] == pb[:n]


def _static(node: NodeView, param: str) -> tuple[bool, Any]:
    """The static value at ``param``, also under another spelling of the parameter (filters/filter)."""
    present, value = _value_at(node.params, param)
    parts = split_path(param)
    if not present and parts and node.canonical(parts[0]) is not None:
        for key in node.params:
            if node.canonical(key) == node.canonical(parts[0]):
                present, value = _value_at(node.params, ".".join([key, *parts[1:]]))
    return present, value


def trace(view: WorkflowView, node: NodeView, param: str) -> ParameterTrace:
    """Where ``node``'s parameter ``param`` gets its value (see ``Inspector.trace_parameter``)."""
    parts = split_path(param)
    sources: list[ParameterSource] = []
    overridden = False
    for link in view.incoming(node.node_id):
        if not _overlaps(link.target_param, param):
            continue
        info = connection_info(view, link)
        word = type_word(info.source_type)
        text = link.source_label + (f" ({word})" if word else "")
        target = ".".join(split_path(link.target_param))
        if target != ".".join(parts):
            text = f"{target} ← {text}"
        if len(split_path(link.target_param)) <= len(parts):
            overridden = True  # the connection replaces any static value at this path
        sources.append(ParameterSource("connection", text, connection=info))
    present, value = _static(node, param)
    if present and not overridden:
        sources.insert(0, ParameterSource("static", f"static value {short(value)}", value=value))
    if not sources:
        name = node.canonical(parts[0]) if parts else None
        required = node.spec is not None and name in node.spec.required and len(parts) == 1
        sources.append(ParameterSource("unset", "not set (required)" if required else "not set"))
    issues: list[Issue] = []
    first = parts[0] if parts else param
    connected = any(link.target_name == first for link in view.incoming(node.node_id))
    issue = param_issue(node, first, node.params.get(first), connected=connected and first not in node.params)
    if issue is not None:
        issues.append(issue)
    return ParameterTrace(node.node_id, param, tuple(sources), view.param_type(node, param), tuple(issues))


def lineage(view: WorkflowView, node: NodeView) -> ParameterLineage:
    """Every parameter of ``node`` with its sources, then the names it gets but does not take."""
    names: list[str] = [p.name for p in node.spec.params] if node.spec else []
    for name in [*node.params, *(link.target_name for link in view.incoming(node.node_id))]:
        canonical = node.canonical(name)
        if canonical is None and name not in names:
            names.append(name)
        elif canonical is not None and canonical != name and name not in names and canonical in names:
            names[names.index(canonical)] = name  # show the spelling the workflow uses
    return ParameterLineage(node.node_id, node.type_name, tuple(trace(view, node, name) for name in names))


def chains(view: WorkflowView, node_id: str | None, param: str | None) -> ChainList:
    """The chains of connections into ``node_id`` (all root-to-leaf chains when None)."""
    links = view.valid_links()
    into: dict[str, list[Link]] = {}
    for link in links:
        into.setdefault(link.target, []).append(link)
    found = ChainList()

    def walk(current: str, path: list[Link], visited: frozenset[str]) -> None:
        if len(found) >= _MAX_CHAINS:
            return
        options = into.get(current, [])
        if not path and param is not None:
            options = [link for link in options if _overlaps(link.target_param, param)]
        options = [link for link in options if link.source not in visited]
        if not options:
            if path:
                hops = list(reversed(path))
                nodes = (hops[0].source, *(h.target for h in hops))
                found.append(ConnectionChain(nodes, tuple(connection_info(view, h) for h in hops)))
            return
        for link in options:
            walk(link.source, [*path, link], visited | {link.source})

    if node_id is not None:
        walk(node_id, [], frozenset({node_id}))
    else:
        sources = {link.source for link in links}
        for end in view.ids:
            if end in into and end not in sources:
                walk(end, [], frozenset({end}))
    return found


def node_info(view: WorkflowView | None, node: NodeView | None, cls: type[Node] | None) -> NodeInfo:
    """The signature of ``cls`` with what the workflow gives ``node`` (either may be missing)."""
    if cls is None:
        assert node is not None
        issues = (Issue.from_error(node.error, node=node.node_id),) if node.error else ()
        return NodeInfo(
            node.type_name, None, None, node_id=node.node_id, static=dict(node.params), issues=issues, resolved=False
        )
    spec = cls.spec
    params = tuple(ParameterInfo(p.name, p.description, p.required, p.aliases, p.field_type) for p in spec.params)
    outputs = tuple(OutputInfo(o.name, o.description, o.field_type, o.aliases) for o in spec.outputs)
    connected: tuple[str, ...] = ()
    if view is not None and node is not None:
        connected = tuple(".".join(split_path(link.target_param)) for link in view.incoming(node.node_id))
    return NodeInfo(
        cls.type_name,
        cls.model.name if cls.needs_database else None,
        cls.operation,
        params,
        outputs,
        node_id=node.node_id if node else None,
        static=dict(node.params) if node else {},
        connected=connected,
    )
