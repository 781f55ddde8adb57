"""Pydantic models of a DataFlow model's records, what creates and updates send, and errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from .._model import ModelSpec
from .._types import FieldType

__all__ = ["ErrorBody", "ModelSchemas", "schemas_for"]

_PYTHON: dict[FieldType, Any] = {
    FieldType.STR: str,
    FieldType.INT: int,
    FieldType.FLOAT: float,
    FieldType.BOOL: bool,
    FieldType.DATETIME: datetime,
    FieldType.DATE: date,
    FieldType.DECIMAL: Decimal,
    FieldType.JSON: Any,
}


class ErrorDetail(BaseModel):
    """A DataFlow error as the gateway returns it."""

    code: str = Field(description="The DF- code, e.g. DF-301.")
    title: str
    message: str
    url: str = Field(description="The troubleshooting section of the code.")


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx response of the gateway."""

    error: ErrorDetail


class ModelSchemas:
    """The request and response models of one DataFlow model."""

    def __init__(self, spec: ModelSpec) -> None:
        record: dict[str, Any] = {}
        create: dict[str, Any] = {}
        update: dict[str, Any] = {}
        given: dict[str, Any] = {}
        for field in spec.fields.values():
            kind = _PYTHON[field.kind]
            stored = Optional[kind] if field.nullable else kind  # noqa: UP045 - built at run time
            record[field.name] = (stored, ...)
            if field.name in spec.managed:  # deleted_at / version: in records, never in requests (DF-417)
                continue
            if field.name == spec.tenant_field:
                continue  # set from the authenticated principal, never from the request body
            if field.primary_key and not field.required:
                create[field.name] = (Optional[kind], None)  # noqa: UP045
            elif field.required:
                create[field.name] = (stored, ...)
            else:
                create[field.name] = (Optional[kind], None)  # noqa: UP045
            given[field.name] = (Optional[kind], None)  # noqa: UP045
            if not field.primary_key:
                update[field.name] = (Optional[kind], None)  # noqa: UP045
        strict = ConfigDict(extra="forbid")
        self.record: type[BaseModel] = create_model(f"{spec.name}", **record)
        self.create: type[BaseModel] = create_model(f"{spec.name}Create", __config__=strict, **create)
        self.update: type[BaseModel] = create_model(f"{spec.name}Update", __config__=strict, **update)
        self.fields: type[BaseModel] = create_model(f"{spec.name}Fields", __config__=strict, **given)
        self.page: type[BaseModel] = create_model(
            f"{spec.name}Page", records=(list[self.record], ...), count=(int, ...)  # type: ignore[name-defined]
        )
        upsert: dict[str, Any] = {
            "where": (self.fields, ...),
            "update": (Optional[self.update], None),  # noqa: UP045
            "create": (Optional[self.fields], None),  # noqa: UP045
            "conflict_on": (Optional[list[str]], None),  # noqa: UP045
        }
        self.upsert: type[BaseModel] = create_model(f"{spec.name}Upsert", __config__=strict, **upsert)
        self.upserted: type[BaseModel] = create_model(
            f"{spec.name}Upserted", created=(bool, ...), record=(self.record, ...)
        )


def schemas_for(spec: ModelSpec) -> ModelSchemas:
    """The pydantic models of ``spec``'s endpoints."""
    return ModelSchemas(spec)
