"""The recorder behind DeadlockDetectorNode, RaceConditionDetectorNode and PerformanceAnomalyNode.

``watch(db)`` gives the instance a :class:`Watch`. From then on every statement DataFlow runs for it
(its nodes' statements and those of ``db.connection()``) is timed and kept with its SQL, the
statements of each open transaction are kept with the server session that runs them (so a deadlock
names what both sides ran), the single-row writes of its nodes are kept with their transaction, and
the conflicts and lock waits its nodes and transaction blocks raise are counted. Everything is kept
in bounded windows. An instance nobody watches has no recorder: the hook points check one attribute.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._error_base import DataFlowError
from .._errors import InvalidMonitorOptionError, MonitoredDatabaseError, PoolClosedError
from .._executor import ExecutionContext
from .._observe import WatchState

if TYPE_CHECKING:
    from .._dataflow import DataFlow
    from .._dialects import Connection
    from .._transaction import Transaction

__all__ = ["Watch", "watch", "watches"]

T = TypeVar("T")

logger = logging.getLogger("dataflow")

#: Statements (distinct SQL texts) kept per instance; the least recently run are dropped first.
MAX_STATEMENTS = 500
#: Timings kept per statement.
SAMPLES = 2000
#: Statements kept per open transaction (the last ones).
TX_STATEMENTS = 50
#: Transaction logs kept after their transactions end (a deadlock's other side may commit before
#: the victim's error is handled).
RECENT_LOGS = 64
#: Conflict, lock wait and lost-update events kept.
EVENTS = 500
#: Single-row writes kept.
WRITES = 5000
#: Seconds a deadlock report waits for a connection to read the other side's query.
LOOKUP_TIMEOUT = 1.0
#: The connection methods that run SQL (the first argument is the statement).
_RUNS_SQL = frozenset({"execute", "fetch", "executemany", "fetch_many", "copy_records", "script"})

#: What a DF-603 waited for when it was a lock wait (SQLite's write lock, a PostgreSQL lock).
_LOCK_WAITS = ("write lock", "lock wait")
#: Event kind -> its counter.
_COUNTERS = {
    "deadlock": "deadlocks",
    "serialization_failure": "serialization_failures",
    "lock_wait": "lock_wait_failures",
    "lost_update": "lost_updates",
}

_every: weakref.WeakSet[Watch] = weakref.WeakSet()
_labels = itertools.count(1)


def _sql_of(name: str, args: tuple[Any, ...]) -> str:
    if name == "fetch_many":
        return "; ".join(sql for sql, _ in args[0])
    if name == "copy_records":
        return f"COPY {args[0]} ({', '.join(args[1])}) FROM STDIN"
    return str(args[0])


class _TxLog:
    """What one open transaction ran, and on which server session."""

    __slots__ = ("label", "order", "session", "statements")

    def __init__(self, session: int | None) -> None:
        self.order = next(_labels)
        self.label = f"tx-{self.order}"
        self.session = session
        self.statements: deque[str] = deque(maxlen=TX_STATEMENTS)


class _Recorded:
    """A connection whose statements are timed and recorded; everything else goes to the connection."""

    __slots__ = ("_raw", "_watch", "_model", "_host")

    def __init__(self, raw: Connection, watch: Watch, model: str | None, host: ExecutionContext) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_watch", watch)
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_host", host)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._raw, name)
        if name not in _RUNS_SQL:
            return value

        async def timed(*args: Any, **kwargs: Any) -> Any:
            sql = _sql_of(name, args)
            self._watch.started(sql, self._host)
            started = time.perf_counter()
            try:
                result = await value(*args, **kwargs)
            except DataFlowError as error:
                self._watch.statement(sql, time.perf_counter() - started, self._model, self._host, error)
                await self._watch.look_up_sessions(error, self._host)
                raise
            self._watch.statement(sql, time.perf_counter() - started, self._model, self._host, None)
            return result

        return timed

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._raw, name, value)


class Watch:
    """What one instance's statements, transactions and node writes did (see the module docstring).

    Attributes:
        capturing: True while statements and writes are recorded (:meth:`stop` ends it; conflicts
            and lock waits are counted as long as the watch exists).
        listeners: Called as ``listener(sql, seconds, model)`` after each recorded statement (the
            OpenTelemetry export records its histogram so).
    """

    def __init__(self, context: ExecutionContext) -> None:
        self._context = weakref.ref(context)
        self.database = context.url.redacted
        self.capturing = True
        self.listeners: list[Callable[[str, float, str | None], None]] = []
        self.reset()
        _every.add(self)

    def reset(self) -> None:
        """Forget everything recorded so far (the watch keeps recording)."""
        #: SQL -> (wall time, seconds, model) of its recent runs.
        self.samples: OrderedDict[str, deque[tuple[float, float, str | None]]] = OrderedDict()
        self._tx_logs: weakref.WeakKeyDictionary[Transaction, _TxLog] = weakref.WeakKeyDictionary()
        self._recent_logs: deque[_TxLog] = deque(maxlen=RECENT_LOGS)
        self._recent_errors: deque[BaseException] = deque(maxlen=64)
        #: Deadlocks, serialization failures, lock waits that gave up, lost updates (dicts).
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS)
        self.counts = {"deadlocks": 0, "serialization_failures": 0, "lock_wait_failures": 0, "lost_updates": 0}
        #: (model, id, writer label, wall time, workflow) of single-row writes.
        self.writes: deque[tuple[str, Any, str, float, str | None]] = deque(maxlen=WRITES)
        #: Server session -> the query it ran in the last lock wait graph read (a deadlock names it).
        self.seen_waiting: dict[int, str] = {}
        self._last_deadlock: tuple[DataFlowError, dict[str, Any]] | None = None

    @property
    def alive(self) -> bool:
        """Whether the watched instance still exists."""
        return self._context() is not None

    @property
    def context(self) -> ExecutionContext:
        """The execution context of the watched instance (DF-504 once the instance is gone)."""
        context = self._context()
        if context is None:
            raise PoolClosedError(f"The DataFlow instance on {self.database} that this watch records no longer exists.")
        return context

    def forget(self, *kinds: str) -> None:
        """Forget the events of these kinds and their counts (``deadlock``, ``serialization_failure``,
        ``lock_wait``, ``lost_update``)."""
        unknown = sorted(set(kinds) - set(_COUNTERS))
        if unknown:
            raise InvalidMonitorOptionError(
                f"Watch.forget() takes event kinds among {sorted(_COUNTERS)}, got {unknown}.",
                context={"option": "kinds", "value": repr(unknown)[:60], "where": "Watch.forget"},
            )
        kept = [e for e in self.events if e["kind"] not in kinds]
        self.events.clear()
        self.events.extend(kept)
        for kind in kinds:
            self.counts[_COUNTERS[kind]] = 0

    def stop(self) -> None:
        """Stop timing statements and recording writes (what was recorded stays readable)."""
        self.capturing = False

    # --- what the hook points call (dataflow._observe.Watcher) -------------------------------

    def wrap(
        self, operation: Callable[[Connection], Awaitable[T]], model: str | None, host: Any
    ) -> Callable[[Connection], Awaitable[T]]:
        """``operation`` with its statements recorded (``host``: the execution context that runs it)."""

        def recorded(connection: Connection) -> Awaitable[T]:
            return operation(self.wrap_connection(connection, model, host))

        return recorded

    def wrap_connection(self, connection: Connection, model: str | None, host: Any) -> Connection:
        """``connection`` with its statements recorded (itself once :meth:`stop` was called)."""
        if not self.capturing:
            return connection
        return _Recorded(connection, self, model, host)  # type: ignore[return-value]

    def statement(
        self, sql: str, seconds: float, model: str | None, host: ExecutionContext, error: DataFlowError | None
    ) -> None:
        """One statement ran for ``seconds`` (and raised ``error``)."""
        now = time.time()
        runs = self.samples.pop(sql, None) or deque(maxlen=SAMPLES)
        self.samples[sql] = runs
        runs.append((now, seconds, model))
        while len(self.samples) > MAX_STATEMENTS:
            self.samples.popitem(last=False)
        for listener in list(self.listeners):
            try:
                listener(sql, seconds, model)
            except Exception:  # noqa: BLE001 - an observer must never break the statement it observes
                logger.debug("DataFlow: a statement listener failed", exc_info=True)
        if error is not None:
            self.failed(error, host.current_transaction())

    def started(self, sql: str, host: ExecutionContext) -> None:
        """A statement starts: its transaction's log has it while it runs (a blocked one included)."""
        transaction = host.current_transaction()
        if transaction is not None:
            self._log(transaction.root).statements.append(sql)

    def _log(self, transaction: Transaction) -> _TxLog:
        log = self._tx_logs.get(transaction)
        if log is None:
            log = self._tx_logs[transaction] = _TxLog(transaction.connection.session)
            self._recent_logs.append(log)
        return log

    def failed(self, error: DataFlowError, transaction: Transaction | None) -> None:
        """Count a conflict, a lock wait that gave up or a lost update (each error once)."""
        if any(seen is error or seen is error.__cause__ for seen in self._recent_errors):
            return
        self._recent_errors.append(error)
        root = transaction.root if transaction is not None else None
        log = self._tx_logs.get(root) if root is not None else None
        event: dict[str, Any] = {
            "code": error.code,
            "database": self.database,
            "at": time.time(),
            "message": error.detail,
            "workflow": root.workflow if root is not None else None,
            "statements": list(log.statements) if log is not None else [],
        }
        context = error.context
        if error.code == "DF-602" and context.get("conflict") == "deadlock":
            self.counts["deadlocks"] += 1
            sides = self._deadlock_sides(context.get("sessions", []), log)
            event.update(kind="deadlock", transactions=sides)
            self._last_deadlock = (error, event)
        elif error.code == "DF-602":
            self.counts["serialization_failures"] += 1
            event["kind"] = "serialization_failure"
        elif error.code == "DF-510" or (error.code == "DF-603" and context.get("waited_for") in _LOCK_WAITS):
            self.counts["lock_wait_failures"] += 1
            event["kind"] = "lock_wait"
        elif error.code == "DF-310":  # a versioned row changed since it was read (StaleRecordError)
            self.counts["lost_updates"] += 1
            event.update(kind="lost_update", model=context.get("model"), id=context.get("id"))
        else:
            return
        self.events.append(event)

    def _deadlock_sides(self, sessions: list[int], victim: _TxLog | None) -> list[dict[str, Any]]:
        """Each session of a deadlock with the statements its transaction ran (DataFlow's own
        transactions, on any watched instance), else the query the lock wait graph last showed."""
        if victim is not None and victim.session is not None and victim.session not in sessions:
            sessions = [victim.session, *sessions]
        sides = []
        for session in sessions:
            log = victim if victim is not None and victim.session == session else _session_log(session)
            if log is not None:
                statements, source = list(log.statements), "dataflow"
            elif session in self.seen_waiting:
                statements, source = [self.seen_waiting[session]], "pg_stat_activity"
            else:
                statements, source = [], None
            sides.append(
                {
                    "session": session,
                    "victim": victim is not None and victim.session == session,
                    "statements": statements,
                    "statement": statements[-1] if statements else None,
                    "source": source,
                }
            )
        return sides

    async def look_up_sessions(self, error: DataFlowError, host: ExecutionContext) -> None:
        """For a deadlock whose other side is not DataFlow's (another process), read that session's
        query from the server while it still waits (it waits until this transaction rolls back)."""
        last = self._last_deadlock
        event = last[1] if last is not None and last[0] is error else None
        self._last_deadlock = None
        unknown = [side for side in event["transactions"] if side["source"] is None] if event else []
        sql = host.backend.session_queries_sql()
        if not unknown or sql is None:
            return
        try:  # on a connection of its own: this transaction's connection is aborted
            pool = await host.pools.get()
            connection = await asyncio.wait_for(pool.acquire(), LOOKUP_TIMEOUT)
            try:
                rows = await connection.fetch(sql, [[side["session"] for side in unknown]])
            finally:
                await pool.release(connection)
        except (DataFlowError, TimeoutError):  # best effort: the deadlock error is what matters
            return
        queries = {int(session): query for session, query in rows}
        for side in unknown:
            query = queries.get(side["session"])
            if query:
                side.update(statements=[query], statement=query, source="pg_stat_activity")

    def node_ran(
        self, model: str, operation: str, output: Mapping[str, Any], transaction: Transaction | None
    ) -> None:
        """A model's node ran: keep a single-row write (create, update, delete, upsert) with its writer."""
        if not self.capturing or operation not in ("create", "update", "delete", "upsert"):
            return
        record = output.get("record") if operation == "upsert" else output
        row_id = record.get("id") if isinstance(record, Mapping) else None
        if row_id is None:
            return
        root = transaction.root if transaction is not None else None
        writer = self._log(root).label if root is not None else f"op-{next(_labels)}"
        self.writes.append((model, row_id, writer, time.time(), root.workflow if root is not None else None))


