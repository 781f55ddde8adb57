"""Conftest files and test modules, parsed with ``ast``: fixtures, tests, markers, plugins.

:func:`parse_module` records, for one file, each fixture (scope, ``loop_scope``, async or not, what it
requests), each test pytest would collect (with its asyncio marker and loop scope), the module's
``pytest_plugins`` and every ``DataFlow(...)`` call that runs when the file is imported.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ._pytest_config import SCOPES

__all__ = ["Fixture", "Module", "TestFunction", "parse_module"]


@dataclass(eq=False)
class Fixture:
    """A fixture definition found in a conftest, a test module or the DataFlow plugin."""

    name: str
    module: Module | None
    line: int
    scope: str | None
    loop_scope: str | None
    is_async: bool
    asyncio_decorator: bool
    autouse: bool
    requests: tuple[str, ...]
    cls: str | None = None

    @property
    def where(self) -> str:
        """``conftest.py:12`` (or ``dataflow.testing`` for the plugin's fixtures)."""
        return f"{self.module.rel}:{self.line}" if self.module else "dataflow.testing"


@dataclass
class TestFunction:
    """A test function or method pytest would collect."""

    name: str
    module: Module
    line: int
    is_async: bool
    requests: tuple[str, ...]
    cls: str | None = None
    asyncio_marked: bool = False
    loop_scope: str | None = None
    other_async_marker: bool = False

    @property
    def nodeid(self) -> str:
        """pytest's node id: ``tests/test_users.py::TestUsers::test_create``."""
        parts = [self.module.rel, *([self.cls] if self.cls else []), self.name]
        return "::".join(parts)


@dataclass
class Module:
    """One parsed conftest.py or test module."""

    path: Path
    rel: str
    is_conftest: bool
    error: str | None = None
    imports: dict[str, str] = field(default_factory=dict)
    fixtures: list[Fixture] = field(default_factory=list)
    tests: list[TestFunction] = field(default_factory=list)
    pytest_plugins: list[str] = field(default_factory=list)
    pytest_plugins_line: int = 0
    dataflow_calls: list[int] = field(default_factory=list)


class _Marks:
    """The markers of a test, class or module: asyncio (and its loop_scope), anyio/trio, usefixtures."""

    def __init__(self) -> None:
        self.asyncio = False
        self.loop_scope: str | None = None
        self.other_async = False
        self.usefixtures: list[str] = []

    def merged_into(self, outer: _Marks) -> _Marks:
        """These marks with the outer (class/module) marks as fallback; the closest asyncio mark wins."""
        result = _Marks()
        result.asyncio = self.asyncio or outer.asyncio
        result.loop_scope = self.loop_scope if self.asyncio else outer.loop_scope
        result.other_async = self.other_async or outer.other_async
        result.usefixtures = [*outer.usefixtures, *self.usefixtures]
        return result


def _qualname(node: ast.expr, imports: dict[str, str]) -> str | None:
    """``pytest.mark.asyncio`` for the expression, resolving import aliases; None if unknown."""
    if isinstance(node, ast.Name):
        return imports.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualname(node.value, imports)
        return f"{base}.{node.attr}" if base else None
    return None


def _str_kwarg(call: ast.Call, name: str) -> tuple[bool, str | None]:
    """``(present, value)`` of a string keyword argument (value None when it is not a constant)."""
    for keyword in call.keywords:
        if keyword.arg == name:
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return True, value.value
            return True, None
    return False, None


def _marks_of(expressions: Iterable[ast.expr], imports: dict[str, str]) -> _Marks:
    marks = _Marks()
    for expr in expressions:
        items = expr.elts if isinstance(expr, (ast.List, ast.Tuple)) else [expr]
        for item in items:
            call = item if isinstance(item, ast.Call) else None
            name = _qualname(call.func if call else item, imports)
            if name is None:
                continue
            if name == "pytest.mark.asyncio":
                marks.asyncio = True
                if call:
                    for key in ("loop_scope", "scope"):
                        present, value = _str_kwarg(call, key)
                        if present and value:
                            marks.loop_scope = value
                            break
            elif name in ("pytest.mark.anyio", "pytest.mark.trio"):
                marks.other_async = True
            elif name == "pytest.mark.usefixtures" and call:
                marks.usefixtures += [
                    a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                ]
    return marks


def _pytestmark(body: list[ast.stmt], imports: dict[str, str]) -> _Marks:
    values: list[ast.expr] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            values.append(stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.target.id == "pytestmark" and stmt.value is not None:
                values.append(stmt.value)
    return _marks_of(values, imports)


def _fixture_of(
    func: ast.FunctionDef | ast.AsyncFunctionDef, module: Module, cls: str | None
) -> Fixture | None:
    for deco in func.decorator_list:
        call = deco if isinstance(deco, ast.Call) else None
        name = _qualname(call.func if call else deco, module.imports)
        if name not in ("pytest.fixture", "pytest_asyncio.fixture"):
            continue
        scope: str | None = "function"
        loop_scope = None
        autouse = False
        fixture_name = func.name
        if call:
            present, value = _str_kwarg(call, "scope")
            if present:
                scope = value if value in SCOPES else None
            present, value = _str_kwarg(call, "loop_scope")
            if present:
                loop_scope = value if value in SCOPES else None
            present, value = _str_kwarg(call, "name")
            if present and value:
                fixture_name = value
            for keyword in call.keywords:
                if keyword.arg == "autouse" and isinstance(keyword.value, ast.Constant):
                    autouse = bool(keyword.value.value)
        return Fixture(
            name=fixture_name,
            module=module,
            line=func.lineno,
            scope=scope,
            loop_scope=loop_scope,
            is_async=isinstance(func, ast.AsyncFunctionDef),
            asyncio_decorator=name == "pytest_asyncio.fixture",
            autouse=autouse,
            requests=_arguments(func, method=cls is not None),
            cls=cls,
        )
    return None


def _arguments(func: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool) -> tuple[str, ...]:
    args = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    names = [a.arg for a in args]
    if method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return tuple(names)


def _matches(name: str, patterns: list[str]) -> bool:
    """pytest's python_functions / python_classes rule: a glob, or else a prefix."""
    return any(fnmatch.fnmatch(name, p) if any(c in p for c in "*?[") else name.startswith(p) for p in patterns)


def _is_fixture(func: ast.FunctionDef | ast.AsyncFunctionDef, imports: dict[str, str]) -> bool:
    return any(
        _qualname(d.func if isinstance(d, ast.Call) else d, imports) in ("pytest.fixture", "pytest_asyncio.fixture")
        for d in func.decorator_list
    )


def _imports(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node that runs when the module is imported (function bodies excluded)."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(reversed(node.decorator_list))  # decorators run at import time
            stack.extend(d for d in node.args.defaults)
            continue
        if isinstance(node, ast.Lambda):
            continue
        yield node
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _is_dataflow(name: str | None) -> bool:
    return name is not None and name.split(".")[0] == "dataflow" and name.endswith(".DataFlow")


def parse_module(path: Path, rel: str, *, is_conftest: bool, functions: list[str], classes: list[str]) -> Module:
    """Parse one file into a :class:`Module` (``error`` is set when it does not parse)."""
    module = Module(path=path, rel=rel, is_conftest=is_conftest)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        module.error = f"{type(exc).__name__}: {exc}"
        return module
    imports = _imports(tree)
    module.imports = imports
    module_marks = _pytestmark(tree.body, imports)

    for node in _import_time_nodes(tree.body):
        if isinstance(node, ast.Call) and _is_dataflow(_qualname(node.func, imports)):
            module.dataflow_calls.append(node.lineno)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets) and node.value:
                module.pytest_plugins_line = node.lineno
                value = node.value
                items = value.elts if isinstance(value, (ast.List, ast.Tuple, ast.Set)) else [value]
                module.pytest_plugins += [
                    i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
                ]

    def add_test(func: ast.FunctionDef | ast.AsyncFunctionDef, cls: str | None, outer: _Marks) -> None:
        marks = _marks_of(func.decorator_list, imports).merged_into(outer)
        requests = (*marks.usefixtures, *_arguments(func, method=cls is not None))
        module.tests.append(
            TestFunction(
                name=func.name,
                module=module,
                line=func.lineno,
                is_async=isinstance(func, ast.AsyncFunctionDef),
                requests=requests,
                cls=cls,
                asyncio_marked=marks.asyncio,
                loop_scope=marks.loop_scope,
                other_async_marker=marks.other_async,
            )
        )

    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            fixture = _fixture_of(stmt, module, None)
            if fixture:
                module.fixtures.append(fixture)
            elif not is_conftest and _matches(stmt.name, functions):
                add_test(stmt, None, module_marks)
        elif isinstance(stmt, ast.ClassDef) and not is_conftest and _matches(stmt.name, classes):
            if any(isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in stmt.body):
                continue  # pytest does not collect classes with __init__
            class_marks = _marks_of(stmt.decorator_list, imports)
            class_marks = _pytestmark(stmt.body, imports).merged_into(class_marks).merged_into(module_marks)
            for item in stmt.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    fixture = _fixture_of(item, module, stmt.name)
                    if fixture:
                        module.fixtures.append(fixture)
                    elif _matches(item.name, functions) and not _is_fixture(item, imports):
                        add_test(item, stmt.name, class_marks)
    return module
