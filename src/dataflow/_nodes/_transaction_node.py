"""TransactionContextNode: the nodes downstream of it run in one transaction.

``isolation_level`` and ``timeout`` are the options of ``db.transaction()``; ``retries`` runs the
downstream nodes again, in a new transaction, after a serialization failure or deadlock (DF-602).
The runtime runs the node first, then calls :meth:`TransactionContextNode.run_scope` with the
downstream nodes; their database is the transaction's (one database: DF-604 for more).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import InvalidTransactionOptionError
from .._tx_options import IsolationLevel, check_retries, check_timeout, transaction_options
from .._types import FieldType
from ._base import Node
from ._builtin import BuiltinNode
from ._spec import NodeSpec, OutputSpec, ParamSpec

if TYPE_CHECKING:
    from .._executor import ExecutionContext

__all__ = ["TransactionContextNode"]

WHERE = "TransactionContextNode"


def _isolation(cls: type[Node], value: Any) -> str | None:
    return None if value is None else IsolationLevel.parse(value, WHERE).name


def _timeout(cls: type[Node], value: Any) -> float | None:
    return check_timeout(value, WHERE)


def _retries(cls: type[Node], value: Any) -> int:
    return check_retries(value, WHERE)


class TransactionContextNode(BuiltinNode):
    """Run the nodes downstream of this one in one transaction, with an isolation level and a timeout.

    Example:
        ```python
        workflow.add_node("TransactionContextNode", "tx", {"isolation_level": "SERIALIZABLE", "retries": 3})
        workflow.add_node("AccountUpdateNode", "debit", {...})
        workflow.add_connection("tx", "status", "debit", "trigger")
        ```
    """

    operation = "transaction"
    type_name = "TransactionContextNode"
    scoped = True
    spec = NodeSpec(
        (
            ParamSpec(
                "isolation_level",
                "READ_COMMITTED, REPEATABLE_READ or SERIALIZABLE (SQLite runs every transaction serializable).",
                aliases=("isolation",),
                check=_isolation,
            ),
            ParamSpec("timeout", "Seconds a statement or lock wait may take (DF-603 beyond it).", check=_timeout),
            ParamSpec("retries", "Runs again after a serialization failure or deadlock (DF-602).", check=_retries),
        ),
        (
            OutputSpec("isolation_level", FieldType.STR, "The isolation level asked for (None: the default)."),
            OutputSpec("timeout", FieldType.FLOAT, "The timeout in seconds, or None."),
            OutputSpec("retries", FieldType.INT, "The retries allowed."),
            OutputSpec("status", FieldType.STR, "'open' for the downstream nodes; 'committed' once they ran."),
            OutputSpec("attempts", FieldType.INT, "How many times the downstream nodes ran (1 without a retry)."),
            OutputSpec("in_effect", FieldType.STR, "The isolation level the transaction ran at."),
        ),
    )

    async def execute(self, values: dict[str, Any]) -> dict[str, Any]:
        options = transaction_options(
            values.get("isolation_level"), values.get("timeout"), values.get("retries", 0), where=WHERE
        )
        return {**options.describe(), "status": "open"}

    async def run_scope(
        self, output: dict[str, Any], body: Callable[[], Awaitable[None]], contexts: Sequence[ExecutionContext]
    ) -> dict[str, Any]:
        options = transaction_options(output["isolation_level"], output["timeout"], output["retries"], where=WHERE)
        if not contexts:  # nothing downstream touches a database: there is nothing to commit
            await body()
            return {"status": "committed", "attempts": 1, "in_effect": None}
        if len(contexts) > 1:
            urls = ", ".join(context.url.redacted for context in contexts)
            raise InvalidTransactionOptionError(
                f"The nodes downstream of TransactionContextNode use {len(contexts)} databases ({urls}); one "
                "transaction covers one database. Use DistributedTransactionManagerNode (pattern '2pc' or "
                "'saga') for work on several databases.",
                context={"databases": [context.url.redacted for context in contexts]},
            )
        context = contexts[0]
        transaction = context.transaction(options)
        await transaction.run(body)
        in_effect = context.backend.isolation_in_effect(options.isolation)
        return {"status": "committed", "attempts": transaction.attempts, "in_effect": in_effect.name}
