"""A read-only view of a workflow for the Inspector, taken from a builder or a built workflow.

The view is the only place that reads a workflow's structure. It records each node with its
resolved node class (or the DF-401/DF-407 error resolving it raised), each connection in the order
it was added, and it answers the questions every Inspector method asks: which connections reach a
node, in which order the nodes run, which cycles exist, and which field type an output path or a
parameter path has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import DataFlowError
from .._model import ModelSpec
from .._nodes import Node, NodeSpec
from .._types import FieldType
from .._workflow import TRIGGER, Workflow, WorkflowBuilder, execution_order

__all__ = ["FIELD_VALUE_PARAMS", "Link", "NodeView", "WorkflowView", "split_path"]

#: Parameters whose keys are the model's field names (``filter.user_id``, ``fields.name``, ...).
FIELD_VALUE_PARAMS = frozenset({"filter", "fields", "where", "create", "update"})
#: Filter operators whose value is a list of field values, not one.
_LIST_OPERATORS = frozenset({"$in", "$nin"})


def split_path(path: str) -> list[str]:
    """``"filter.user_id"`` -> ``["filter", "user_id"]`` (empty parts dropped, as connections do)."""
    return [p for p in path.split(".") if p] if path else []


@dataclass(frozen=True)
class NodeView:
    """One node as the Inspector sees it.

    Attributes:
        node_id: The id given to ``add_node``.
        type_name: The node type's name (``UserReadNode``), as given or from the class.
        node_cls: The resolved node class, or None when resolving it failed.
        params: The static parameters.
        position: The order in which the node was added (0-based).
        error: The error resolving the type raised (DF-401, DF-407), or None.
    """

    node_id: str
    type_name: str
    node_cls: type[Node] | None
    params: Mapping[str, Any]
    position: int
    error: DataFlowError | None = None

    @property
    def spec(self) -> NodeSpec | None:
        """The node type's parameter and output specification (None when unresolved)."""
        return self.node_cls.spec if self.node_cls is not None else None

    @property
    def model(self) -> ModelSpec | None:
        """The model the node works on (None when unresolved, or for a node of no model: SwitchNode)."""
        if self.node_cls is None or not self.node_cls.needs_database:
            return None
        return self.node_cls.model

    @property
    def label(self) -> str:
        """``read (UserReadNode)``."""
        return f"{self.node_id} ({self.type_name})"

    def canonical(self, name: str) -> str | None:
        """The canonical name of parameter spelling ``name`` (``filters`` -> ``filter``), or None."""
        spec = self.spec
        return spec.canonical.get(name) if spec is not None else None


@dataclass(frozen=True)
class Link:
    """One connection: ``source``'s output at ``source_output`` feeds ``target``'s ``target_param``."""

    source: str
    source_output: str
    target: str
    target_param: str
    position: int

    @property
    def target_name(self) -> str:
        """The top-level parameter the connection fills (``filter`` for ``filter.user_id``)."""
        return split_path(self.target_param)[0]

    @property
    def trigger(self) -> bool:
        """True for a ``trigger`` connection: it passes no value, only orders the two nodes."""
        return self.target_param == TRIGGER

    @property
    def source_label(self) -> str:
        """``read.id`` (just ``read`` when the whole output is passed)."""
        path = ".".join(split_path(self.source_output))
        return f"{self.source}.{path}" if path else self.source

    @property
    def target_label(self) -> str:
        """``list.user_id`` (``list (trigger)`` for a trigger connection)."""
        if self.trigger:
            return f"{self.target} ({TRIGGER})"
        return f"{self.target}.{'.'.join(split_path(self.target_param))}"

    def __str__(self) -> str:
        return f"{self.source_label} → {self.target_label}"


