"""SagaCoordinator: run steps one after the other, each in a transaction of its own database; when
one fails, run the compensations of the completed steps in reverse order. Every step and every
compensation is recorded in the saga table, so :meth:`SagaCoordinator.recover` can finish, in a new
process, a saga whose process died: compensate it (the default) or resume it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._nodes import Node, resolve_node_type
from .._tx_options import transaction_options
from ._definition import Action, Resolver, SagaStep, definition, parse_saga, substitute
from ._store import SagaStore

if TYPE_CHECKING:
    from .._dataflow import DataFlow
    from .._executor import ExecutionContext

__all__ = ["SagaCoordinator", "SagaResult", "resolver"]


@dataclass
class SagaResult:
    """What a saga did.

    Attributes:
        saga_id: The saga's id in the saga table.
        name: The saga's name.
        status: ``completed`` (every step ran), ``compensated`` (a step failed and every completed
            step was undone), or ``failed`` (a compensation failed too: see ``compensation_errors``;
            ``recover()`` runs the remaining compensations again).
        completed: The steps that ran and committed, in order.
        failed: The step that failed, if any.
        error: Its error (``"DF-302: ..."`` or ``"ValueError: ..."``).
        compensated: The steps undone, in the order their compensations ran (reverse order).
        compensation_errors: Step name -> the error of its compensation.
        outputs: Step name -> the output of the step's node.
    """

    saga_id: str
    name: str
    status: str = "completed"
    completed: list[str] = field(default_factory=list)
    failed: str | None = None
    error: str | None = None
    compensated: list[str] = field(default_factory=list)
    compensation_errors: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every step completed."""
        return self.status == "completed"

    def as_dict(self) -> dict[str, Any]:
        """The result as a node output."""
        return {
            "saga_id": self.saga_id,
            "name": self.name,
            "status": self.status,
            "completed": list(self.completed),
            "failed": self.failed,
            "error": self.error,
            "compensated": list(self.compensated),
            "compensation_errors": dict(self.compensation_errors),
            "outputs": dict(self.outputs),
        }


def resolver(owner: DataFlow | None) -> Resolver:
    """Resolve node type names on ``owner`` first, else on the one live instance that declares them."""

    def resolve(node: Any) -> type[Node]:
        if isinstance(node, type) and issubclass(node, Node):
            return node
        if owner is not None and owner.node_type(node) is not None:
            return resolve_node_type(node, owner, str(node))
        return resolve_node_type(node, None, str(node))

    return resolve


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    detail = getattr(exc, "detail", None) or str(exc)
    return f"{code}: {detail}" if code else f"{type(exc).__name__}: {detail}"


