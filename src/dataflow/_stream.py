"""Streaming a model's records in batches (``db.stream``): keyset pages by id, memory stays flat."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ._dialects import Connection
from ._errors import InvalidParameterError
from ._nodes import Node
from ._query import Statement

__all__ = ["RecordStream"]


class RecordStream:
    """``async for batch in db.stream("User", filter=..., batch_size=1000):`` lists of records, by id.

    Each batch is one ``SELECT ... WHERE (filter) AND id > <last id> ORDER BY id LIMIT batch_size``
    on the connection of the moment (the transaction's inside ``db.transaction()``). No cursor or
    connection is held between batches, so other operations can run while you iterate, and only
    one batch is in memory at a time however large the table is.

    The filter and ``batch_size`` are checked when the stream is created (DF-102, DF-103, DF-105,
    DF-201, DF-202), before any SQL is sent.
    """

    @classmethod
    def of(
        cls, node: type[Node] | None, model: Any, models: list[str], flt: Mapping[str, Any] | None, batch_size: int
    ) -> RecordStream:
        """The stream of ``node`` (a ListNode type); DF-105 when ``model`` is not one of ``models``."""
        if node is None:
            raise InvalidParameterError(
                f"stream() takes a model of this instance ({', '.join(models) or 'none'}), got {model!r:.60}.",
                context={"parameter": "model"},
            )
        return cls(node, flt, batch_size)

    def __init__(self, node: type[Node], flt: Mapping[str, Any] | None, batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(
                f"{node.model.name} stream: 'batch_size' must be an int >= 1, got {batch_size!r:.40}.",
                context=node.error_context(parameter="batch_size"),
            )
        self._node = node
        self._filter: Mapping[str, Any] = node.checked({"filter": flt}).get("filter") or {}
        node.statements.check_filter(self._filter, node.type_name)
        self.batch_size = batch_size

    def __aiter__(self) -> AsyncIterator[list[dict[str, Any]]]:
        return self._batches()

    async def _batches(self) -> AsyncIterator[list[dict[str, Any]]]:
        node, st, size = self._node, self._node.statements, self.batch_size
        last: Any = None
        while True:
            after = {"id": {"$gt": last}}
            flt = self._filter if last is None else ({"$and": [self._filter, after]} if self._filter else after)
            rows = await node.on_connection(functools.partial(_fetch, st.select(flt, limit=size, node=node.type_name)))
            if not rows:
                return
            batch = st.records(rows)
            last = batch[-1]["id"]
            yield batch
            if len(rows) < size:
                return

    async def records(self) -> AsyncIterator[dict[str, Any]]:
        """The same records one at a time (still fetched ``batch_size`` at a time)."""
        async for batch in self._batches():
            for record in batch:
                yield record


async def _fetch(statement: Statement, connection: Connection) -> list[Sequence[Any]]:
    return await connection.fetch(*statement)
