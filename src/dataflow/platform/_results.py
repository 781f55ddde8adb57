"""What the Inspector returns: issues with their DF- code, connection lists, traces and reports.

Every result prints as plain text that reads well in a terminal and in a docs page (``print(x)``),
and has a ``to_dict()`` for JSON (``dataflow ... --json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .._catalog import CATALOG, error_url
from .._errors import DataFlowError
from .._types import FieldType
from .._workflow import TRIGGER
from ._view import Link

__all__ = [
    "ChainList",
    "ConnectionChain",
    "ConnectionInfo",
    "ConnectionList",
    "CycleList",
    "DependencyMap",
    "Issue",
    "Text",
    "type_label",
    "type_word",
]

Severity = Literal["error", "warning"]

_WORDS = {
    FieldType.STR: "string",
    FieldType.INT: "integer",
    FieldType.FLOAT: "float",
    FieldType.BOOL: "boolean",
    FieldType.DATETIME: "datetime",
    FieldType.DATE: "date",
    FieldType.DECIMAL: "decimal",
    FieldType.JSON: "JSON",
}
_LABELS = {FieldType.JSON: "dict or list"}


def type_word(kind: FieldType | None) -> str | None:
    """The type as traces show it: ``string``, ``integer``, ... (None: unknown)."""
    return _WORDS[kind] if kind is not None else None


def type_label(kind: FieldType) -> str:
    """The type as Python spells it: ``str``, ``int``, ``Decimal``, ``dict or list``."""
    return _LABELS.get(kind, kind.value)


class Text(str):
    """Plain text that shows as itself in a REPL too (``inspector.show()`` at the ``>>>`` prompt)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Issue:
    """One problem the Inspector found, with the DF- code that ``build()`` or the runtime would raise.

    Attributes:
        code: The error code (``"DF-103"``).
        message: What is wrong, in one line.
        details: Further lines (``read.id outputs: str``).
        severity: ``"error"`` (the workflow fails) or ``"warning"`` (it runs, maybe not as meant).
        node: The node id the issue is about, if any.
        connection: The connection (``read.id → list.user_id``) the issue is about, if any.
    """

    code: str
    message: str
    details: tuple[str, ...] = ()
    severity: Severity = "error"
    node: str | None = None
    connection: str | None = None

    @property
    def title(self) -> str:
        """The catalog title of the code (``Value has the wrong type``)."""
        return CATALOG[self.code].title

    @property
    def url(self) -> str:
        """The troubleshooting link of the code."""
        return error_url(self.code)

    @classmethod
    def from_error(cls, error: DataFlowError, *, node: str | None = None, connection: str | None = None) -> Issue:
        """The issue for an error that ``build()`` raises (same code, same message)."""
        return cls(error.code, error.detail, node=node or error.context.get("node"), connection=connection)

    def __str__(self) -> str:
        lines = [self.message, *(f"- {d}" for d in self.details), f"- {self.code}: {self.url}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{self.severity} {self.code}: {self.message}>"

    def to_dict(self) -> dict[str, Any]:
        """The issue as JSON-ready data."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "details": list(self.details),
            "node": self.node,
            "connection": self.connection,
            "url": self.url,
        }


@dataclass(frozen=True)
class ConnectionInfo:
    """One connection with the types at both ends (None when unknown).

    Attributes:
        source: The source node id.
        source_output: The path in the source's output (``id``, ``record.id``; empty: all of it).
        target: The target node id.
        target_param: The parameter path of the target (``user_id``, ``filter.user_id``).
        source_type: The field type the source path holds.
        target_type: The field type the target parameter expects.
    """

    source: str
    source_output: str
    target: str
    target_param: str
    source_type: FieldType | None = None
    target_type: FieldType | None = None
    issues: tuple[Issue, ...] = ()

    @classmethod
    def of(cls, link: Link, source_type: FieldType | None, target_type: FieldType | None) -> ConnectionInfo:
        """The info of a view link."""
        return cls(link.source, link.source_output, link.target, link.target_param, source_type, target_type)

    @property
    def source_label(self) -> str:
        """``read.id``."""
        return f"{self.source}.{self.source_output}" if self.source_output else self.source

    @property
    def target_label(self) -> str:
        """``list.user_id`` (``create (trigger)`` for a connection that passes no value)."""
        if self.target_param == TRIGGER:
            return f"{self.target} ({TRIGGER})"
        return f"{self.target}.{self.target_param}"

    def __str__(self) -> str:
        return f"{self.source_label} → {self.target_label}"

    def to_dict(self) -> dict[str, Any]:
        """The connection as JSON-ready data."""
        return {
            "source": self.source,
            "source_output": self.source_output,
            "target": self.target,
            "target_param": self.target_param,
            "source_type": self.source_type.value if self.source_type else None,
            "target_type": self.target_type.value if self.target_type else None,
            "issues": [i.to_dict() for i in self.issues],
        }


class ConnectionList(list[ConnectionInfo]):
    """A list of connections that prints as ``Found 1 connection: read.id → list.user_id``."""

    def __init__(self, items: Iterable[ConnectionInfo] = (), *, what: str = "connection") -> None:
        super().__init__(items)
        self.what = what

    def __str__(self) -> str:
        count = len(self)
        noun = self.what if count == 1 else self.what + "s"
        if count == 0:
            return f"Found 0 {noun}."
        lines = [f"Found 1 {noun}: {self[0]}"] if count == 1 else [f"Found {count} {noun}:"]
        for connection in self:
            if count > 1:
                lines.append(f"  {connection}")
            lines += [f"    {issue.code}: {issue.message}" for issue in connection.issues]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_dict(self) -> list[dict[str, Any]]:
        """The connections as JSON-ready data."""
        return [c.to_dict() for c in self]


@dataclass(frozen=True)
class ConnectionChain:
    """A path of connections through the workflow, from a node nothing feeds to the end.

    Attributes:
        nodes: The node ids along the chain.
        connections: The connection of each hop (one per consecutive pair of nodes).
    """

    nodes: tuple[str, ...]
    connections: tuple[ConnectionInfo, ...]

    def __str__(self) -> str:
        lines = [" → ".join(self.nodes)]
        lines += [f"  {c}" for c in self.connections]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The chain as JSON-ready data."""
        return {"nodes": list(self.nodes), "connections": [c.to_dict() for c in self.connections]}


class ChainList(list[ConnectionChain]):
    """Connection chains; prints one chain per paragraph."""

    def __str__(self) -> str:
        if not self:
            return "No connection chains."
        return "\n".join(str(chain) for chain in self)

    def __repr__(self) -> str:
        return str(self)


class CycleList(list[list[str]]):
    """Cycles as lists of node ids; prints ``Found 1 cycle: a → b → a``."""

    def __str__(self) -> str:
        if not self:
            return "No cycles."
        if len(self) == 1:
            return f"Found 1 cycle: {' → '.join(self[0])}"
        return "\n".join([f"Found {len(self)} cycles:", *(f"  {' → '.join(c)}" for c in self)])

    def __repr__(self) -> str:
        return str(self)


class DependencyMap(dict[str, list[str]]):
    """Node id -> the node ids it depends on (through connections), in execution order."""

    def __str__(self) -> str:
        width = max((len(n) for n in self), default=0)
        return "\n".join(
            f"{node:<{width}}  ← {', '.join(deps)}" if deps else f"{node:<{width}}  (no dependencies)"
            for node, deps in self.items()
        )

    def __repr__(self) -> str:
        return str(self)