class SagaCoordinator:
    """Runs sagas and recovers the unfinished ones.

    Args:
        db: The instance whose database keeps the saga table, and whose node types the step names
            refer to first. Without it, the table is in the first step's database.
        timeout: The ``timeout`` of each step's transaction (seconds; DF-603 beyond it).

    Example:
        ```python
        result = await SagaCoordinator(db).run([
            {"name": "order", "node": "OrderCreateNode", "params": {"item": "book"},
             "compensation": {"node": "OrderDeleteNode", "params": {"id": "${order.id}"}}},
            {"name": "charge", "node": "PaymentCreateNode", "params": {"order_id": "${order.id}"}},
        ])
        ```
    """

    def __init__(self, db: DataFlow | None = None, *, timeout: float | None = None) -> None:
        self._db = db
        self._resolve = resolver(db)
        self._options = transaction_options(timeout=timeout, where="SagaCoordinator")

    def parse(self, steps: Any, compensation_logic: Any = None) -> list[SagaStep]:
        """The checked steps of a definition (DF-605, DF-401 for an unknown node type)."""
        if isinstance(steps, list) and steps and all(isinstance(step, SagaStep) for step in steps):
            return list(steps)  # parsed already
        return parse_saga(steps, compensation_logic, self._resolve)

    def _store(self, steps: list[SagaStep]) -> SagaStore:
        context = self._db.execution_context if self._db is not None else steps[0].action.node.execution_context()
        return SagaStore(context)

    async def run(
        self, steps: Any, compensation_logic: Any = None, *, name: str = "saga", saga_id: str | None = None
    ) -> SagaResult:
        """Run a saga; return what it did (a failed step is reported in the result, not raised).

        Args:
            steps: ``[{"name": ..., "node": ..., "params": {...}, "compensation": {...}}, ...]``.
            compensation_logic: Step name -> ``{"node": ..., "params": {...}}`` (instead of inline).
            name: A name for the saga table and the logs.
            saga_id: The saga's id (default: a new one).

        Raises:
            InvalidSagaError: DF-605, for a definition not in this shape.
        """
        parsed = self.parse(steps, compensation_logic)
        saga_id = saga_id or uuid.uuid4().hex
        result = SagaResult(saga_id, name)
        if not parsed:
            return result
        store = self._store(parsed)
        await store.create(saga_id, name, definition(parsed))
        return await self._forward(store, parsed, result, start=0)

    async def _forward(self, store: SagaStore, steps: list[SagaStep], result: SagaResult, start: int) -> SagaResult:
        for step in steps[start:]:
            try:
                params = substitute(step.action.params, result.outputs)
                output = await self._run(store, result.saga_id, step.name, "forward", step.action, params)
                result.outputs[step.name] = output
            except Exception as exc:
                result.failed, result.error = step.name, _describe(exc)
                await store.log(result.saga_id, step.name, "forward", "failed", error=result.error)
                done = [s for s in steps if s.name in result.outputs]
                return await self._compensate(store, done, result)
            result.completed.append(step.name)
        await store.set_status(result.saga_id, "completed")
        return result

    async def _run(
        self, store: SagaStore, saga_id: str, step: str, kind: str, action: Action, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run one node in a transaction of its database; its log entry commits with it when the saga
        table is in the same database, else it is recorded as started before and done after."""
        context: ExecutionContext = action.node.execution_context()
        same = context is store.context
        if not same:
            await store.log(saga_id, step, kind, "started")
        async with context.transaction(self._options):
            output = await action.node().run(params)
            if same:
                await store.log(saga_id, step, kind, "done", output)
        if not same:
            await store.log(saga_id, step, kind, "done", output)
        return output

    async def _compensate(self, store: SagaStore, done: list[SagaStep], result: SagaResult) -> SagaResult:
        await store.set_status(result.saga_id, "compensating", result.error)
        for step in reversed(done):
            if step.name in result.compensated:
                continue
            if step.compensation is None:
                await store.log(result.saga_id, step.name, "compensate", "skipped", error="no compensation")
                continue
            try:
                params = substitute(step.compensation.params, result.outputs)
                await self._run(store, result.saga_id, step.name, "compensate", step.compensation, params)
            except Exception as exc:
                result.compensation_errors[step.name] = _describe(exc)
                await store.log(result.saga_id, step.name, "compensate", "failed", error=_describe(exc))
                continue
            result.compensated.append(step.name)
        result.status = "failed" if result.compensation_errors else "compensated"
        await store.set_status(result.saga_id, result.status, result.error)
        return result

    async def recover(self, *, resume: bool = False) -> list[SagaResult]:
        """Finish every saga of the saga table that a process left unfinished (it died, or a
        compensation failed).

        Args:
            resume: Continue a saga that was running forward from its first step not recorded as
                done (steps must then be safe to run twice). By default such a saga is compensated.

        Returns:
            One result per saga it finished.
        """
        if self._db is None:
            raise TypeError("SagaCoordinator(db).recover() needs the instance whose database keeps the saga table")
        store = SagaStore(self._db.execution_context)
        results = []
        for record in await store.unfinished():
            steps = self.parse(record.definition)
            result = SagaResult(record.saga_id, record.name, error=record.error)
            uncertain: list[str] = []
            for entry in await store.entries(record.saga_id):
                if entry.action == "forward" and entry.status == "done":
                    result.outputs[entry.step] = entry.output
                    result.completed.append(entry.step)
                elif entry.action == "forward" and entry.status == "started":
                    uncertain.append(entry.step)
                elif entry.action == "forward" and entry.status == "failed":
                    result.failed, result.error = entry.step, entry.error
                elif entry.action == "compensate" and entry.status == "done":
                    result.compensated.append(entry.step)
            if resume and record.status == "running" and result.failed is None:
                await store.set_status(record.saga_id, "running")
                results.append(await self._forward(store, steps, result, start=len(result.completed)))
                continue
            # A step started on another database and not recorded done may have committed: undo it too.
            involved = set(result.completed) | (set(uncertain) - set(result.completed))
            if result.failed is None:
                result.error = "the process running the saga stopped; compensated by recover()"
            results.append(await self._compensate(store, [s for s in steps if s.name in involved], result))
        return results
