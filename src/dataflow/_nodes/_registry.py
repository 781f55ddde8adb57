"""Generating a model's eleven node classes, and resolving node type names to them.

Node types belong to one DataFlow instance. A builder bound to an instance resolves names there;
an unbound builder resolves a name to the one live instance that declares it, and refuses to guess
when several do (DF-407) -- unless they all run on one connection (an isolation that other instances
on the same database joined, as under the ``dataflow_isolated`` fixture): then the name goes to the
instance created first, the app's own.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import threading
import weakref
from difflib import get_close_matches
from typing import TYPE_CHECKING, Protocol

from .._errors import AmbiguousNodeTypeError, UnknownNodeTypeError
from .._model import ModelSpec
from ._base import Node
from ._bulk import BulkCreateNode, BulkDeleteNode, BulkUpdateNode
from ._listing import CountNode, ListNode
from ._row_options import with_row_options
from ._single import CreateNode, DeleteNode, ReadNode, UpdateNode
from ._switch import SwitchNode
from ._tenant import TenantNode
from ._transaction_node import TransactionContextNode
from ._upsert import BulkUpsertNode, UpsertNode

if TYPE_CHECKING:
    from .._executor import ExecutionContext
    from .._query import Statements

__all__ = [
    "BUILTIN_NODES",
    "OPERATIONS",
    "NodeOwner",
    "NodeTypes",
    "live_owners",
    "register_builtin",
    "node_types_changed",
    "forget_owner",
    "register_owner",
    "resolve_node_type",
]

#: The eleven operations: the suffix of the node name -> its base class.
OPERATIONS: dict[str, type[Node]] = {
    "Create": CreateNode,
    "Read": ReadNode,
    "Update": UpdateNode,
    "Delete": DeleteNode,
    "List": ListNode,
    "Count": CountNode,
    "Upsert": UpsertNode,
    "BulkCreate": BulkCreateNode,
    "BulkUpdate": BulkUpdateNode,
    "BulkDelete": BulkDeleteNode,
    "BulkUpsert": BulkUpsertNode,
}

#: Node types that belong to no model and no instance.
BUILTIN_NODES: dict[str, type[Node]] = {"SwitchNode": SwitchNode, "TransactionContextNode": TransactionContextNode}


#: Built-in node types whose module is imported when a workflow first names one (their modules call
#: :func:`register_builtin`); ``import dataflow`` does not load them.
LAZY_BUILTINS: dict[str, str] = {
    "ChangeDataCaptureNode": "dataflow._cdc._node",
    "DistributedTransactionManagerNode": "dataflow._distributed",
    "SagaCoordinatorNode": "dataflow._sagas",
    "TransactionMetricsNode": "dataflow._monitoring",
    "TransactionMonitorNode": "dataflow._monitoring",
    "DeadlockDetectorNode": "dataflow._monitoring",
    "RaceConditionDetectorNode": "dataflow._monitoring",
    "PerformanceAnomalyNode": "dataflow._monitoring",
}


def register_builtin(node: type[Node]) -> None:
    """Make a node type that belongs to no model resolvable by name (and picklable as ``dataflow.nodes.X``)."""
    BUILTIN_NODES[node.type_name] = node


def builtin_node(name: str) -> type[Node] | None:
    """The built-in node type called ``name`` (importing its module the first time), or ``None``."""
    node = BUILTIN_NODES.get(name)
    if node is None and name in LAZY_BUILTINS:
        importlib.import_module(LAZY_BUILTINS[name])
        node = BUILTIN_NODES.get(name)
    return node

#: Generated classes name this module, so they pickle (``dataflow.nodes`` resolves the name).
NODES_MODULE = "dataflow.nodes"


def _node_class(
    model: ModelSpec, suffix: str, statements: Statements, context_ref: weakref.ref[ExecutionContext]
) -> type[Node]:
    base = OPERATIONS[suffix]
    type_name = f"{model.name}{suffix}Node"
    # The description depends on the spec alone: instances that register the same spec share it.
    spec = model.derived.get(base)
    if spec is None:
        spec = model.derived.setdefault(base, with_row_options(base.describe(model), model, base.operation))
    return type(
        type_name,
        (TenantNode, base) if model.tenant_field is not None else (base,),
        {
            "model": model,
            "type_name": type_name,
            "statements": statements,
            "spec": spec,
            "_context_ref": context_ref,
            "__doc__": f"{suffix} node for model {model.name} (generated).",
            "__module__": NODES_MODULE,
            "__qualname__": type_name,
        },
    )


class NodeTypes:
    """The generated node classes of one instance, by name, each made the first time it is asked for.

    A test that registers a model on a fresh instance uses two or three of its eleven node types;
    making a class (and its parameter description) costs about 12 µs, so the rest are never made
    unless :meth:`all` (``db.nodes``) or an error message that lists the names needs them. Once made,
    a class is kept: the same name gives the same class for the instance's life.
    """

    def __init__(self, context: ExecutionContext) -> None:
        self._context_ref = weakref.ref(context)
        self._declared: dict[str, tuple[ModelSpec, str, Statements]] = {}
        self._made: dict[str, type[Node]] = {}

    def declare(self, model: ModelSpec, statements: Statements) -> None:
        """Declare the eleven node types of ``model``."""
        for suffix in OPERATIONS:
            self._declared[f"{model.name}{suffix}Node"] = (model, suffix, statements)

    def get(self, name: str) -> type[Node] | None:
        """The class called ``name`` (made now if this is the first time), or ``None``."""
        found = self._made.get(name)
        if found is not None:
            return found
        declared = self._declared.get(name)
        if declared is None:
            return None
        model, suffix, statements = declared
        # setdefault: two threads asking at once keep one class.
        return self._made.setdefault(name, _node_class(model, suffix, statements, self._context_ref))

    def all(self) -> dict[str, type[Node]]:
        """Every class, in declaration order (making those not made yet)."""
        made = {}
        for name in self._declared:
            node = self.get(name)
            assert node is not None
            made[name] = node
        return made


class NodeOwner(Protocol):
    """What name resolution needs from a DataFlow instance."""

    @property
    def closed(self) -> bool: ...

    @property
    def created_at(self) -> str: ...

    @property
    def nodes(self) -> dict[str, type[Node]]: ...

    def node_type(self, name: str) -> type[Node] | None: ...

    @property
    def execution_context(self) -> ExecutionContext: ...


_owners: weakref.WeakKeyDictionary[NodeOwner, int] = weakref.WeakKeyDictionary()
_owners_lock = threading.Lock()
_order = itertools.count()

# Unbound resolution is on every build() of a seed-style workflow, so a name's single owner is
# remembered until the set of owners or their node types changes (the generation moves on). A
# remembered owner that was closed or collected since is not used: closing is final.
_generation = 0
_resolved: dict[str, tuple[int, weakref.ref[NodeOwner], type[Node]]] = {}


def register_owner(owner: NodeOwner) -> None:
    """Make ``owner``'s node types resolvable by unbound builders while it is alive and open."""
    with _owners_lock:
        _owners[owner] = next(_order)
    node_types_changed()


