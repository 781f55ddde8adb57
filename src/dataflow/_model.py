"""Models: ``@db.model`` turns an annotated class into a table description.

The decorated class is returned unchanged, so the same class can be registered on several DataFlow
instances (one per test, for example).
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._errors import (
    InvalidModelError,
    InvalidModelOptionError,
    ManagedFieldError,
    MissingFieldError,
    UnknownFieldError,
)
from ._types import SUPPORTED_TYPES, FieldType, check_value, resolve_annotation

__all__ = ["DELETED_AT", "MISSING", "VERSION", "Field", "FieldSpec", "ModelSpec", "build_model_spec"]

#: The field ``soft_delete=True`` adds: when the row was deleted (NULL while it is live).
DELETED_AT = "deleted_at"
#: The field ``versioned=True`` adds: 1 on create, incremented by every update.
VERSION = "version"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), so two long names could collide there only.
_MAX_IDENTIFIER = 63


class Field:
    """Per-field options, used as the default value in a model class.

    Example:
        ```python
        @db.model
        class User:
            id: int
            email: str = Field(unique=True)
            name: str = Field(default="", index=True)
        ```

    Args:
        default: The value stored when a create does not pass the field.
        default_factory: A callable producing the default (for mutable values such as ``dict``).
        unique: Add a unique constraint (also makes the field usable as an upsert ``conflict_on``).
        index: Add a (non-unique) index.
    """

    __slots__ = ("default", "default_factory", "index", "unique")

    def __init__(
        self,
        default: Any = MISSING,
        *,
        default_factory: typing.Callable[[], Any] | None = None,
        unique: bool = False,
        index: bool = False,
    ) -> None:
        self.default = default
        self.default_factory = default_factory
        self.unique = unique
        self.index = index


@dataclass(frozen=True)
class FieldSpec:
    """One column of a model."""

    name: str
    kind: FieldType
    python_type: type
    nullable: bool
    default: Any = MISSING
    default_factory: typing.Callable[[], Any] | None = None
    unique: bool = False
    index: bool = False
    primary_key: bool = False

    @property
    def required(self) -> bool:
        """A create must pass this field (no default, not Optional, not an auto id)."""
        if self.primary_key:
            return self.kind is not FieldType.INT
        return self.default is MISSING and self.default_factory is None and not self.nullable

    def default_value(self) -> Any:
        """The value to store when a create omits the field."""
        if self.default_factory is not None:
            return self.default_factory()
        if self.default is not MISSING:
            return self.default
        return None


@dataclass(frozen=True)
class ModelSpec:
    """A model registered on a DataFlow instance."""

    name: str
    table: str
    fields: dict[str, FieldSpec]
    unique_together: tuple[tuple[str, ...], ...]
    indexes: tuple[tuple[str, ...], ...]
    cls: type
    #: ``@db.model(soft_delete=True)``: a ``deleted_at`` field; deletes mark rows, reads skip them.
    soft_delete: bool = False
    #: ``@db.model(versioned=True)``: a ``version`` field that every update increments.
    versioned: bool = False
    #: The fields the options add, which only DataFlow writes (``deleted_at``, ``version``).
    managed: frozenset[str] = frozenset()
    #: The field that holds each row's tenant (``@db.model(tenant=...)``), or ``None``.
    tenant_field: str | None = None
    #: The table is under PostgreSQL row-level security on the tenant field (``tenant_rls=True``).
    row_security: bool = False
    #: Values derived from this spec alone (node parameter descriptions), made once and shared by
    #: every instance that registers the same spec (not compared; ``replace()`` starts a new one).
    derived: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def primary_key(self) -> FieldSpec:
        """The ``id`` field."""
        return self.fields["id"]

    @property
    def auto_id(self) -> bool:
        """True when ``id`` is an int the database assigns."""
        return self.primary_key.kind is FieldType.INT

    def field_names(self) -> str:
        """Comma-separated field names, for messages."""
        return ", ".join(self.fields)

    def unique_targets(self) -> list[tuple[str, ...]]:
        """Every field set with a unique index: the primary key, unique fields, unique constraints."""
        targets: list[tuple[str, ...]] = [("id",)]
        targets += [(f.name,) for f in self.fields.values() if f.unique]
        targets += list(self.unique_together)
        if self.tenant_field is not None:  # unique per tenant: the caller may leave the tenant field out
            tenant = self.tenant_field
            targets += [tuple(n for n in t if n != tenant) for t in targets if tenant in t and len(t) > 1]
            targets += [(tenant, "id")]
        return targets

    def get_field(self, name: str, *, node: str | None = None, where: str = "parameters") -> FieldSpec:
        """Look up a field; raise DF-102 listing the valid names."""
        spec = self.fields.get(name) if isinstance(name, str) else None
        if spec is None:
            context: dict[str, Any] = {"model": self.name, "field": name}
            if node:
                context["node"] = node
            raise UnknownFieldError(
                f"Model {self.name} has no field {name!r} (in {where}). Valid fields: {self.field_names()}.",
                context=context,
            )
        return spec

    def check_values(
        self, values: typing.Mapping[str, Any], *, node: str | None = None, where: str = "parameters"
    ) -> dict[str, Any]:
        """Validate a mapping of field values (names and types); return normalized values."""
        if self.managed and not self.managed.isdisjoint(values):
            self.refuse_managed(values, node=node, where=where)
        checked = {}
        for name, value in values.items():
            spec = self.get_field(name, node=node, where=where)
            if value is None:
                if not spec.nullable and not (spec.primary_key and self.auto_id):
                    checked[name] = check_value(spec.kind, value, field=name, model=self.name)
                checked[name] = None
                continue
            checked[name] = check_value(spec.kind, value, field=name, model=self.name)
        return checked

    def refuse_managed(self, values: Iterable[str], *, node: str | None, where: str) -> None:
        """Raise DF-417 for the first managed field (``deleted_at``, ``version``) in ``values``."""
        name = next(n for n in values if n in self.managed)
        how = (
            "a Delete node sets it, and an Update node with restore=True clears it"
            if name == DELETED_AT
            else "it starts at 1 and every update increments it; pass expected_version= to check it"
        )
        raise ManagedFieldError(
            f"{node or self.name}: {name!r} in {where} is a field DataFlow maintains for model {self.name} "
            f"({how}). Leave it out.",
            context={"model": self.name, "node": node, "field": name},
        )

    def complete_for_insert(self, values: dict[str, Any], *, node: str | None = None) -> dict[str, Any]:
        """Apply defaults and check that every required field is present (DF-101)."""
        self.check_required(values, node=node)
        row = dict(values)
        for spec in self.fields.values():
            if spec.name not in row and not (spec.primary_key and self.auto_id):
                default = spec.default_value()
                row[spec.name] = (
                    check_value(spec.kind, default, field=spec.name, model=self.name)
                    if default is not None
                    else None
                )
        if self.auto_id and row.get("id") is None:
            row.pop("id", None)
        return row

    def check_required(self, values: typing.Mapping[str, Any], *, node: str | None = None) -> None:
        """Raise DF-101 when a required field has no value (defaults are not computed here)."""
        missing = [f.name for f in self.fields.values() if f.required and values.get(f.name) is None]
        if missing:
            context: dict[str, Any] = {"model": self.name, "field": missing[0], "operation": "create"}
            if node:
                context["node"] = node
            names = ", ".join(repr(m) for m in missing)
            raise MissingFieldError(
                f"{node or self.name + ' create'} is missing the required field{'s' if len(missing) > 1 else ''} "
                f"{names} (model {self.name}). Required fields: "
                f"{', '.join(f.name for f in self.fields.values() if f.required)}.",
                context=context,
            )


@functools.lru_cache(maxsize=1024)  # a function-scoped fixture registers the same models for every test
def _snake_plural(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    snake = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", snake).lower()
    if re.search(r"[^aeiou]y$", snake):
        return snake[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", snake):
        return snake + "es"
    return snake + "s"


def _normalize_groups(
    groups: Iterable[Sequence[str] | str] | None, what: str, model: str
) -> tuple[tuple[str, ...], ...]:
    result = []
    for group in groups or ():
        names = (group,) if isinstance(group, str) else tuple(group)
        if not names or not all(isinstance(n, str) for n in names):
            raise InvalidModelError(
                f"Model {model}: each entry of {what} must be a field name or a tuple of field names, got {group!r}.",
                context={"model": model},
            )
        result.append(names)
    return tuple(result)


def build_model_spec(
    cls: type,
    *,
    table: str | None = None,
    unique: Iterable[Sequence[str] | str] | None = None,
    indexes: Iterable[Sequence[str] | str] | None = None,
    namespace: Mapping[str, Any] | None = None,
    soft_delete: bool = False,
    versioned: bool = False,
) -> ModelSpec:
    """Read a class's annotations and defaults into a :class:`ModelSpec` (DF-104 on problems)."""
    if not isinstance(cls, type):
        raise InvalidModelError(
            f"@db.model expects a class, got {type(cls).__name__}.", context={"model": repr(cls)}
        )
    name = cls.__name__
    try:
        hints = typing.get_type_hints(cls, localns=namespace)
    except Exception as exc:  # unresolvable forward references and the like
        raise InvalidModelError(
            f"Model {name}: its type hints cannot be resolved ({exc}).", context={"model": name}
        ) from exc
    own = {
        k: v
        for k, v in hints.items()
        if not k.startswith("__") and typing.get_origin(v) is not typing.ClassVar
    }
    cacheable = unique is None and indexes is None  # their iterables may be mutated or consumed
    if cacheable:
        source = _spec_source(cls, own, table, soft_delete, versioned)
        built = _BUILT.get(cls)
        if built is not None and _same_source(built[0], source):
            return built[1]
    if "id" not in own:
        raise InvalidModelError(
            f"Model {name} has no 'id' field. Declare 'id: int' (auto-assigned) or 'id: str' as its primary key.",
            context={"model": name},
        )
    fields: dict[str, FieldSpec] = {}
    folded: dict[str, str] = {}
    for field_name, annotation in own.items():
        if not _IDENTIFIER.match(field_name) or len(field_name) > _MAX_IDENTIFIER:
            raise InvalidModelError(
                f"Model {name}: field name {field_name!r} must start with a letter, contain only letters, "
                f"digits and underscores, and be at most {_MAX_IDENTIFIER} characters long.",
                context={"model": name, "field": field_name},
            )
        # SQLite column names ignore case; PostgreSQL's quoted ones do not. Reject on both.
        other = folded.setdefault(field_name.lower(), field_name)
        if other != field_name:
            raise InvalidModelError(
                f"Model {name}: fields {other!r} and {field_name!r} differ only in case; SQLite treats them as "
                "the same column. Rename one of them.",
                context={"model": name, "field": field_name},
            )
        resolved = resolve_annotation(annotation)
        if resolved is None:
            raise InvalidModelError(
                f"Model {name}: field '{field_name}' has unsupported type {annotation!r}. "
                f"Supported types: {SUPPORTED_TYPES}.",
                context={"model": name, "field": field_name},
            )
        kind, nullable, python_type = resolved
        raw_default = cls.__dict__.get(field_name, MISSING)
        options = raw_default if isinstance(raw_default, Field) else Field(raw_default)
        primary = field_name == "id"
        if primary and (kind not in (FieldType.INT, FieldType.STR) or nullable):
            raise InvalidModelError(
                f"Model {name}: 'id' must be 'int' (auto-assigned) or 'str', not {annotation!r}.",
                context={"model": name, "field": "id"},
            )
        if options.default is not MISSING and options.default is not None:
            check_value(kind, options.default, field=field_name, model=name)
        fields[field_name] = FieldSpec(
            name=field_name,
            kind=kind,
            python_type=python_type,
            nullable=nullable,
            default=options.default,
            default_factory=options.default_factory,
            unique=options.unique and not primary,
            index=options.index and not primary,
            primary_key=primary,
        )
    managed = add_option_fields(name, fields, soft_delete=soft_delete, versioned=versioned)
    table_name = table or cls.__dict__.get("__tablename__") or _snake_plural(name)
    if (
        not isinstance(table_name, str)
        or not _IDENTIFIER.match(table_name)
        or len(table_name) > _MAX_IDENTIFIER
    ):
        raise InvalidModelError(
            f"Model {name}: table name {table_name!r} must start with a letter, contain only letters, "
            f"digits and underscores, and be at most {_MAX_IDENTIFIER} characters long.",
            context={"model": name},
        )
    unique_together = _normalize_groups(unique, "unique", name)
    index_groups = _normalize_groups(indexes, "indexes", name)
    for group in unique_together + index_groups:
        for field_name in group:
            if field_name not in fields:
                raise InvalidModelError(
                    f"Model {name}: unique/index entry {group!r} names unknown field {field_name!r}. "
                    f"Fields: {', '.join(fields)}.",
                    context={"model": name, "field": field_name},
                )
    spec = ModelSpec(
        name=name,
        table=table_name,
        fields=fields,
        unique_together=unique_together,
        indexes=index_groups,
        cls=cls,
        soft_delete=soft_delete,
        versioned=versioned,
        managed=managed,
    )
    if cacheable:
        _BUILT.pop(cls, None)
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.pop(next(iter(_BUILT)), None)
        _BUILT[cls] = (source, spec)
    return spec


