"""Field types: which Python types a model may use, how values are checked and stored.

Values are validated in Python before any SQL runs, so both backends reject the same inputs with the
same DF-103 error. Storage differs per backend (see ARCHITECTURE.md, "Value types"); what a query
returns does not.
"""

from __future__ import annotations

import json
import math
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from ._errors import TypeMismatchError

__all__ = ["FieldType", "check_value", "json_dump", "resolve_annotation"]


class FieldType(StrEnum):
    """The storage kinds DataFlow supports."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATETIME = "datetime"
    DATE = "date"
    DECIMAL = "Decimal"
    JSON = "json"


_PYTHON_TYPES: dict[Any, FieldType] = {
    str: FieldType.STR,
    int: FieldType.INT,
    float: FieldType.FLOAT,
    bool: FieldType.BOOL,
    datetime: FieldType.DATETIME,
    date: FieldType.DATE,
    Decimal: FieldType.DECIMAL,
    dict: FieldType.JSON,
    list: FieldType.JSON,
}

SUPPORTED_TYPES = "str, int, float, bool, datetime, date, Decimal, dict, list (and Optional[...] of those)"


def resolve_annotation(annotation: Any) -> tuple[FieldType, bool, type] | None:
    """Map an annotation to ``(field type, nullable, python type)``; ``None`` if unsupported."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(annotation)) == len(args):
            return None
        nullable = True
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin in (dict, list):  # dict[str, Any], list[int] ...
        annotation = origin
    kind = _PYTHON_TYPES.get(annotation)
    if kind is None:
        return None
    return kind, nullable, annotation


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_value(kind: FieldType, value: Any, *, field: str, model: str) -> Any:
    """Validate ``value`` for a field of ``kind``; return the normalized Python value.

    Raises:
        TypeMismatchError: DF-103, naming the field and the expected type.
    """

    def mismatch(expected: str, extra: str = "") -> TypeMismatchError:
        return TypeMismatchError(
            f"Field '{field}' of model {model} expects {expected}, got {_describe(value)}.{extra}",
            context={"model": model, "field": field, "expected": expected},
        )

    if kind is FieldType.STR:
        if not isinstance(value, str):
            raise mismatch("str")
        if "\x00" in value:
            raise mismatch("str", " Strings cannot contain NUL (\\x00) characters.")
        if not _is_utf8_encodable(value):
            raise mismatch(
                "str", " Strings must be valid Unicode; lone surrogates (\\ud800-\\udfff) cannot be stored."
            )
        return value
    if kind is FieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise mismatch("int")
        if not -(2**63) <= value < 2**63:
            raise mismatch("int", " The value does not fit in 64 bits.")
        return value
    if kind is FieldType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise mismatch("float")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise mismatch("float", " NaN and infinity are not stored identically by both backends.")
        return value
    if kind is FieldType.BOOL:
        if not isinstance(value, bool):
            raise mismatch("bool")
        return value
    if kind is FieldType.DATETIME:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise mismatch("datetime (or an ISO 8601 string)") from None
        if not isinstance(value, datetime):
            raise mismatch("datetime")
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. datetime.min with a positive UTC offset
            raise mismatch("datetime", " The value is out of range once converted to UTC.") from None
    if kind is FieldType.DATE:
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise mismatch("date (or an ISO 8601 string)") from None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise mismatch("date")
        return value
    if kind is FieldType.DECIMAL:
        if isinstance(value, bool):
            raise mismatch("Decimal")
        if isinstance(value, (int, str, float)):
            try:
                value = Decimal(str(value))
            except InvalidOperation:
                raise mismatch("Decimal") from None
        if not isinstance(value, Decimal):
            raise mismatch("Decimal")
        if not value.is_finite():
            raise mismatch("Decimal", " NaN and infinity are not supported.")
        return value
    if kind is FieldType.JSON:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise mismatch("a JSON-serializable dict or list") from None
        if "\\u0000" in json.dumps(value):
            raise mismatch("JSON", " JSON values cannot contain NUL (\\x00) characters.")
        if not _is_utf8_encodable(json_dump(value)):
            raise mismatch("JSON", " JSON values must be valid Unicode; lone surrogates cannot be stored.")
        return value
    raise AssertionError(kind)  # pragma: no cover


def json_dump(value: Any) -> str:
    """Compact JSON text, as both backends store it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
