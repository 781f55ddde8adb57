"""Workflows: nodes plus connections that feed one node's output into another node's parameters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from ._errors import (
    ConnectionPathError,
    DanglingConnectionError,
    DataFlowError,
    DuplicateNodeIdError,
    InvalidParameterError,
    WorkflowCycleError,
)
from ._nodes import Node, NodeOwner, resolve_node_type
from ._param_copy import copy_params

if TYPE_CHECKING:
    from ._executor import ExecutionContext

__all__ = [
    "TRIGGER",
    "UNPREPARED",
    "Connection",
    "execution_order",
    "NodeEntry",
    "PendingNode",
    "Workflow",
    "WorkflowBuilder",
]

#: A connection into this parameter name only orders and gates the target (it runs after the
#: source, and not at all when the source's output is a branch not taken); no value is passed.
TRIGGER = "trigger"


class Connection(NamedTuple):
    """``source``'s output at ``source_path`` feeds ``target``'s parameter at ``target_path``."""

    source: str
    source_path: str
    target: str
    target_path: str

    @property
    def source_output(self) -> str:
        """The source path (``"record.id"``), as ``add_connection`` took it."""
        return self.source_path

    @property
    def target_param(self) -> str:
        """The target parameter path (``"filter.user_id"``), as ``add_connection`` took it."""
        return self.target_path

    @property
    def target_name(self) -> str:
        """The top-level parameter the connection fills (``"filter"`` for ``"filter.user_id"``)."""
        return _split(self.target_path)[0]


# PendingNode and NodeEntry are named tuples rather than frozen dataclasses: one of each is made per
# node of every workflow built, and a tuple is several times cheaper to make (both stay immutable).


class PendingNode(NamedTuple):
    """A node as added to a builder: its type is resolved at ``build()``."""

    node_id: str
    node_type: str | type[Node]
    params: dict[str, Any]


#: ``NodeEntry.prepared`` of a node whose parameters are filled in by connections at run time.
UNPREPARED: Any = object()
#: What ``build()`` passes for a node no connection feeds (shared, never changed).
_NOTHING_FILLED: frozenset[str] = frozenset()
_NO_SOURCES: Mapping[str, list[str]] = MappingProxyType({})


class NodeEntry(NamedTuple):
    """A node of a built workflow.

    ``prepared`` is what ``node_type.prepare()`` returned at ``build()`` for a node whose
    parameters are all static (no connection fills one): the runtime runs it without validating
    the same values again. It is :data:`UNPREPARED` otherwise.
    """

    node_id: str
    node_type: type[Node]
    params: dict[str, Any]
    prepared: Any = UNPREPARED

    def __repr__(self) -> str:  # ``prepared`` is derived from ``params``: left out, as before
        return f"NodeEntry(node_id={self.node_id!r}, node_type={self.node_type!r}, params={self.params!r})"


class Workflow:
    """A validated, immutable workflow: nodes in execution order plus their connections.

    Build one with :meth:`WorkflowBuilder.build`; run it with a runtime.
    """

    def __init__(
        self, nodes: list[NodeEntry], connections: list[Connection], name: str | None = None,
        owner: NodeOwner | None = None, metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.nodes = nodes
        #: The builder's ``metadata`` when it was built (``"tenant_id"``: the tenant of every run).
        self.metadata: dict[str, Any] = dict(metadata or {})
        #: The instance of the builder (``db.workflow()``), if it was bound.
        self.owner = owner
        self.connections = connections
        #: The name given to ``build(name=...)``; metrics group the workflow's transactions by :attr:`label`.
        self.name = name
        self._nodes_label: str | None = None
        self._types = {entry.node_id: entry.node_type for entry in nodes} if connections else {}
        self._incoming: dict[str, list[Connection]] = {}
        for conn in connections:
            self._incoming.setdefault(conn.target, []).append(conn)

    def skip_reason(
        self, entry: NodeEntry, skipped: set[str], inactive: Mapping[str, frozenset[str]]
    ) -> str | None:
        """Why ``entry`` must not run: a source was skipped, or feeds it from a branch not taken."""
        for conn in self._incoming.get(entry.node_id, ()):
            if conn.source in skipped:
                return f"'{conn.source}' was skipped"
            branch = _split(conn.source_path)[:1]
            if branch and branch[0] in inactive.get(conn.source, frozenset()):
                return f"'{conn.source}.{branch[0]}' is the branch not taken"
        return None

    @property
    def label(self) -> str:
        """How transaction metrics name this workflow: its name, else its node ids."""
        if self.name:
            return self.name
        label = self._nodes_label
        if label is None:
            label = self._nodes_label = "workflow(" + ", ".join(self.node_ids)[:100] + ")"
        return label

    def downstream(self, node_id: str) -> set[str]:
        """The nodes that depend on ``node_id`` through connections, directly or through others."""
        return _reach({node_id}, [(c.source, c.target) for c in self.connections]) - {node_id}

    def upstream(self, node_ids: set[str]) -> set[str]:
        """The nodes that ``node_ids`` depend on (not counting ``node_ids`` themselves)."""
        return _reach(node_ids, [(c.target, c.source) for c in self.connections]) - node_ids

    @property
    def node_ids(self) -> list[str]:
        """Node ids in execution order."""
        return [n.node_id for n in self.nodes]

    def execution_contexts(self) -> list[ExecutionContext]:
        """The execution contexts of the DataFlow instances whose nodes this workflow uses."""
        seen: dict[int, ExecutionContext] = {}
        for entry in self.nodes:
            if entry.node_type.needs_database:
                context = entry.node_type.execution_context()
                seen[id(context)] = context
        return list(seen.values())

    def resolve_params(self, entry: NodeEntry, results: Mapping[str, Any]) -> dict[str, Any]:
        """The node's parameters with connected values filled in from earlier results."""
        incoming = self._incoming.get(entry.node_id)
        if not incoming:
            return entry.params
        params = copy_params(entry.params)
        for conn in incoming:
            if conn.target_path == TRIGGER:
                continue
            output = self._types[conn.source].spec.output_name(_split(conn.source_path)[0]) if conn.source_path else ""
            path = ".".join([output, *_split(conn.source_path)[1:]]) if output else conn.source_path
            value = _get_path(results[conn.source], path, conn)
            _set_path(params, conn.target_path, value)
        return params