class WorkflowView:
    """The nodes and connections of a :class:`WorkflowBuilder` or a built :class:`Workflow`."""

    def __init__(self, workflow: WorkflowBuilder | Workflow) -> None:
        nodes: list[NodeView] = []
        if isinstance(workflow, WorkflowBuilder):
            self.built = False
            for position, pending in enumerate(workflow.nodes):
                node_type = pending.node_type
                name = node_type if isinstance(node_type, str) else getattr(node_type, "type_name", repr(node_type))
                try:
                    node_cls: type[Node] | None = workflow.resolve_node_type(node_type, pending.node_id)
                    error = None
                except DataFlowError as exc:
                    node_cls, error = None, exc
                nodes.append(NodeView(pending.node_id, str(name), node_cls, pending.params, position, error))
        elif isinstance(workflow, Workflow):
            self.built = True
            for position, entry in enumerate(workflow.nodes):
                cls = entry.node_type
                nodes.append(NodeView(entry.node_id, cls.type_name, cls, entry.params, position))
        else:
            raise TypeError(
                f"Inspector takes a WorkflowBuilder or a built Workflow, got {type(workflow).__name__}"
            )
        self.nodes = nodes
        self.links = [
            Link(c.source, c.source_output, c.target, c.target_param, i) for i, c in enumerate(workflow.connections)
        ]
        self._by_id: dict[str, NodeView] = {}
        for node in nodes:
            self._by_id.setdefault(node.node_id, node)

    # --- lookups -------------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Every node id once, in the order the nodes were added."""
        return list(self._by_id)

    def node(self, node_id: str) -> NodeView | None:
        """The node with this id (the first one when the id is used twice), or None."""
        return self._by_id.get(node_id)

    def incoming(self, node_id: str, *, triggers: bool = False) -> list[Link]:
        """The connections into ``node_id`` that pass a value (with ``triggers``: all of them)."""
        return [link for link in self.links if link.target == node_id and (triggers or not link.trigger)]

    def outgoing(self, node_id: str) -> list[Link]:
        """The connections out of ``node_id``, in the order they were added."""
        return [link for link in self.links if link.source == node_id]

    def valid_links(self) -> list[Link]:
        """The connections whose both ends are nodes of the workflow."""
        return [link for link in self.links if link.source in self._by_id and link.target in self._by_id]

    # --- order and cycles ----------------------------------------------------------------------

    def order(self) -> tuple[list[str], list[str]]:
        """``(execution order, nodes stuck in or behind a cycle)``, as ``build()`` orders nodes."""
        return execution_order(self.ids, ((link.source, link.target) for link in self.valid_links()))

    def cycles(self) -> list[list[str]]:
        """Each cycle once, as the node ids along it, starting at its earliest-added node."""
        graph: dict[str, list[str]] = {n: [] for n in self.ids}
        for link in self.valid_links():
            if link.target not in graph[link.source]:
                graph[link.source].append(link.target)
        position = {n: i for i, n in enumerate(self.ids)}
        found: list[list[str]] = []
        seen: set[tuple[str, ...]] = set()
        for start in self.ids:
            # Paths from start back to start through nodes added after it: each cycle is found
            # once, from its earliest node.
            stack: list[tuple[str, list[str]]] = [(start, [start])]
            while stack:
                current, path = stack.pop()
                for nxt in reversed(graph[current]):
                    if nxt == start:
                        key = tuple(path)
                        if key not in seen:
                            seen.add(key)
                            found.append([*path, start])
                    elif nxt not in path and position[nxt] > position[start]:
                        stack.append((nxt, [*path, nxt]))
        return found

    # --- types of paths ------------------------------------------------------------------------

    def output_type(self, node: NodeView, path: str) -> tuple[FieldType | None, str | None]:
        """The field type at ``path`` in the node's output, and the problem when the path is not there.

        Returns ``(type or None when not one field's value, None)`` for a path that exists, and
        ``(None, reason)`` for one the output does not have (the runtime raises DF-405 then).
        """
        spec, model = node.spec, node.model
        parts = split_path(path)
        if spec is None or not parts:
            return None, None
        outputs = {o.name: o for o in spec.outputs}
        first, rest = spec.output_name(parts[0]), parts[1:]
        if first not in outputs:
            return None, f"{node.type_name} has no output '{first}'; its outputs: {', '.join(outputs)}"
        output = outputs[first]
        if not rest:
            return output.field_type, None
        if first == "records":
            if not rest[0].lstrip("-").isdigit():
                return None, f"'records' is a list: name a position first ({first}.0.{'.'.join(rest)})"
            rest = rest[1:]
            if not rest:
                return None, None
        if first in ("record", "records") and model is not None:
            field = model.fields.get(rest[0])
            if field is None:
                return None, f"model {model.name} has no field '{rest[0]}'; its fields: {', '.join(model.fields)}"
            return (field.kind, None) if len(rest) == 1 else (None, None)
        if output.field_type is FieldType.JSON or output.field_type is None:
            return None, None  # inside a JSON value, or a value of any shape: anything may be there
        return None, f"{node.type_name} output '{first}' is a single value; it has no '{'.'.join(rest)}'"

    def param_type(self, node: NodeView, path: str) -> FieldType | None:
        """The field type a value at parameter ``path`` must have (None: not one field's value).

        A name the node does not take but that is a field of its model gets that field's type, so
        a connection to ``list.user_id`` is checked against the ``user_id`` field.
        """
        spec, model = node.spec, node.model
        parts = split_path(path)
        if spec is None or model is None or not parts or path == TRIGGER:
            return None
        name = spec.canonical.get(parts[0])
        rest = parts[1:]
        if name is None:
            field = model.fields.get(parts[0])
            return field.kind if field is not None and not rest else None
        if not rest:
            return spec.by_name[name].field_type
        if name == "records":
            rest = rest[1:] if rest[0].lstrip("-").isdigit() else []
        elif name not in FIELD_VALUE_PARAMS:
            return None
        if not rest:
            return None
        field = model.fields.get(rest[0])
        if field is None:
            return None
        if len(rest) == 1 or (len(rest) == 2 and rest[1].startswith("$") and rest[1] not in _LIST_OPERATORS):
            return field.kind
        return None
