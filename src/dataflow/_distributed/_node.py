"""DistributedTransactionManagerNode: work on several databases, as a two-phase commit or a saga.

``pattern="2pc"`` runs every step inside one transaction per database and commits them with
:class:`TwoPhaseCommit` (DF-606 when a participant cannot prepare: SQLite, or a server with
``max_prepared_transactions = 0``); ``pattern="saga"`` runs the steps as a saga with their
compensations; ``pattern="auto"`` (the default) takes 2PC when every participant supports it and a
saga otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import InvalidParameterError, TwoPhaseCommitError, TwoPhaseCommitUnavailableError
from .._nodes import BuiltinNode, Node, NodeSpec, OutputSpec, ParamSpec
from .._sagas import SagaCoordinator
from .._sagas._node import SAGA_OUTPUTS, SAGA_PARAMS
from .._tx_options import check_timeout
from .._types import FieldType
from ._twophase import TwoPhaseCommit, check_two_phase

if TYPE_CHECKING:
    from .._executor import ExecutionContext
    from .._sagas import SagaStep

__all__ = ["DistributedTransactionManagerNode", "PATTERNS"]

PATTERNS = ("saga", "2pc", "auto")


def _pattern(cls: type[Node], value: Any) -> str:
    if value not in PATTERNS:
        raise InvalidParameterError(
            f"DistributedTransactionManagerNode got pattern={value!r}; use 'saga', '2pc' or 'auto' (2PC where "
            "every database supports it, else a saga).",
            context={"parameter": "pattern"},
        )
    return str(value)


def _timeout(cls: type[Node], value: Any) -> float | None:
    return check_timeout(value, "DistributedTransactionManagerNode")


def _contexts(steps: list[SagaStep]) -> list[ExecutionContext]:
    found: dict[int, ExecutionContext] = {}
    for step in steps:
        context = step.action.node.execution_context()
        found.setdefault(id(context), context)
    return list(found.values())


class DistributedTransactionManagerNode(BuiltinNode):
    """Run steps on several databases so that all take effect or none does (2PC), or as a saga."""

    operation = "distributed_transaction"
    type_name = "DistributedTransactionManagerNode"
    spec = NodeSpec(
        (
            ParamSpec("pattern", "'2pc', 'saga' or 'auto' (default: 2PC where every database can).", check=_pattern),
            ParamSpec("timeout", "Seconds each participant's statements and lock waits may take.", check=_timeout),
            *SAGA_PARAMS,
        ),
        (
            OutputSpec("pattern", FieldType.STR, "The pattern that ran: '2pc' or 'saga'."),
            OutputSpec("transaction_id", FieldType.STR, "The 2PC global id or the saga id."),
            *SAGA_OUTPUTS,
        ),
    )

    @classmethod
    def check_static(cls, values: dict[str, Any], connected: set[str] | frozenset[str]) -> None:
        if not {"steps", "compensation_logic"} & set(connected):
            SagaCoordinator().parse(values.get("steps"), values.get("compensation_logic"))

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        timeout = values.get("timeout")
        coordinator = SagaCoordinator(timeout=timeout)
        steps = coordinator.parse(values.get("steps"), values.get("compensation_logic"))
        contexts = _contexts(steps)
        pattern = values.get("pattern", "auto")
        if pattern == "auto":
            try:
                await check_two_phase(contexts)
                pattern = "2pc" if contexts else "saga"
            except TwoPhaseCommitUnavailableError:
                pattern = "saga"
        if pattern == "saga":
            name = values.get("name") or "distributed"
            result = await coordinator.run(steps, name=name, saga_id=values.get("saga_id"))
            return {"pattern": "saga", "transaction_id": result.saga_id, **result.as_dict()}
        return await two_phase(steps, contexts, timeout, values.get("name") or "distributed")


async def two_phase(
    steps: list[SagaStep], contexts: list[ExecutionContext], timeout: float | None, name: str
) -> dict[str, Any]:
    """Run ``steps`` in one two-phase commit over ``contexts``; a step or prepare failure rolls back all."""
    from .._sagas._definition import substitute

    tpc = TwoPhaseCommit(contexts, log=contexts[0], timeout=timeout)
    out: dict[str, Any] = {
        "pattern": "2pc", "transaction_id": tpc.gid, "saga_id": None, "name": name, "status": "committed",
        "completed": [], "failed": None, "error": None, "compensated": [], "compensation_errors": {}, "outputs": {},
    }
    await tpc.begin()
    current = None
    try:
        for step in steps:
            current = step.name
            out["outputs"][step.name] = await step.action.node().run(substitute(step.action.params, out["outputs"]))
            out["completed"].append(step.name)
        current = None
        await tpc.prepare()
    except Exception as exc:
        if tpc.state != "rolled back":
            await tpc.rollback()
        failed = exc.__cause__ if isinstance(exc, TwoPhaseCommitError) and exc.__cause__ else exc
        code = getattr(exc, "code", None)
        detail = getattr(exc, "detail", None) or str(failed)
        out.update(status="rolled back", failed=current or "prepare", error=f"{code}: {detail}" if code else detail)
        out["outputs"] = {}
        return out
    await tpc.commit()
    return out
