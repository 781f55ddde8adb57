"""A saga's definition: its steps, each a node with parameters and an optional compensation, checked
(DF-605) and turned into what the coordinator runs and what the saga table stores.

A parameter value ``"${step.path}"`` (the whole string) is replaced, when the step or compensation
runs, by the value at ``path`` in the output of the earlier step ``step`` (``"${reserve.id}"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import InvalidSagaError
from .._nodes import Node

__all__ = ["Action", "Resolver", "SagaStep", "definition", "parse_saga", "substitute"]

#: Resolves a node type name (or takes a node class) to the node class.
Resolver = Callable[[Any], type[Node]]

_REF = re.compile(r"^\$\{([A-Za-z_][\w-]*)((?:\.[^.}]+)*)\}$")
_STEP_KEYS = {"name", "node", "params", "compensation"}
_ACTION_KEYS = {"node", "params"}


@dataclass(frozen=True)
class Action:
    """One node run: the node class and its parameters (which may hold ``${step.path}`` references)."""

    node: type[Node]
    params: dict[str, Any]

    def stored(self) -> dict[str, Any]:
        return {"node": self.node.type_name, "params": self.params}


@dataclass(frozen=True)
class SagaStep:
    """A step: what it does, and what undoes it (``None``: nothing can undo it)."""

    name: str
    action: Action
    compensation: Action | None


def _fail(detail: str, **context: Any) -> InvalidSagaError:
    return InvalidSagaError(detail, context=context)


def _references(value: Any) -> list[str]:
    """The step names that ``${step.path}`` values in ``value`` refer to."""
    if isinstance(value, str):
        match = _REF.match(value)
        return [match.group(1)] if match else []
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in _references(item)]
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in _references(item)]
    return []


def _action(raw: Any, where: str, resolve: Resolver, known: set[str]) -> Action:
    if not isinstance(raw, Mapping) or "node" not in raw or set(raw) - _ACTION_KEYS:
        raise _fail(
            f"{where} must be a dict {{'node': <node type>, 'params': {{...}}}}, got {raw!r:.200}.", where=where
        )
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        raise _fail(f"{where}: 'params' must be a dict, got {type(params).__name__}.", where=where)
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        detail = f"{where}: 'params' must be JSON values (the saga table stores them): {exc}."
        raise _fail(detail, where=where) from None
    for name in _references(params):
        if name not in known:
            raise _fail(
                f"{where} refers to '${{{name}...}}', which is not a step that runs before it "
                f"(earlier steps: {', '.join(sorted(known)) or 'none'}).",
                where=where,
            )
    node = resolve(raw["node"])
    if not node.needs_database:
        raise _fail(f"{where}: {node.type_name} is not a database node; a saga step changes a database.", where=where)
    return Action(node, dict(params))


def parse_saga(steps: Any, compensation_logic: Any, resolve: Resolver) -> list[SagaStep]:
    """The checked steps (DF-605 for a definition not in the documented shape)."""
    if steps is None:
        steps = []
    if not isinstance(steps, (list, tuple)):
        raise _fail(f"A saga's 'steps' must be a list of step dicts, got {type(steps).__name__}.")
    logic = {} if compensation_logic is None else compensation_logic
    if not isinstance(logic, Mapping):
        raise _fail(
            "'compensation_logic' must be a dict of step name -> {'node': ..., 'params': {...}}, got "
            f"{type(logic).__name__} {logic!r:.80}.",
        )
    parsed: list[SagaStep] = []
    seen: set[str] = set()
    for index, raw in enumerate(steps):
        if not isinstance(raw, Mapping) or set(raw) - _STEP_KEYS or "node" not in raw:
            raise _fail(
                f"Saga step {index} must be a dict with 'name', 'node', 'params' (and 'compensation'), "
                f"got {raw!r:.200}.",
                step=index,
            )
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"Saga step {index} needs a 'name' (a non-empty string), got {name!r}.", step=index)
        if name in seen:
            raise _fail(f"Two saga steps are named {name!r}; each step needs its own name.", step=name)
        action = _action({k: v for k, v in raw.items() if k in _ACTION_KEYS}, f"Step {name!r}", resolve, seen)
        inline, listed = raw.get("compensation"), logic.get(name)
        if inline is not None and listed is not None:
            raise _fail(f"Step {name!r} has a compensation both inline and in compensation_logic; give one.", step=name)
        seen.add(name)
        raw_compensation = inline if inline is not None else listed
        compensation = (
            None
            if raw_compensation is None
            else _action(raw_compensation, f"The compensation of step {name!r}", resolve, seen)
        )
        parsed.append(SagaStep(name, action, compensation))
    unknown = sorted(set(logic) - seen)
    if unknown:
        raise _fail(
            f"compensation_logic names {', '.join(repr(u) for u in unknown)}, which the saga has no step for "
            f"(steps: {', '.join(sorted(seen)) or 'none'}).",
            steps=sorted(seen),
        )
    return parsed


def definition(steps: list[SagaStep]) -> list[dict[str, Any]]:
    """The steps as JSON values, as the saga table stores them (node types by name)."""
    return [
        {
            "name": step.name,
            **step.action.stored(),
            "compensation": step.compensation.stored() if step.compensation is not None else None,
        }
        for step in steps
    ]


def _lookup(outputs: Mapping[str, Any], name: str, path: str) -> Any:
    if name not in outputs:
        raise _fail(f"'${{{name}{path}}}' refers to step {name!r}, which has no output (it did not complete).")
    value = outputs[name]
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise _fail(f"'${{{name}{path}}}': {part!r} is not in the output of step {name!r}.")
    return value


def substitute(value: Any, outputs: Mapping[str, Any]) -> Any:
    """``value`` with every ``${step.path}`` replaced by that step's output value."""
    if isinstance(value, str):
        match = _REF.match(value)
        return _lookup(outputs, match.group(1), match.group(2)) if match else value
    if isinstance(value, Mapping):
        return {key: substitute(item, outputs) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, outputs) for item in value]
    return value