#: The spec last built for each class, with what it was read from: a fixture that makes a fresh
#: DataFlow per test registers the same classes every time, and reading a class costs more than
#: comparing it. Bounded (the specs hold their classes, so a weak mapping would never let go).
_BUILT: dict[type, tuple[tuple[Any, ...], ModelSpec]] = {}
_BUILT_MAX = 256


def _spec_source(
    cls: type, hints: dict[str, Any], table: str | None, soft_delete: bool, versioned: bool
) -> tuple[Any, ...]:
    """Everything :func:`build_model_spec` reads to make a spec (but the unique/index groups)."""
    attributes = cls.__dict__
    return (
        (cls.__name__, table, attributes.get("__tablename__"), tuple(hints.items())),
        (soft_delete, versioned, *(attributes.get(name, MISSING) for name in hints)),
    )


def _same_source(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    # Names and type hints by equality (hints resolved from strings are new, equal objects on every
    # call); the options (1 is not True) and the defaults (whose own __eq__ may be anything) by identity.
    return old[0] == new[0] and len(old[1]) == len(new[1]) and all(a is b for a, b in zip(old[1], new[1], strict=True))


def add_option_fields(
    model: str, fields: dict[str, FieldSpec], *, soft_delete: Any, versioned: Any
) -> frozenset[str]:
    """Add the fields of ``soft_delete`` / ``versioned`` to ``fields``; return their names (DF-817)."""
    added: list[FieldSpec] = []
    for option, value, spec in (
        ("soft_delete", soft_delete, FieldSpec(DELETED_AT, FieldType.DATETIME, datetime, True, default=None)),
        ("versioned", versioned, FieldSpec(VERSION, FieldType.INT, int, False, default=1)),
    ):
        if type(value) is not bool:
            raise InvalidModelOptionError(
                f"Model {model}: {option} must be True or False, got {value!r:.40}.",
                context={"model": model, "option": option},
            )
        if not value:
            continue
        if spec.name in fields:
            raise InvalidModelOptionError(
                f"Model {model} declares a field {spec.name!r}, which {option}=True adds itself. Remove the "
                f"field, or rename it if it means something else.",
                context={"model": model, "option": option, "field": spec.name},
            )
        added.append(spec)
    for spec in added:
        fields[spec.name] = spec
    return frozenset(spec.name for spec in added)
