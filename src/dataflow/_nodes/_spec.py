"""The declarative description of a node: the parameters it takes and the outputs it gives.

One :class:`NodeSpec` per generated node class drives both build-time and run-time validation, so
the two cannot drift apart; the Inspector and the CLI read the same description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._types import FieldType

__all__ = ["Check", "NodeSpec", "OutputSpec", "ParamSpec"]

#: ``check(node_class, value) -> normalized value``; raises the DF error for a bad value.
Check = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a node takes.

    Attributes:
        name: The canonical name (``filter``).
        description: What it is, for docs, the Inspector and ``dataflow generate``.
        required: True when the node cannot run without it.
        aliases: Other accepted spellings (``filters``); giving two spellings at once is DF-105.
        field_type: The model field type the value must have, when it is one field's value.
        check: Validates and normalizes a value (run for static values at ``build()`` and for every
            value at run time).
    """

    name: str
    description: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    field_type: FieldType | None = None
    check: Check | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class OutputSpec:
    """One key of a node's output dict.

    Attributes:
        name: The key (``record``, ``count``, or a field name for nodes that return a record).
        field_type: The model field type of the value, when it is one field's value.
        description: What it holds.
    """

    name: str
    field_type: FieldType | None
    description: str
    #: Other names a connection may read it by (``results`` for a List node's ``records``).
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    """Everything a node type accepts and returns.

    Attributes:
        params: The parameters, in documentation order.
        outputs: The output keys.
        takes_fields: True when the parameters are the model's field values (Create nodes); then
            ``params`` lists the fields and an unknown name is DF-102 rather than DF-105.
    """

    params: tuple[ParamSpec, ...]
    outputs: tuple[OutputSpec, ...]
    takes_fields: bool = False
    #: Every accepted spelling -> its canonical name.
    canonical: dict[str, str] = field(init=False, repr=False, compare=False)
    by_name: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)
    #: The canonical names of the required parameters (every build checks them).
    required: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def output_name(self, name: str) -> str:
        """The output key that ``name`` (a key or an alias of one) stands for."""
        for output in self.outputs:
            if name in output.aliases:
                return output.name
        return name

    def __post_init__(self) -> None:
        canonical = {}
        for param in self.params:
            canonical[param.name] = param.name
            for alias in param.aliases:
                canonical[alias] = param.name
        object.__setattr__(self, "canonical", canonical)
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})
        object.__setattr__(self, "required", tuple(p.name for p in self.params if p.required))

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted parameter spelling, canonical names first."""
        return tuple(p.name for p in self.params) + tuple(a for p in self.params for a in p.aliases)

