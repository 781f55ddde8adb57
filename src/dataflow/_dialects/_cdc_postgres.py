"""PostgreSQL change capture: one logical replication slot per feed, decoded with ``test_decoding``.

The slot is read with ``pg_logical_slot_peek_changes`` and advanced with
``pg_replication_slot_advance`` only past transactions whose changes the feed's consumer has all
acknowledged: advancing into a transaction would make PostgreSQL send the whole transaction again.
A change's position is ``(end LSN of its commit record, index in its transaction)``. Tables get
``REPLICA IDENTITY FULL`` so updates and deletes carry the old row.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from .._errors import ChangeFeedNotFoundError, LogicalDecodingUnavailableError, TransactionError
from .._types import FieldType
from ._base import quote_ident
from ._capture import CapturedChange, ChangeCapture, SQLConnection

__all__ = ["PostgresCapture", "parse_change"]

PLUGIN = "test_decoding"
SLOT_PREFIX = "dataflow_"
#: Seconds a read inside a transaction waits for the WAL writer (synchronous_commit=off).
FLUSH_WAIT = 2.0
_MISSING = object()
_UNCHANGED = "unchanged-toast-datum"
_HEAD = re.compile(
    r"table (?P<schema>\"(?:[^\"]|\"\")*\"|[^.]+)\.(?P<table>\"(?:[^\"]|\"\")*\"|[^:]+): (?P<op>[A-Z]+):"
)


def _ident(text: str) -> str:
    return text[1:-1].replace('""', '"') if text.startswith('"') else text


def lsn_int(text: str) -> int:
    """``'0/16B3748'`` -> an int that orders like the LSN."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def lsn_text(value: int) -> str:
    """The inverse of :func:`lsn_int`."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


#: One column of a test_decoding tuple: ``name[type]:value``; the name may be quoted ("a ""b"""), the
#: type may hold spaces and brackets (``character varying``, ``integer[]``: it ends at the first
#: ``]:``), the value is quoted ('it''s') or a bare word (numbers, ``true``, ``null``, ``unchanged-toast-datum``).
#: The quoted parts are written as unrolled loops (``[^']*(?:''[^']*)*``), not as ``(?:[^']|'')*``:
#: matched a run of characters at a time, a change line parses in half the time.
_COLUMN = re.compile(
    r"(?:\"([^\"]*(?:\"\"[^\"]*)*)\"|([^\[ ]+))"  # the name
    r"\[[^\]]*(?:\](?!:)[^\]]*)*\]:"  # [type]:
    r"(?:'([^']*(?:''[^']*)*)'|([^ ]*))"  # the value
)
_NEXT_COLUMN = re.compile(r" *" + _COLUMN.pattern)


def _value(quoted: str, raw: str) -> Any:
    if quoted or not raw:  # a quoted value ('' included: test_decoding never prints a bare empty word)
        return quoted.replace("''", "'") if "''" in quoted else quoted
    return None if raw == "null" else _MISSING if raw == _UNCHANGED else raw


def _tuple(text: str, pos: int) -> tuple[dict[str, Any], int]:
    """Parse ``name[type]:value ...`` from ``pos`` until a ``new-tuple:`` marker (or the end)."""
    values: dict[str, Any] = {}
    match = _NEXT_COLUMN.match
    while (found := match(text, pos)) is not None:  # a marker is not name[type]:, so it stops here
        quoted_name, name, quoted, raw = found.groups()
        values[name or quoted_name.replace('""', '"')] = _value(quoted, raw)
        pos = found.end()
    return values, pos


def _tail(text: str, pos: int) -> dict[str, Any]:
    """Parse the columns from ``pos`` to the end of the line (one regex pass)."""
    values: dict[str, Any] = {}
    for quoted_name, name, quoted, raw in _COLUMN.findall(text, pos):
        if not name:
            name = quoted_name.replace('""', '"')
        if raw:  # _value() inlined: this runs for every column of every change read
            values[name] = None if raw == "null" else _MISSING if raw == _UNCHANGED else raw
        else:
            values[name] = quoted.replace("''", "'") if "''" in quoted else quoted
    return values


def parse_change(data: str) -> tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None] | None:
    """``(schema, table, operation, new, old)`` of one ``test_decoding`` change line (values as text)."""
    head = _HEAD.match(data)
    if head is None:
        return None
    operation = head["op"]
    rest = data[head.end() :].lstrip()
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    if rest.startswith("(no-tuple-data)") or operation not in ("INSERT", "UPDATE", "DELETE"):
        pass
    elif rest.startswith("old-key:"):
        old, pos = _tuple(rest, len("old-key:"))
        new = _tail(rest, rest.index("new-tuple:", pos) + len("new-tuple:"))
    elif operation == "DELETE":
        old = _tail(rest, 0)
    else:
        new = _tail(rest, 0)
    return _ident(head["schema"]), _ident(head["table"]), operation, new, old


