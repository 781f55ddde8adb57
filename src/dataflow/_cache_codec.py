"""How the Redis query cache stores a read's result: JSON with tagged values, never pickle.

A cached result is what a read operation returned: rows from the driver (tuples, asyncpg records),
a count, a record. JSON's own scalars (``None``, ``bool``, ``int``, ``float``, ``str``) are stored as
they are; every other value is a one-key object whose key names its type, so what comes back is
equal to what went in, type for type (``Decimal`` stays ``Decimal``, a tuple stays a tuple, a
timezone-aware ``datetime`` keeps its offset). A row of the driver comes back as a tuple. A value of
any other type raises :class:`Unencodable`: the result is then not cached, it is never cached wrong.

Pickle is not used on purpose: whoever can write to the Redis server could otherwise run code in
every process that reads from it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

__all__ = ["Unencodable", "decode", "encode"]


class Unencodable(TypeError):
    """A value the codec has no tag for (the result is not cached)."""


def _tagged(value: Any) -> Any:
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return {"l": [_tagged(v) for v in value]}
    if kind is tuple:
        return {"t": [_tagged(v) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise Unencodable(f"a dict with keys that are not str: {sorted(map(repr, value))[:3]}")
        return {"m": {k: _tagged(v) for k, v in value.items()}}
    for tag, types, dump in _SCALARS:
        if isinstance(value, types):
            return {tag: dump(value)}
    if hasattr(value, "keys") and hasattr(value, "values") and hasattr(value, "__getitem__"):
        return {"t": [_tagged(v) for v in value.values()]}  # a driver's row type (asyncpg.Record)
    raise Unencodable(f"no encoding for a value of type {kind.__qualname__}")


def _plain(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, body),) = value.items()
    if tag == "l":
        return [_plain(v) for v in body]
    if tag == "t":
        return tuple(_plain(v) for v in body)
    if tag == "m":
        return {k: _plain(v) for k, v in body.items()}
    return _LOADERS[tag](body)


#: (tag, types, encode) in the order they are tried: datetime before its base class date.
_SCALARS: tuple[tuple[str, type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    ("dt", datetime, datetime.isoformat),
    ("d", date, date.isoformat),
    ("tm", time, time.isoformat),
    ("td", timedelta, lambda v: [v.days, v.seconds, v.microseconds]),
    ("dec", Decimal, str),
    ("b", (bytes, bytearray, memoryview), lambda v: base64.b64encode(bytes(v)).decode("ascii")),
    ("u", uuid.UUID, str),
)
_LOADERS: dict[str, Callable[[Any], Any]] = {
    "dt": datetime.fromisoformat,
    "d": date.fromisoformat,
    "tm": time.fromisoformat,
    "td": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "dec": Decimal,
    "b": base64.b64decode,
    "u": uuid.UUID,
}


def encode(value: Any) -> bytes:
    """The stored form of ``value`` (:class:`Unencodable` for a type without a tag)."""
    return json.dumps(_tagged(value), separators=(",", ":"), allow_nan=True).encode()


def decode(data: bytes) -> Any:
    """What :func:`encode` was given (``ValueError`` for bytes it did not write)."""
    try:
        return _plain(json.loads(data))
    except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValueError(f"not an entry of the query cache: {exc}") from exc