def _reach(start: set[str], edges: list[tuple[str, str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        node = todo.pop()
        for source, target in edges:
            if source == node and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@lru_cache(maxsize=1024)
def _split(path: str) -> tuple[str, ...]:
    # Cached: a workflow's few distinct paths are split at build() and again at every run.
    return tuple(p for p in path.split(".") if p != "") if path else ()


def _get_path(output: Any, path: str, conn: Connection) -> Any:
    value = output
    for part in _split(path):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, (list, tuple))
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            available = list(value) if isinstance(value, Mapping) else f"a {type(value).__name__}"
            raise ConnectionPathError(
                f"Connection {conn.source}.{conn.source_path} -> {conn.target}.{conn.target_path}: "
                f"'{part}' is not in the output of '{conn.source}' (found: {available}).",
                context={"node": conn.target, "source": conn.source, "path": conn.source_path},
            )
    return value


def _set_path(params: dict[str, Any], path: str, value: Any) -> None:
    parts = _split(path)
    target = params
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


class WorkflowBuilder:
    """Collects nodes and connections, then validates them into a :class:`Workflow`.

    Args:
        db: The DataFlow instance whose node types the names refer to (``db.workflow()`` is the
            same). Without one, a name resolves to the one live instance that declares it; when
            several do, ``build()`` raises DF-407 instead of guessing -- unless they all run in one
            ``isolated(join_instances=True)`` (the ``dataflow_isolated`` fixture): then the name
            goes to the instance created first.

    Example:
        ```python
        workflow = WorkflowBuilder()
        workflow.add_node("UserCreateNode", "create", {"name": "Alice"})
        workflow.add_node("UserReadNode", "read", {})
        workflow.add_connection("create", "id", "read", "id")
        results, run_id = LocalRuntime().execute(workflow.build())
        ```
    """

    def __init__(self, db: NodeOwner | None = None) -> None:
        self._db = db
        #: Free-form values the workflow carries; ``metadata["tenant_id"]`` is the tenant its runs act for.
        self.metadata: dict[str, Any] = {}
        self._nodes: list[PendingNode] = []
        self._connections: list[Connection] = []

    @property
    def db(self) -> NodeOwner | None:
        """The instance this builder is bound to, or ``None``."""
        return self._db

    @property
    def nodes(self) -> list[PendingNode]:
        """The nodes added so far, in order (types not resolved yet)."""
        return list(self._nodes)

    @property
    def connections(self) -> list[Connection]:
        """The connections added so far, in order."""
        return list(self._connections)

    def resolve_node_type(self, node_type: str | type[Node], node_id: str = "?") -> type[Node]:
        """The node class a name (or class) stands for in this builder (DF-401, DF-407)."""
        if isinstance(node_type, type) and issubclass(node_type, Node):
            return node_type
        return resolve_node_type(node_type, self._db, node_id)

    def add_node(
        self, node_type: str | type[Node], node_id: str, params: Mapping[str, Any] | None = None
    ) -> WorkflowBuilder:
        """Add a node.

        Args:
            node_type: A generated node name such as ``"UserCreateNode"`` (or the node class).
            node_id: A unique id; the node's output is ``results[node_id]``.
            params: The node's parameters (see the library tour for each node).

        Returns:
            The builder, so calls can be chained.
        """
        if not isinstance(node_id, str) or not node_id:
            raise InvalidParameterError(f"Node ids must be non-empty strings, got {node_id!r}.")
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise InvalidParameterError(
                f"Parameters of node '{node_id}' must be a dict, got {type(params).__name__}.",
                context={"node": node_id},
            )
        self._nodes.append(PendingNode(node_id, node_type, copy_params(params)))
        return self

    def add_connection(
        self, source: str, source_output: str, target: str, target_param: str
    ) -> WorkflowBuilder:
        """Feed ``source``'s output at ``source_output`` into ``target``'s parameter ``target_param``.

        Both sides take dotted paths: ``"record.id"``, ``"records.0.id"``, ``"filter.user_id"``.
        An empty ``source_output`` passes the whole output.
        """
        if not isinstance(target_param, str) or not _split(target_param):
            raise InvalidParameterError(
                f"add_connection needs a target parameter name, got {target_param!r}.",
                context={"node": target},
            )
        self._connections.append(Connection(source, source_output or "", target, target_param))
        return self

    def build(self, name: str | None = None) -> Workflow:
        """Validate and return the workflow (``name``: how transaction metrics report it).

        Raises:
            UnknownNodeTypeError: DF-401.
            AmbiguousNodeTypeError: DF-407.
            DuplicateNodeIdError: DF-402.
            WorkflowCycleError: DF-403.
            DanglingConnectionError: DF-404.
            DataFlowError: a static parameter is invalid (DF-101, DF-102, DF-103, DF-105, DF-2xx).
        """
        types: dict[str, tuple[type[Node], dict[str, Any]]] = {}
        resolve = self.resolve_node_type
        for node_id, node_type, params in self._nodes:
            if node_id in types:
                raise DuplicateNodeIdError(
                    f"Node id '{node_id}' is used twice in this workflow.", context={"node": node_id}
                )
            types[node_id] = (resolve(node_type, node_id), params)
        connections = self._connections
        connected: dict[str, set[str]] = {}
        sources: dict[str, dict[str, list[str]]] = {}
        order: list[str] | None = None
        if connections:
            self._check_ends(types)
            order = _topological_order(list(types), connections)
            for conn in connections:
                if conn.target_path != TRIGGER:
                    connected.setdefault(conn.target, set()).add(conn.target_name)
                sources.setdefault(conn.target, {}).setdefault(conn.target_name, []).append(conn.source)
        entries: dict[str, NodeEntry] = {}
        for node_id, (node_type, params) in types.items():
            filled = connected.get(node_id, _NOTHING_FILLED)
            try:
                # Validated once, here; a node without connected parameters runs what this returns.
                prepared = node_type.prepare(params, filled)
                node_type.validate_sources(params, sources.get(node_id, _NO_SOURCES))
            except DataFlowError as exc:
                if node_type.needs_database:
                    exc.with_enhancer(node_type.execution_context().enhancer)
                if exc.context.get("node") == node_type.type_name:
                    exc.context["node"] = node_id  # validation code records the type, not the id
                exc.add_context(node=node_id, node_type=node_type.type_name)
                raise
            ready = prepared if not filled and node_type.runs_prepared else UNPREPARED
            entries[node_id] = NodeEntry(node_id, node_type, params, ready)
        ordered = list(entries.values()) if order is None else [entries[n] for n in order]
        return Workflow(ordered, list(connections), name, self._db, self.metadata)

    def _check_ends(self, types: Mapping[str, Any]) -> None:
        """DF-404 for a connection that names a node the workflow does not have."""
        for conn in self._connections:
            for end, role in ((conn.source, "source"), (conn.target, "target")):
                if end not in types:
                    hint = get_close_matches(str(end), list(types), n=1)
                    raise DanglingConnectionError(
                        f"Connection {conn.source}.{conn.source_path} -> {conn.target}.{conn.target_path} names "
                        f"{role} node '{end}', which is not in the workflow"
                        + (f" (did you mean '{hint[0]}'?)" if hint else "")
                        + f". Nodes: {', '.join(types) or 'none'}.",
                        context={"node": end, "role": role},
                    )


def execution_order(
    node_ids: Sequence[str], edges: Iterable[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """``(order, stuck)``: Kahn's algorithm over ``(source, target)`` edges, keeping insertion order
    among ready nodes (deterministic runs); ``stuck`` are the nodes in or behind a cycle.

    ``build()`` orders a workflow with it, and the Inspector shows the same order.
    """
    incoming = {n: 0 for n in node_ids}
    outgoing: dict[str, list[str]] = {n: [] for n in node_ids}
    for source, target in edges:
        incoming[target] += 1
        outgoing[source].append(target)
    position = {n: i for i, n in enumerate(node_ids)}
    ready = [n for n in node_ids if incoming[n] == 0]
    order: list[str] = []
    while ready:
        ready.sort(key=position.__getitem__)
        node = ready.pop(0)
        order.append(node)
        for nxt in outgoing[node]:
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                ready.append(nxt)
    done = set(order)
    return order, [n for n in node_ids if n not in done]


def _topological_order(node_ids: list[str], connections: list[Connection]) -> list[str]:
    """The execution order; DF-403 when the connections form a cycle."""
    if not connections:
        return list(node_ids)
    order, stuck = execution_order(node_ids, ((c.source, c.target) for c in connections))
    if stuck:
        raise WorkflowCycleError(
            f"The connections between {', '.join(repr(n) for n in stuck)} form a cycle.",
            context={"nodes": stuck},
        )
    return order