def _bool(text: str) -> bool:
    return text == "true"


#: How a column's text becomes its field's value (types not listed stay text).
_CONVERTERS: dict[FieldType, Callable[[str], Any]] = {
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOL: _bool,
    FieldType.DECIMAL: Decimal,
    FieldType.DATETIME: datetime.fromisoformat,
    FieldType.DATE: date.fromisoformat,
    FieldType.JSON: json.loads,
}

_Converters = tuple[tuple[str, Callable[[str], Any]], ...]


def _converters(types: dict[str, FieldType]) -> _Converters:
    """Each column's converter, looked up once per read rather than once per value."""
    # str() of a str is the str itself, and a C call: cheaper than an identity function of our own.
    return tuple((name, _CONVERTERS.get(kind, str)) for name, kind in types.items())


def _row(values: dict[str, Any] | None, converters: _Converters, base: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    row: dict[str, Any] = {}
    for name, convert in converters:
        value = values.get(name)  # test_decoding leaves NULLs out of old tuples
        if value is None:
            row[name] = None
        elif value is _MISSING:
            row[name] = (base or {}).get(name)
        else:
            row[name] = convert(value)
    return row


def _typed_insert(text: str, pos: int, converters: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """An INSERT's new tuple from ``pos``, parsed and typed in one pass (the common change, so the
    generic path's intermediate dict of texts is skipped). Columns the model does not declare are
    left out, missing ones are ``None``, as :func:`_row` does; an insert has no unchanged-toast value."""
    row: dict[str, Any] = dict.fromkeys(converters)
    for quoted_name, name, quoted, raw in _COLUMN.findall(text, pos):
        key = name or quoted_name.replace('""', '"')
        convert = converters.get(key)
        if convert is None:
            continue
        if raw:
            row[key] = None if raw == "null" else convert(raw)
        else:
            row[key] = convert(quoted.replace("''", "'") if "''" in quoted else quoted)
    return row


#: One value as test_decoding prints it: quoted ('it''s') or a bare word; its two groups as in _COLUMN.
_VALUE = r"(?:'([^']*(?:''[^']*)*)'|([^ ]*))"


class _InsertLayout:
    """The columns of a table's INSERT lines as one line printed them: a regex of their literal
    ``name[type]:`` heads, so a line of the same layout is one match instead of a search per column.
    Quoted values double their quotes, so a value never reads as the next column's head."""

    __slots__ = ("pattern", "slots", "complete")

    def __init__(self, heads: list[str], names: list[str], converters: dict[str, Callable[[str], Any]]) -> None:
        self.pattern = re.compile(" ".join(re.escape(head) + _VALUE for head in heads) + r"\Z")
        #: The declared columns: field name, converter, index of the column's quoted-value group.
        self.slots = tuple((name, converters[name], 2 * i) for i, name in enumerate(names) if name in converters)
        #: Whether the line has every field, in the model's order: then the row is built as it is read.
        self.complete = names == list(converters)

    def row(self, groups: tuple[str | None, ...], converters: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
        """What :func:`_typed_insert` returns for the line these groups matched."""
        row: dict[str, Any] = {} if self.complete else dict.fromkeys(converters)
        for name, convert, i in self.slots:
            raw = groups[i + 1]
            if raw:
                row[name] = None if raw == "null" else convert(raw)
            else:
                quoted = groups[i] or ""
                row[name] = convert(quoted.replace("''", "'") if "''" in quoted else quoted)
        return row

    @classmethod
    def of(cls, text: str, pos: int, converters: dict[str, Callable[[str], Any]]) -> _InsertLayout | None:
        """The layout of the INSERT columns from ``pos``; ``None`` unless they fill the line, one space apart."""
        heads: list[str] = []
        names: list[str] = []
        while pos < len(text):
            found = _COLUMN.match(text, pos + 1 if heads else pos)
            if found is None or (heads and text[pos] != " "):
                return None
            quoted_name, name, quoted, _ = found.groups()
            value_start = found.start(3) - 1 if quoted is not None else found.start(4)
            heads.append(text[found.start() : value_start])
            names.append(name if name else quoted_name.replace('""', '"'))
            pos = found.end()
        return cls(heads, names, converters) if heads else None


class _Decoder:
    """Turns one feed's ``test_decoding`` lines into typed ``(operation, new, old)``, or ``None`` for a
    line of another table or an operation the feed does not capture."""

    def __init__(self, schema: str, table: str, operations: frozenset[str], types: dict[str, FieldType]) -> None:
        self.schema, self.table, self.operations = schema, table, operations
        self.converters = _converters(types)
        self.by_name = dict(self.converters)
        #: How test_decoding starts this table's lines when neither name needs quotes; a line that
        #: starts otherwise may still be this table's (a quoted name), so it takes the generic parse.
        self.prefix = f"table {schema}.{table}: "
        #: The layout of the first INSERT line read (learned once per read; ``False``: not learnable).
        self.layout: _InsertLayout | Literal[False] | None = None

    def decode(self, text: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None] | None:
        prefix = self.prefix
        if text.startswith(prefix) and text.startswith("INSERT: ", len(prefix)):
            if "INSERT" not in self.operations:
                return None
            start = len(prefix) + 8
            if text.startswith("(no-tuple-data)", start):
                return "INSERT", None, None
            layout = self.layout
            if layout is None:
                layout = self.layout = _InsertLayout.of(text, start, self.by_name) or False
            if layout:
                found = layout.pattern.match(text, start)
                if found is not None:
                    return "INSERT", layout.row(found.groups(), self.by_name), None
            return "INSERT", _typed_insert(text, start, self.by_name), None
        parsed = parse_change(text)
        if parsed is None or parsed[0] != self.schema or parsed[1] != self.table or parsed[2] not in self.operations:
            return None
        old = _row(parsed[4], self.converters, None)
        return parsed[2], _row(parsed[3], self.converters, old), old


class PostgresCapture(ChangeCapture):
    """A ``test_decoding`` slot per feed, read by peeking and advanced past acknowledged transactions."""

    async def slot(self, connection: SQLConnection, feed: str) -> str:
        """The slot name of ``feed``: slots are per server, so the database is in it."""
        database = str((await connection.fetch("SELECT current_database()"))[0][0])
        return f"{SLOT_PREFIX}{feed}_{zlib.crc32(database.encode()):08x}"

    async def check(self, connection: SQLConnection) -> None:
        level = str((await connection.fetch("SHOW wal_level"))[0][0])
        if level != "logical":
            raise LogicalDecodingUnavailableError(
                f"The server runs with wal_level={level}; change feeds read the write-ahead log through "
                "logical decoding, which needs wal_level=logical.",
                fix="Run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (or start it with "
                "-c wal_level=logical).",
                context={"wal_level": level},
            )
        rows = await connection.fetch(
            "SELECT current_user, rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user"
        )
        if rows and not rows[0][1]:
            user = str(rows[0][0])
            raise LogicalDecodingUnavailableError(
                f"The user {user!r} may not use replication slots: PostgreSQL lets only superusers and roles "
                "with the REPLICATION attribute create and read them.",
                fix=f'Run ALTER ROLE "{user}" REPLICATION; as a superuser, or connect as a role that has it.',
                context={"user": user},
            )

    async def install(self, connection: SQLConnection, table: str) -> None:
        rows = await connection.fetch(
            "SELECT relreplident FROM pg_class WHERE oid = to_regclass($1)", [quote_ident(table)]
        )
        if not rows or str(rows[0][0]) != "f":
            await connection.execute(f"ALTER TABLE {quote_ident(table)} REPLICA IDENTITY FULL")

    async def uninstall(self, connection: SQLConnection, table: str) -> None:
        return None  # REPLICA IDENTITY FULL stays: other tools may rely on it

    async def outdated(self, connection: SQLConnection, table: str) -> str | None:
        return None  # logical decoding follows column changes by itself

    async def create_slot(self, connection: SQLConnection, feed: str) -> tuple[int, int] | None:
        if connection.tx_depth:
            raise TransactionError(
                f"Change feed {feed!r} is created inside a transaction; PostgreSQL creates a replication slot "
                "only outside one. Call feed.create() outside db.transaction() and db.isolated().",
                context={"feed": feed},
            )
        slot = await self.slot(connection, feed)
        if await connection.fetch("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [slot]):
            return None
        rows = await connection.fetch(
            "SELECT lsn::text FROM pg_create_logical_replication_slot($1, $2)", [slot, PLUGIN]
        )
        return (lsn_int(str(rows[0][0])), 0)

    async def drop_slot(self, connection: SQLConnection, feed: str) -> bool:
        slot = await self.slot(connection, feed)
        rows = await connection.fetch(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            [slot],
        )
        return bool(rows)

    async def _flush(self, connection: SQLConnection) -> None:
        """Make every commit so far decodable: logical decoding reads only WAL that is flushed.

        With ``synchronous_commit=off`` a commit reaches the flush up to 3 x ``wal_writer_delay``
        later. Outside a transaction, committing a transaction that writes an empty logical message
        with ``synchronous_commit=on`` flushes everything before it; inside one, wait (at most
        FLUSH_WAIT) for the WAL writer. Called only when WAL was inserted past the flush with
        ``synchronous_commit=off``.
        """
        if not connection.tx_depth:
            # One simple-protocol round trip. An empty transaction commits asynchronously; one that
            # wrote WAL (the empty logical message) flushes at commit.
            try:
                await connection.execute(
                    "BEGIN; SET LOCAL synchronous_commit = on; "
                    "SELECT pg_logical_emit_message(true, 'dataflow', ''); COMMIT"
                )
            except BaseException:
                await connection.execute("ROLLBACK")  # a failure skips the COMMIT: end the block
                raise
            return
        target = str((await connection.fetch("SELECT pg_current_wal_insert_lsn()::text"))[0][0])
        deadline = asyncio.get_running_loop().time() + FLUSH_WAIT
        while not (await connection.fetch("SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn", [target]))[
            0
        ][0]:
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.01)

    async def fetch(
        self,
        connection: SQLConnection,
        feed: str,
        table: str,
        after: tuple[int, int],
        operations: frozenset[str],
        types: dict[str, FieldType],
        limit: int,
    ) -> list[CapturedChange]:
        # One round trip for what a read needs to know first: the slot (its name has the database in
        # it), the schema, and whether a commit may still be unflushed (see _flush).
        prefix = f"{SLOT_PREFIX}{feed}_"
        database, schema, slots, unflushed = (
            await connection.fetch(
                "SELECT current_database(), current_schema(), "
                "ARRAY(SELECT slot_name::text FROM pg_replication_slots WHERE starts_with(slot_name::text, $1)), "
                "current_setting('synchronous_commit') = 'off' "
                "AND pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn()",
                [prefix],
            )
        )[0]
        slot = f"{prefix}{zlib.crc32(str(database).encode()):08x}"
        if slot not in slots:
            raise ChangeFeedNotFoundError(
                f"The replication slot {slot!r} of change feed {feed!r} does not exist (it was dropped outside "
                "DataFlow, or the database was restored without it); the changes it kept are gone. Run "
                "await feed.drop(), then await feed.create() to deliver changes from now on.",
                context={"feed": feed, "slot": slot},
            )
        if unflushed:
            await self._flush(connection)
        decoder = _Decoder(str(schema), table, operations, types)
        advanced = -1
        while True:
            rows = await connection.fetch(
                "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2, 'include-xids', '0')",
                [slot, max(limit, 100)],
            )
            events: list[CapturedChange] = []
            done: int | None = None
            pending: list[tuple[int, str, dict[str, Any] | None, dict[str, Any] | None]] = []
            index = 0
            for lsn, data in rows:
                text = str(data)
                if text == "BEGIN":
                    pending, index = [], 0
                    continue
                if text == "COMMIT":
                    commit = lsn_int(str(lsn))
                    matching = [CapturedChange(commit, *change) for change in pending if (commit, change[0]) > after]
                    if not matching and not events:
                        done = commit  # every change of it was acknowledged, or none is this feed's
                    events.extend(matching)
                    if len(events) >= limit:
                        break
                    continue
                decoded = decoder.decode(text)
                if decoded is not None:
                    pending.append((index, *decoded))
                index += 1
            if done is not None:
                await connection.fetch(
                    "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)", [slot, lsn_text(done)]
                )
            if events or not rows or done is None or done <= advanced:
                return events[:limit]
            advanced = done

    async def prune(self, connection: SQLConnection, table: str, upto: tuple[int, int]) -> None:
        return None  # the slot is advanced by fetch, past fully acknowledged transactions

    async def retained_bytes(
        self, connection: SQLConnection, feed: str, table: str, after: tuple[int, int]
    ) -> int:
        rows = await connection.fetch(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = $1",
            [await self.slot(connection, feed)],
        )
        return int(rows[0][0] or 0) if rows else 0

    async def orphans(self, connection: SQLConnection, feeds: Sequence[str]) -> dict[str, int]:
        known = {await self.slot(connection, feed) for feed in feeds}
        rows = await connection.fetch(
            "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots "
            "WHERE database = current_database() AND plugin = $1 AND starts_with(slot_name::text, $2)",
            [PLUGIN, SLOT_PREFIX],
        )
        return {str(name): int(size or 0) for name, size in rows if str(name) not in known}
