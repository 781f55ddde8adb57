"""Conditions of a SwitchNode: a small expression language, evaluated without ``eval``.

A condition such as ``"len(check) > 0"`` is parsed with :mod:`ast` and checked against a short
list of allowed constructs when the workflow is built; running it walks the tree. Names are the
node's ``input`` and the ids of the nodes connected into it; calls are limited to a few pure
builtins; there are no attributes, no imports, no lambdas, no comprehensions.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import InvalidConditionError

__all__ = ["Condition", "compile_condition"]

MAX_LENGTH = 500

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "bool": bool, "int": int, "float": float, "str": str, "abs": abs,
    "min": min, "max": max, "any": any, "all": all, "sum": sum,
}  # fmt: skip
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}  # fmt: skip
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}  # fmt: skip
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


class Condition:
    """A checked condition: :attr:`names` it reads, :meth:`evaluate` to run it."""

    def __init__(self, source: str, tree: ast.Expression, names: frozenset[str]) -> None:
        self.source = source
        self._tree = tree
        self.names = names

    def evaluate(self, namespace: Mapping[str, Any]) -> bool:
        """The condition's truth value with ``namespace`` bound to its names."""
        return bool(_evaluate(self._tree.body, namespace))


def _reject(source: str, why: str, context: Mapping[str, Any]) -> InvalidConditionError:
    return InvalidConditionError(f"Condition {source!r:.120} {why}.", context=dict(context))


def compile_condition(source: Any, context: Mapping[str, Any]) -> Condition:
    """Parse and check ``source``; DF-408 naming what is not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidConditionError(
            f"A SwitchNode 'condition' must be a non-empty expression string, got {source!r:.60}.",
            context=dict(context),
        )
    if len(source) > MAX_LENGTH:
        raise _reject(source, f"is longer than {MAX_LENGTH} characters", context)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise _reject(source, f"is not a valid expression ({exc.msg})", context) from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
                allowed = ", ".join(sorted(_FUNCTIONS))
                raise _reject(source, f"calls something other than these functions: {allowed}", context)
        elif isinstance(node, ast.Name):
            if node.id not in _FUNCTIONS:
                names.add(node.id)
        elif not isinstance(node, _ALLOWED):
            raise _reject(source, f"uses {type(node).__name__}, which conditions do not allow", context)
    return Condition(source, tree, frozenset(names))


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.BinOp, ast.Compare, ast.Constant,
    ast.List, ast.Tuple, ast.Set, ast.Subscript, ast.Load, ast.expr_context,
    *_BINARY, *_COMPARE, *_UNARY,
)  # fmt: skip


def _evaluate(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return namespace[node.id]
    if isinstance(node, ast.BoolOp):
        result: Any = isinstance(node.op, ast.And)
        for value in node.values:
            result = _evaluate(value, namespace)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, namespace))
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, namespace), _evaluate(node.right, namespace))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, namespace)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, namespace)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_evaluate(e, namespace) for e in node.elts]
        return set(items) if isinstance(node, ast.Set) else items
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, namespace)[_evaluate(node.slice, namespace)]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCTIONS[node.func.id](*(_evaluate(a, namespace) for a in node.args))
    raise AssertionError(type(node).__name__)  # compile_condition admits nothing else
