"""Two-phase commit across databases: every participant commits, or none does.

``async with TwoPhaseCommit([orders_db, billing_db], log=orders_db):`` opens a transaction on each
participant; at the end of the block each one is prepared (``PREPARE TRANSACTION``), the decision
to commit is recorded in the coordinator's log (``dataflow_2pc_log`` in ``log``'s database), and
then each prepared transaction is committed (``COMMIT PREPARED``). When a participant fails before
or during its prepare, every participant is rolled back. A coordinator that dies after preparing
leaves prepared transactions behind; :meth:`TwoPhaseCommit.recover` resolves them from the log:
commit where the decision was recorded, roll back everywhere else.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from .._dialects import TableDDL
from .._errors import TwoPhaseCommitError, TwoPhaseCommitUnavailableError
from .._executor import ExecutionContext
from .._transaction import Transaction, TransactionState
from .._tx_options import TransactionOptions

if TYPE_CHECKING:
    from .._dataflow import DataFlow

__all__ = ["LOG_TABLE", "PREFIX", "TwoPhaseCommit", "check_two_phase"]

T = TypeVar("T")
LOG_TABLE = "dataflow_2pc_log"
#: Every global transaction id DataFlow prepares starts with this.
PREFIX = "df2pc_"
_DDL = TableDDL(
    LOG_TABLE,
    (
        f'CREATE TABLE IF NOT EXISTS "{LOG_TABLE}" ("id" TEXT PRIMARY KEY, "state" TEXT NOT NULL, '
        '"participants" TEXT NOT NULL, "created_at" TEXT NOT NULL, "updated_at" TEXT NOT NULL)',
    ),
    (LOG_TABLE,),
)


async def _outside(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` outside every transaction of the caller (a task with an empty context)."""
    return await asyncio.create_task(work(), context=contextvars.Context())  # type: ignore[arg-type]


async def _sql(context: ExecutionContext, sql: str, values: Sequence[Any] = ()) -> list[Any]:
    """Run one statement on a connection of its own (outside the caller's transactions)."""

    async def work() -> list[Any]:
        async with context.connection() as connection:
            return list(await connection.fetch(sql, values))

    return await _outside(work)


async def check_two_phase(contexts: Sequence[ExecutionContext]) -> None:
    """DF-606 unless every participant can prepare transactions (and none is inside a transaction)."""
    for context in contexts:
        where = context.url.redacted
        if context.current_transaction() is not None or context.pinned is not None:
            raise TwoPhaseCommitUnavailableError(
                f"{where} is inside db.transaction() or db.isolated(); a transaction that is already open "
                "cannot be prepared. Start the two-phase commit outside other transactions.",
                context={"participant": where},
            )
        if not context.backend.supports_two_phase:
            problem: str | None = "it has no PREPARE TRANSACTION"
        else:

            async def ask(context: ExecutionContext = context) -> str | None:
                async with context.connection() as connection:
                    return await connection.backend.two_phase_problem(connection)

            problem = await _outside(ask)
        if problem is not None:
            raise TwoPhaseCommitUnavailableError(
                f"{where} cannot take part in a two-phase commit: {problem}. Use a saga for it "
                "(DistributedTransactionManagerNode with pattern 'saga' or 'auto', or SagaCoordinator).",
                context={"participant": where, "reason": problem},
            )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def _write_log(log: ExecutionContext, gid: str, state: str, participants: list[str] | None = None) -> None:
    """Insert (with ``participants``) or update the log row of ``gid``, committed on its own."""

    async def work() -> None:
        async with log.connection() as connection:
            await connection.backend.create_table(connection, _DDL)
            params = connection.backend.params()
            if participants is not None:
                sql = (
                    f'INSERT INTO "{LOG_TABLE}" ("id", "state", "participants", "created_at", "updated_at") '
                    f"VALUES ({params.add(gid)}, {params.add(state)}, {params.add(json.dumps(participants))}, "
                    f"{params.add(_now())}, {params.add(_now())})"
                )
            else:
                sql = (
                    f'UPDATE "{LOG_TABLE}" SET "state" = {params.add(state)}, "updated_at" = '
                    f'{params.add(_now())} WHERE "id" = {params.add(gid)}'
                )
            await connection.execute(sql, params.values)

    await _outside(work)


def _context(db: DataFlow | ExecutionContext) -> ExecutionContext:
    return db if isinstance(db, ExecutionContext) else db.execution_context


