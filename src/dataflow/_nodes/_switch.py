"""SwitchNode: route a workflow down one of two branches.

``condition`` is an expression over ``input`` (and the ids of the nodes connected into it, which
name the same value): ``"len(check) > 0"``. The output has the input under ``true_output`` or
``false_output``; nodes connected to the other branch do not run, and neither do nodes that depend
on them: their results are ``{"skipped": True, "reason": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidConditionError
from .._types import FieldType
from ._base import Node
from ._builtin import BuiltinNode
from ._condition import compile_condition
from ._spec import NodeSpec, OutputSpec, ParamSpec

__all__ = ["SwitchNode"]


def _check_condition(cls: type[Node], value: Any) -> str:
    compile_condition(value, cls.error_context(parameter="condition"))
    return str(value)


class SwitchNode(BuiltinNode):
    """Evaluate ``condition`` on ``input``; run only the nodes of the branch it picks."""

    operation = "switch"
    type_name = "SwitchNode"
    spec = NodeSpec(
        (
            ParamSpec(
                "condition", "An expression over 'input', such as \"len(input) > 0\".", True, check=_check_condition
            ),
            ParamSpec("input", "The value the condition looks at; passed on to the branch taken."),
        ),
        (
            OutputSpec("result", FieldType.BOOL, "The condition's value."),
            OutputSpec("true_output", None, "The input, when the condition is true (else the branch is not taken)."),
            OutputSpec("false_output", None, "The input, when the condition is false (else the branch is not taken)."),
        ),
    )

    @classmethod
    def validate_sources(cls, params: Mapping[str, Any], sources: Mapping[str, list[str]]) -> None:
        condition = params.get("condition")
        if not isinstance(condition, str):
            return
        compiled = compile_condition(condition, cls.error_context(parameter="condition"))
        known = {"input", *sources.get("input", [])}
        unknown = sorted(compiled.names - known)
        if unknown:
            raise InvalidConditionError(
                f"Condition {condition!r:.120} reads {', '.join(repr(n) for n in unknown)}; a condition can read "
                f"'input' and the ids of the nodes connected into it ({', '.join(sorted(known))}).",
                context=cls.error_context(parameter="condition"),
            )

    @classmethod
    def inactive_outputs(cls, output: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"false_output" if output.get("result") else "true_output"})

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        cls = type(self)
        condition = compile_condition(values["condition"], cls.error_context(parameter="condition"))
        value = values.get("input")
        result = condition.evaluate(dict.fromkeys(condition.names, value))
        return {"result": result, "true_output": value if result else None, "false_output": None if result else value}
