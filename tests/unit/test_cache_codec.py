"""The Redis query cache's codec: what comes back equals what went in, type for type; what it cannot
encode raises (the result is then not cached); bytes it did not write are refused."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from dataflow._cache_codec import Unencodable, decode, encode

ROWS = [
    (1, "Lamp", 25.5, True, None),
    (2, "ü 🚀", -0.0, False, Decimal("12.3400")),
    (datetime(2026, 12, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=-5))), datetime(2026, 1, 1), date(2026, 2, 1)),
    (time(4, 5, 6), timedelta(days=-1, seconds=5), uuid.UUID(int=7), b"\x00\xffbytes"),
    ({"a": [1, {"b": None}], "l": ["x", 1.5]}, [1, [2, (3,)]], {"t": "x"}),
]


def test_rows_of_every_stored_type_come_back_equal_and_of_the_same_type() -> None:
    back = decode(encode(ROWS))
    assert back == ROWS
    for row, again in zip(ROWS, back, strict=True):
        assert type(again) is tuple
        assert [type(v) for v in row] == [type(v) for v in again]
    assert back[2][0].utcoffset() == timedelta(hours=-5)
    assert decode(encode(7)) == 7 and decode(encode(None)) is None
    assert math.isnan(decode(encode([float("nan")]))[0])


def test_a_driver_row_type_comes_back_as_a_tuple() -> None:
    class Record:  # what asyncpg.Record offers
        def __init__(self, **values: object) -> None:
            self._values = values

        def keys(self) -> list[str]:
            return list(self._values)

        def values(self) -> list[object]:
            return list(self._values.values())

        def __getitem__(self, key: object) -> object:
            return self._values[str(key)]

    assert decode(encode([Record(id=1, name="a")])) == [(1, "a")]


def test_a_value_without_a_tag_is_not_encoded() -> None:
    with pytest.raises(Unencodable, match="object"):
        encode([(1, object())])
    with pytest.raises(Unencodable, match="keys that are not str"):
        encode({1: "a"})


def test_bytes_it_did_not_write_are_refused() -> None:
    for data in (b"not json", b'{"zz": 1}', b'{"dec": "x", "b": 1}', b'{"dec": "x"}', b'{"d": 5}'):
        with pytest.raises(ValueError):
            decode(data)