class TwoPhaseCommit:
    """Commit work on several PostgreSQL databases atomically (PREPARE TRANSACTION / COMMIT PREPARED).

    Args:
        participants: The DataFlow instances whose work must commit together.
        log: The instance whose database keeps the coordinator's log (it may be a participant).
        timeout: The ``timeout`` of each participant's transaction (seconds).

    Raises:
        TwoPhaseCommitUnavailableError: DF-606 (on entering), for a SQLite participant or a server
            with ``max_prepared_transactions = 0``.
        TwoPhaseCommitError: DF-607 (on leaving), when a participant failed to prepare (nothing is
            committed) or a commit failed after the decision (call :meth:`recover`).

    Example:
        ```python
        async with TwoPhaseCommit([orders_db, billing_db], log=orders_db):
            await runtime.execute_workflow_async(orders_workflow)
            await runtime.execute_workflow_async(billing_workflow)
        ```
    """

    def __init__(
        self, participants: Sequence[DataFlow | ExecutionContext], *, log: DataFlow | ExecutionContext,
        timeout: float | None = None,
    ) -> None:
        contexts: dict[int, ExecutionContext] = {}
        for participant in participants:
            context = _context(participant)
            contexts.setdefault(id(context), context)
        self.contexts = list(contexts.values())
        self.log = _context(log)
        self.options = TransactionOptions(timeout=timeout)
        #: The global transaction id; participant ``i`` prepares as ``<gid>_<i>``.
        self.gid = PREFIX + uuid.uuid4().hex
        #: ``new``, ``open``, ``prepared``, ``committed``, ``rolled back``.
        self.state = "new"
        self._transactions: list[Transaction] = []

    def _participant_gid(self, index: int) -> str:
        return f"{self.gid}_{index}"

    async def _log(self, state: str, *, insert: bool = False) -> None:
        names = [context.url.redacted for context in self.contexts] if insert else None
        await _write_log(self.log, self.gid, state, names)

    async def begin(self) -> None:
        """Check the participants, record the transaction in the log and open one transaction on each."""
        await check_two_phase(self.contexts)
        await self._log("preparing", insert=True)
        try:
            for index, context in enumerate(self.contexts):
                transaction = context.transaction(self.options)
                transaction.prepare_as = self._participant_gid(index)
                await transaction.__aenter__()
                self._transactions.append(transaction)
        except BaseException:
            await self.rollback()
            raise
        self.state = "open"

    async def prepare(self) -> None:
        """Phase one: PREPARE TRANSACTION on every participant (DF-607 and a rollback everywhere on a failure)."""
        for index, transaction in enumerate(self._transactions):
            try:
                await transaction.__aexit__(None, None, None)
            except Exception as exc:
                await self.rollback()
                where = self.contexts[index].url.redacted
                raise TwoPhaseCommitError(
                    f"Participant {index} ({where}) failed to prepare: {getattr(exc, 'detail', exc)}. Every "
                    "participant was rolled back; nothing was committed.",
                    context={"participant": where, "gid": self.gid, "phase": "prepare"},
                ) from exc
        self.state = "prepared"

    async def decide(self) -> None:
        """Record the decision to commit in the log (after it, :meth:`recover` commits the prepared work)."""
        await self._log("committing")

    async def commit(self) -> None:
        """Phase two: record the decision, then COMMIT PREPARED on every participant."""
        await self.decide()
        failures = []
        for index, context in enumerate(self.contexts):
            try:
                await _sql(context, context.backend.commit_prepared_sql(self._participant_gid(index)))
            except Exception as exc:
                failures.append((context.url.redacted, exc))
        if failures:
            where, first = failures[0]
            raise TwoPhaseCommitError(
                f"COMMIT PREPARED failed on {where} after the decision to commit: {first}. The log records "
                "the decision: run TwoPhaseCommit.recover(...) to commit what is still prepared.",
                context={"participant": where, "gid": self.gid, "phase": "commit"},
            ) from first
        await self._log("committed")
        self.state = "committed"

    async def rollback(self) -> None:
        """Roll back every participant: open transactions and prepared ones."""
        for index, transaction in enumerate(self._transactions):
            context = self.contexts[index]
            if transaction.state is TransactionState.ACTIVE:
                await transaction.__aexit__(RuntimeError, RuntimeError("two-phase commit rolled back"), None)
            elif transaction.state is TransactionState.PREPARED:
                await _sql(context, context.backend.rollback_prepared_sql(self._participant_gid(index)))
                context.forget_tables(transaction.created_tables)  # their CREATE TABLE is undone too
        await self._log("aborted")
        self.state = "rolled back"

    async def __aenter__(self) -> TwoPhaseCommit:
        await self.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            await self.rollback()
            return
        await self.prepare()
        await self.commit()

    @staticmethod
    async def recover(
        participants: Sequence[DataFlow | ExecutionContext], *, log: DataFlow | ExecutionContext
    ) -> dict[str, str]:
        """Resolve the prepared transactions a dead coordinator left on ``participants``: commit those
        whose decision ``log`` recorded, roll back the others that ``log`` knows.

        Call it when no coordinator writing to ``log`` is running (at startup): a transaction that a
        live coordinator is still preparing would be rolled back.

        Returns:
            Global id -> ``"committed"`` or ``"rolled back"``, for each transaction it resolved.
        """
        log_context = _context(log)

        async def read() -> dict[str, str]:
            async with log_context.connection() as connection:
                await connection.backend.create_table(connection, _DDL)
                rows = await connection.fetch(f'SELECT "id", "state" FROM "{LOG_TABLE}"')
            return {str(gid): str(state) for gid, state in rows}

        decided = await _outside(read)
        outcome: dict[str, str] = {}
        for participant in participants:
            context = _context(participant)
            if not context.backend.supports_two_phase:
                continue
            sql, values = context.backend.prepared_query(PREFIX)
            for (gid,) in await _sql(context, sql, values):
                global_id = str(gid).rsplit("_", 1)[0]
                state = decided.get(global_id)
                if state is None:
                    continue  # another coordinator's transaction
                commit = state in ("committing", "committed")
                spell = context.backend.commit_prepared_sql if commit else context.backend.rollback_prepared_sql
                await _sql(context, spell(str(gid)))
                outcome[global_id] = "committed" if commit else "rolled back"
        for global_id, state in decided.items():  # every transaction the log knows is now resolved
            if state in ("preparing", "committing"):
                await _write_log(log_context, global_id, "committed" if state == "committing" else "aborted")
                outcome.setdefault(global_id, "committed" if state == "committing" else "rolled back")
        return outcome
