"""Node signatures: the parameters a node type takes and the outputs it gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._types import FieldType
from ._results import Issue, Text, type_label

__all__ = ["NodeInfo", "NodeList", "OutputInfo", "ParameterInfo"]


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of a node type's signature."""

    name: str
    description: str
    required: bool
    aliases: tuple[str, ...]
    field_type: FieldType | None

    def to_dict(self) -> dict[str, Any]:
        """The parameter as JSON-ready data."""
        return {
            "name": self.name,
            "description": self.description,
            "required": self.required,
            "aliases": list(self.aliases),
            "type": self.field_type.value if self.field_type else None,
        }


@dataclass(frozen=True)
class OutputInfo:
    """One key of a node type's output."""

    name: str
    description: str
    field_type: FieldType | None
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The output as JSON-ready data."""
        kind = self.field_type.value if self.field_type else None
        return {"name": self.name, "description": self.description, "type": kind, "aliases": list(self.aliases)}


@dataclass(frozen=True)
class NodeInfo:
    """A node (or a node type): what it takes and what it returns.

    Attributes:
        type_name: The node type (``OrderListNode``).
        model: The model's name (``Order``), or None when the type is unknown.
        operation: ``create``, ``read``, ... (None when unknown).
        params: The parameters the type takes, in documentation order.
        outputs: The keys of its output.
        node_id: The node id in the workflow (None for a node type on its own).
        static: The static parameters given to ``add_node``.
        connected: The parameter paths that connections fill.
        issues: Problems resolving the type (DF-401, DF-407).
    """

    type_name: str
    model: str | None
    operation: str | None
    params: tuple[ParameterInfo, ...] = ()
    outputs: tuple[OutputInfo, ...] = ()
    node_id: str | None = None
    static: dict[str, Any] = field(default_factory=dict)
    connected: tuple[str, ...] = ()
    issues: tuple[Issue, ...] = ()
    resolved: bool = True

    def show(self) -> Text:
        """The signature as a table: parameters with type, required and description, then outputs."""
        head = f"{self.node_id} ({self.type_name})" if self.node_id else self.type_name
        if not self.resolved:
            reason = self.issues[0].message if self.issues else "unknown node type"
            return Text(f"{head}: {reason}")
        what = f"{self.operation} on model {self.model}" if self.model else f"{self.operation} (no model, no SQL)"
        lines = [f"{head}: {what}", "  parameters:"]
        for p in self.params:
            kind = type_label(p.field_type) if p.field_type else "-"
            also = f" (also: {', '.join(p.aliases)})" if p.aliases else ""
            need = "required" if p.required else "optional"
            lines.append(f"    {p.name:<14} {kind:<9} {need:<9} {p.description}{also}")
        lines.append("  outputs:")
        for o in self.outputs:
            kind = type_label(o.field_type) if o.field_type else "-"
            also = f" (also: {', '.join(o.aliases)})" if o.aliases else ""
            lines.append(f"    {o.name:<14} {kind:<9} {o.description}{also}")
        return Text("\n".join(lines))

    def __str__(self) -> str:
        return self.show()

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data."""
        return {
            "node_id": self.node_id,
            "type": self.type_name,
            "model": self.model,
            "operation": self.operation,
            "params": [p.to_dict() for p in self.params],
            "outputs": [o.to_dict() for o in self.outputs],
            "static": {k: repr(v) for k, v in self.static.items()},
            "connected": list(self.connected),
            "issues": [i.to_dict() for i in self.issues],
            "resolved": self.resolved,
        }


class NodeList(list[NodeInfo]):
    """The nodes of a workflow; prints one line per node."""

    def __str__(self) -> str:
        if not self:
            return "No nodes."
        width = max(len(n.node_id or "") for n in self)
        lines = [f"{len(self)} node{'s' * (len(self) != 1)}:"]
        for n in self:
            if not n.resolved:
                what = n.issues[0].code if n.issues else "unknown"
            else:
                what = f"{n.operation} on {n.model}" if n.model else str(n.operation)
            lines.append(f"  {n.node_id:<{width}}  {n.type_name} ({what})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_dict(self) -> list[dict[str, Any]]:
        """The nodes as JSON-ready data."""
        return [n.to_dict() for n in self]
