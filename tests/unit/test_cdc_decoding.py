"""The parser of PostgreSQL's ``test_decoding`` change lines (the integration tests read real slots)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataflow import ChangeEvent, ChangePosition
from dataflow._cdc._events import read_event
from dataflow._dialects._cdc_postgres import _Decoder, _typed_insert, parse_change
from dataflow._types import FieldType

INSERT = (
    "table public.users: INSERT: id[integer]:7 name[text]:'it''s new-tuple: here' "
    "email[character varying]:null tags[integer[]]:'{1,2}' active[boolean]:true note[text]:''"
)


def test_an_insert_with_quotes_nulls_arrays_and_an_empty_string() -> None:
    assert parse_change(INSERT) == (
        "public", "users", "INSERT",
        {"id": "7", "name": "it's new-tuple: here", "email": None, "tags": "{1,2}", "active": "true", "note": ""},
        None,
    )


def test_an_update_with_the_old_row_and_an_unchanged_toasted_value() -> None:
    line = (
        'table "My Schema"."odd ""t""": UPDATE: old-key: id[integer]:1 "a b"[text]:\'x new-tuple: y\' '
        "new-tuple: id[integer]:1 \"a b\"[text]:'z' big[text]:unchanged-toast-datum"
    )
    schema, table, operation, new, old = parse_change(line)  # type: ignore[misc]
    assert (schema, table, operation) == ("My Schema", 'odd "t"', "UPDATE")
    assert old == {"id": "1", "a b": "x new-tuple: y"}
    assert new is not None and new["a b"] == "z" and new["id"] == "1"
    assert new["big"] is not None and not isinstance(new["big"], str)  # left to the old row's value


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("table public.users: DELETE: id[integer]:3 name[text]:'gone'", ("DELETE", None, {"id": "3", "name": "gone"})),
        ("table public.users: DELETE: (no-tuple-data)", ("DELETE", None, None)),
        ("table public.users: TRUNCATE: (no-flags)", ("TRUNCATE", None, None)),
    ],
)
def test_deletes_and_other_operations(line: str, expected: tuple[str, object, object]) -> None:
    schema, table, operation, new, old = parse_change(line)  # type: ignore[misc]
    assert (operation, new, old) == expected


def test_a_line_that_is_not_a_table_change() -> None:
    assert parse_change("message: transactional: 1 prefix: dataflow, sz: 0 content:") is None


_NAMES = st.text(alphabet='ab "[]:\' _', min_size=1, max_size=6)
_TYPES = st.sampled_from(["integer", "text", "character varying", "integer[]", "timestamp with time zone"])
_VALUES = st.one_of(st.none(), st.integers().map(str), st.text(alphabet="ab '\"[]: -", max_size=8))


def _name(name: str) -> str:
    """A column name as test_decoding prints it (quote_identifier: quoted unless a plain lowercase word)."""
    plain = name.replace("_", "a").isalpha() and name.islower() and name[0] != "_"
    return name if plain else '"' + name.replace('"', '""') + '"'


def _column(name: str, kind: str, value: str | None) -> str:
    if value is None:
        return f"{_name(name)}[{kind}]:null"
    if kind == "integer" and value.lstrip("-").isdigit():
        return f"{_name(name)}[{kind}]:{value}"
    return f"{_name(name)}[{kind}]:'" + value.replace("'", "''") + "'"


@given(st.lists(st.tuples(_NAMES, _TYPES, _VALUES), min_size=1, max_size=6, unique_by=lambda c: c[0]))
def test_any_row_test_decoding_prints_parses_back(columns: list[tuple[str, str, str | None]]) -> None:
    line = "table public.t: INSERT: " + " ".join(_column(*c) for c in columns)
    parsed = parse_change(line)
    assert parsed is not None
    assert parsed[3] == {name: value for name, _, value in columns}


# A read decodes its table's INSERT lines through the layout the first one printed (one regex match a
# line); these check that the shortcut gives exactly the generic parse, and falls back when a line
# has another layout.

_ROWS = st.lists(st.lists(_VALUES, min_size=6, max_size=6), min_size=1, max_size=4)


def _decoded(decoder: _Decoder, line: str) -> dict[str, object] | None:
    result = decoder.decode(line)
    assert result is not None and result[0] == "INSERT" and result[2] is None
    return result[1]


@given(
    st.lists(st.tuples(_NAMES, _TYPES), min_size=1, max_size=6, unique_by=lambda c: c[0]),
    st.data(),
    _ROWS,
)
def test_lines_of_one_layout_decode_as_the_generic_parse(
    columns: list[tuple[str, str]], data: st.DataObject, rows: list[list[str | None]]
) -> None:
    # The model may declare a subset of the columns, in another order, and fields the line lacks.
    declared = data.draw(st.permutations([name for name, _ in columns] + ["absent"]))
    declared = declared[: data.draw(st.integers(1, len(declared)))]
    decoder = _Decoder("public", "t", frozenset({"INSERT"}), dict.fromkeys(declared, FieldType.STR))
    by_name = {name: str for name in declared}
    prefix = "table public.t: INSERT: "
    for values in rows:
        printed = zip(columns, values[: len(columns)], strict=True)
        line = prefix + " ".join(_column(name, kind, value) for (name, kind), value in printed)
        assert _decoded(decoder, line) == _typed_insert(line, len(prefix), by_name)
    assert decoder.layout  # learned from the first line, used by the others
    # A line of another layout (one column fewer, or a new one) still decodes, by the generic parse.
    for other in (columns[1:], [*columns, ("extra", "text")]):
        line = prefix + " ".join(_column(name, kind, "v") for name, kind in other)
        if other:
            assert _decoded(decoder, line) == _typed_insert(line, len(prefix), by_name)


def test_the_layout_converts_typed_columns_and_keeps_nulls_quotes_and_empty_strings() -> None:
    types = {"id": FieldType.INT, "name": FieldType.STR, "email": FieldType.STR, "note": FieldType.STR}
    decoder = _Decoder("public", "users", frozenset({"INSERT"}), types)
    first = "table public.users: INSERT: id[integer]:1 name[text]:'a' email[text]:'x' note[text]:'n'"
    line = "table public.users: INSERT: id[integer]:7 name[text]:'it''s' email[text]:null note[text]:''"
    assert _decoded(decoder, first) == {"id": 1, "name": "a", "email": "x", "note": "n"}
    assert _decoded(decoder, line) == {"id": 7, "name": "it's", "email": None, "note": ""}
    assert decoder.layout


def test_a_line_that_does_not_fill_its_columns_is_not_learned() -> None:
    decoder = _Decoder("public", "t", frozenset({"INSERT"}), {"id": FieldType.INT})
    line = "table public.t: INSERT: id[integer]:1  id2[integer]:2"  # two spaces: not test_decoding's layout
    assert _decoded(decoder, line) == _typed_insert(line, len("table public.t: INSERT: "), {"id": int})
    assert decoder.layout is False


def test_read_event_is_the_event_the_constructors_make() -> None:
    made = read_event("UPDATE", "users", {"id": 1}, {"id": 1, "n": "b"}, {"id": 1, "n": "a"}, 42, 3)
    assert made == ChangeEvent("UPDATE", "users", {"id": 1}, {"id": 1, "n": "b"}, {"id": 1, "n": "a"},
                               ChangePosition(42, 3))
    assert hash(made.position) == hash(ChangePosition(42, 3)) and made.position < ChangePosition(42, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.operation = "DELETE"  # type: ignore[misc]
