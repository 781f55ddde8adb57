"""The parser of PostgreSQL's ``test_decoding`` change lines (the integration tests read real slots)."""

from __future__ import annotations

import pytest

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
