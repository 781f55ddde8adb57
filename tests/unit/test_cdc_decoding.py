"""The parser of PostgreSQL's ``test_decoding`` change lines (the integration tests read real slots)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataflow._dialects._cdc_postgres import parse_change

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
