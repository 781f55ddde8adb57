"""The eleven nodes generated for every model: their specification, validation and SQL.

One module per kind of operation; ``_base`` holds the validation pipeline that build time and run
time share, ``_spec`` the declarative description, ``_registry`` generation and name resolution.
"""

from ._base import Node
from ._builtin import BuiltinNode
from ._registry import (
    BUILTIN_NODES,
    OPERATIONS,
    NodeOwner,
    NodeTypes,
    forget_owner,
    live_owners,
    node_types_changed,
    register_builtin,
    register_owner,
    resolve_node_type,
    resolve_unbound,
)
from ._spec import NodeSpec, OutputSpec, ParamSpec
from ._switch import SwitchNode
from ._transaction_node import TransactionContextNode

__all__ = [
    "BUILTIN_NODES",
    "BuiltinNode",
    "OPERATIONS",
    "SwitchNode",
    "TransactionContextNode",
    "Node",
    "NodeOwner",
    "NodeSpec",
    "NodeTypes",
    "forget_owner",
    "OutputSpec",
    "ParamSpec",
    "live_owners",
    "register_builtin",
    "node_types_changed",
    "register_owner",
    "resolve_node_type",
    "resolve_unbound",
]
