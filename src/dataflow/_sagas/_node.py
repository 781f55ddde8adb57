"""SagaCoordinatorNode: a saga as a workflow node (steps, ``compensation_logic``; its output is the
:class:`SagaResult`). The saga table is in the database of the first step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidSagaError
from .._nodes import BuiltinNode, Node, NodeSpec, OutputSpec, ParamSpec
from .._types import FieldType
from ._coordinator import SagaCoordinator

__all__ = ["SagaCoordinatorNode", "SAGA_PARAMS", "SAGA_OUTPUTS"]


def _text(cls: type[Node], value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidSagaError(f"{cls.type_name}: a saga name or id is a non-empty string, got {value!r}.")
    return value


SAGA_PARAMS = (
    ParamSpec("steps", "[{'name': ..., 'node': ..., 'params': {...}, 'compensation': {...}}, ...] in order."),
    ParamSpec("compensation_logic", "Step name -> {'node': ..., 'params': {...}}: what undoes the step."),
    ParamSpec("name", "The saga's name in the saga table.", check=_text),
    ParamSpec("saga_id", "The saga's id (default: a new one).", check=_text),
)
SAGA_OUTPUTS = (
    OutputSpec("saga_id", FieldType.STR, "The saga's id in the saga table."),
    OutputSpec("status", FieldType.STR, "completed, compensated, or failed (a compensation failed)."),
    OutputSpec("completed", FieldType.JSON, "The steps that ran, in order."),
    OutputSpec("failed", FieldType.STR, "The step that failed, or None."),
    OutputSpec("error", FieldType.STR, "Its error, or None."),
    OutputSpec("compensated", FieldType.JSON, "The steps undone, in the order their compensations ran."),
    OutputSpec("compensation_errors", FieldType.JSON, "Step name -> the error of its compensation."),
    OutputSpec("outputs", FieldType.JSON, "Step name -> the output of its node."),
)


class SagaCoordinatorNode(BuiltinNode):
    """Run steps in order, each in its own transaction; on a failure, compensate the completed steps
    in reverse order. The result says what ran, what failed and what was undone."""

    operation = "saga"
    type_name = "SagaCoordinatorNode"
    spec = NodeSpec(SAGA_PARAMS, SAGA_OUTPUTS)

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if not {"steps", "compensation_logic"} & set(connected):
            SagaCoordinator().parse(values.get("steps"), values.get("compensation_logic"))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        return await run_saga(values)


async def run_saga(values: Mapping[str, Any]) -> dict[str, Any]:
    """Run the saga a node's checked values describe; return the result as the node's output."""
    result = await SagaCoordinator().run(
        values.get("steps"),
        values.get("compensation_logic"),
        name=values.get("name") or "saga",
        saga_id=values.get("saga_id"),
    )
    return result.as_dict()