def _session_log(session: int) -> _TxLog | None:
    """The log of the transaction of any watched instance that runs on server ``session``: the open
    one, else the last one to start there (the other side of a deadlock commits as soon as the
    victim's transaction is aborted, which can be before the victim's task sees its error)."""
    last: _TxLog | None = None
    for each in list(_every):
        for transaction, log in list(each._tx_logs.items()):
            if log.session == session and transaction.state.value == "active":
                return log
        for log in each._recent_logs:
            if log.session == session and (last is None or log.order > last.order):
                last = log
    return last


def _context(db: Any) -> ExecutionContext:
    if isinstance(db, ExecutionContext):
        return db
    context = getattr(db, "execution_context", None)
    if not isinstance(context, ExecutionContext):
        raise MonitoredDatabaseError(
            f"Only a DataFlow instance can be watched, got {type(db).__name__} ({db!r:.60}). Pass the "
            "DataFlow object your models are declared on: watch(db).",
            context={"got": type(db).__name__},
        )
    return context


def watch(db: DataFlow | ExecutionContext) -> Watch:
    """Start recording what ``db`` runs (idempotent): statement timings, the statements of each
    transaction, single-row writes, conflicts and lock waits. The monitoring nodes call it for the
    databases they look at; call it at startup to record from the first statement.

    Raises:
        MonitoredDatabaseError: DF-421, ``db`` is not a DataFlow instance.
    """
    context = _context(db)
    found = context.watch
    if not isinstance(found, Watch):
        found = Watch(context)
        context.watch = found
    found.capturing = True
    WatchState.watching = True
    return found


def watches(databases: tuple[Any, ...]) -> list[Watch]:
    """The watches of ``databases`` (each started if it was not)."""
    return [watch(db) for db in databases]
