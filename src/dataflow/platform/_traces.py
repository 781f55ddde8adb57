"""Parameter traces and validation results: where each value comes from, and what is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .._types import FieldType
from ._results import ConnectionInfo, Issue, Text

__all__ = ["ParameterLineage", "ParameterSource", "ParameterTrace", "ValidationResult", "tree"]


@dataclass(frozen=True)
class ParameterSource:
    """Where a parameter's value comes from.

    Attributes:
        kind: ``"connection"``, ``"static"`` (given to ``add_node``) or ``"unset"``.
        text: The line a trace shows (``read.id (string)``).
        connection: The connection, for ``kind == "connection"``.
        value: The static value, for ``kind == "static"``.
    """

    kind: Literal["connection", "static", "unset"]
    text: str
    connection: ConnectionInfo | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The source as JSON-ready data."""
        return {
            "kind": self.kind,
            "text": self.text,
            "connection": self.connection.to_dict() if self.connection else None,
            "value": self.value if self.kind == "static" else None,
        }


def tree(header: str, lines: list[str]) -> str:
    out = [header]
    for index, line in enumerate(lines):
        first, *more = line.split("\n")
        last = index == len(lines) - 1
        out.append(("└─ " if last else "├─ ") + first)
        out += [("   " if last else "│  ") + m for m in more]
    return "\n".join(out)


@dataclass(frozen=True)
class ParameterTrace:
    """Where one parameter of one node gets its value.

    Attributes:
        node: The node id.
        param: The parameter path (``user_id``, ``filter``, ``filter.user_id``).
        sources: Each connection into it, its static value, or ``unset``.
        expected_type: The field type the parameter expects (None: not one field's value).
        issues: Problems with it (a parameter the node does not take: DF-105).
    """

    node: str
    param: str
    sources: tuple[ParameterSource, ...]
    expected_type: FieldType | None = None
    issues: tuple[Issue, ...] = ()

    def show(self) -> Text:
        """The trace as a tree: ``Parameter Trace: list.user_id`` then one branch per source."""
        return Text(tree(f"Parameter Trace: {self.node}.{self.param}", [s.text for s in self.sources]))

    def __str__(self) -> str:
        return self.show()

    def to_dict(self) -> dict[str, Any]:
        """The trace as JSON-ready data."""
        return {
            "node": self.node,
            "param": self.param,
            "expected_type": self.expected_type.value if self.expected_type else None,
            "sources": [s.to_dict() for s in self.sources],
            "issues": [i.to_dict() for i in self.issues],
        }


@dataclass(frozen=True)
class ParameterLineage:
    """Every parameter of one node: what the node takes, and where each value comes from.

    Attributes:
        node: The node id.
        type_name: The node's type.
        traces: One trace per parameter the node takes, then per name it was given but does not take.
    """

    node: str
    type_name: str
    traces: tuple[ParameterTrace, ...]

    def show(self) -> Text:
        """The parameters as a tree, each with its sources."""
        lines = []
        for trace in self.traces:
            head = trace.param
            if trace.issues:
                head += f" (not a parameter of {self.type_name}: {trace.issues[0].code})"
            if len(trace.sources) == 1:
                lines.append(f"{head}: {trace.sources[0].text}")
            else:
                lines.append(tree(head, [s.text for s in trace.sources]))
        return Text(tree(f"Parameters of {self.node} ({self.type_name})", lines))

    def __str__(self) -> str:
        return self.show()

    def to_dict(self) -> dict[str, Any]:
        """The lineage as JSON-ready data."""
        return {"node": self.node, "type": self.type_name, "parameters": [t.to_dict() for t in self.traces]}


class ValidationResult(dict[str, Any]):
    """``{"is_valid": bool, "errors": [Issue, ...], "warnings": [Issue, ...]}``, printable."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        items = list(issues)
        errors = [i for i in items if i.severity == "error"]
        warnings = [i for i in items if i.severity == "warning"]
        super().__init__(is_valid=not errors, errors=errors, warnings=warnings)

    @property
    def is_valid(self) -> bool:
        """True when there is no error (warnings do not count)."""
        return bool(self["is_valid"])

    @property
    def issues(self) -> list[Issue]:
        """Errors first, then warnings."""
        return [*self["errors"], *self["warnings"]]

    def __str__(self) -> str:
        errors, warnings = self["errors"], self["warnings"]
        if not errors and not warnings:
            return "Valid: no errors, no warnings."
        head = f"{'Valid' if not errors else 'Not valid'}: {len(errors)} error{'s' * (len(errors) != 1)}, "
        head += f"{len(warnings)} warning{'s' * (len(warnings) != 1)}."
        lines = [head]
        for issue in self.issues:
            lines.append(f"{issue.severity.upper()}: {issue}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "is_valid": self.is_valid,
            "errors": [i.to_dict() for i in self["errors"]],
            "warnings": [i.to_dict() for i in self["warnings"]],
        }