def forget_owner(owner: NodeOwner) -> None:
    """``owner`` was closed (for good): unbound names no longer look at it.

    A closed instance may stay in memory until the garbage collector breaks its reference cycles;
    without this, every unbound name resolution would still walk past it (a test suite that makes
    an instance per test keeps dozens of them around).
    """
    with _owners_lock:
        _owners.pop(owner, None)


def node_types_changed() -> None:
    """An owner declared new node types: unbound names must be resolved again."""
    global _generation
    with _owners_lock:
        _generation += 1
        _resolved.clear()


def _one_connection(matches: list[tuple[NodeOwner, type[Node]]]) -> type[Node] | None:
    """The node type of the first-created owner when every match runs on one joined isolation."""
    roots = {id(t.execution_context().root) for _, t in matches}
    if len(roots) != 1 or matches[0][1].execution_context().root.pinned is None:
        return None
    with _owners_lock:
        first = min(matches, key=lambda match: _owners.get(match[0], 0))
    return first[1]


def _live_owners() -> list[NodeOwner]:
    with _owners_lock:
        owners = list(_owners)
    return [o for o in owners if not o.closed]


def live_owners() -> list[NodeOwner]:
    """The DataFlow instances that are alive and not closed."""
    return _live_owners()


def resolve_node_type(name: str, owner: NodeOwner | None, node_id: str) -> type[Node]:
    """The node class called ``name``: on ``owner`` when bound, else on the one live instance.

    Raises:
        UnknownNodeTypeError: DF-401, no (live, or bound) instance declares it.
        AmbiguousNodeTypeError: DF-407, several live instances declare it and none is bound.
    """
    builtin = builtin_node(name)
    if builtin is not None:  # an instance may have its own class of a built-in (ChangeDataCaptureNode)
        return (owner.node_type(name) if owner is not None else None) or builtin
    if owner is not None:
        found = owner.node_type(name)
        if found is not None:
            return found
        raise _unknown(name, node_id, [owner], bound=owner)
    remembered = _resolved.get(name)
    if remembered is not None and remembered[0] == _generation:
        known = remembered[1]()
        if known is not None and not known.closed:
            return remembered[2]
    generation = _generation
    owners = _live_owners()
    matches = [(o, t) for o in owners if (t := o.node_type(name)) is not None]
    if len(matches) > 1:
        # Instances that nothing references any more can still wait in reference cycles (an
        # exception's traceback, for one) for the garbage collector; they are not "live".
        del owners, matches
        gc.collect()
        owners = _live_owners()
        matches = [(o, t) for o in owners if (t := o.node_type(name)) is not None]
    if len(matches) == 1:
        owner_found, found = matches[0]
        with _owners_lock:
            if generation == _generation:
                _resolved[name] = (generation, weakref.ref(owner_found), found)
        return found
    if not matches:
        raise _unknown(name, node_id, owners, bound=None)
    joined = _one_connection(matches)
    if joined is not None:
        return joined
    listed = "; ".join(f"{o!r} created at {o.created_at}" for o, _ in matches)
    raise AmbiguousNodeTypeError(
        f"Node '{node_id}' has type {name!r}, which {len(matches)} live DataFlow instances declare: {listed}. "
        "An unbound WorkflowBuilder() cannot tell which database to use; build it with db.workflow() "
        "(or WorkflowBuilder(db)) on the instance you mean.",
        context={"node": node_id, "node_type": name, "instances": [repr(o) for o, _ in matches]},
    )


def _unknown(
    name: str, node_id: str, owners: list[NodeOwner], *, bound: NodeOwner | None
) -> UnknownNodeTypeError:
    known = sorted({n for o in owners for n in o.nodes})
    hint = get_close_matches(str(name), known, n=3)
    where = (
        f" {bound!r} declares no such node type"
        if bound is not None
        else " Node types exist once a model is declared with @db.model on a DataFlow instance that is not closed."
    )
    return UnknownNodeTypeError(
        f"Node '{node_id}' has unknown type {name!r}"
        + (f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else "; no model declares it.")
        + where
        + ("." if bound is not None else ""),
        context={"node": node_id, "node_type": str(name)},
    )


def resolve_unbound(name: str) -> type[Node]:
    """``dataflow.nodes.<name>``: the node class of the one live instance that declares ``name``."""
    return resolve_node_type(name, None, name)
