"""The layout rules of ARCHITECTURE.md, checked by reading the source of ``src/dataflow``.

- no import cycle among the library's modules (function-level and type-only imports included);
- no module over 450 lines;
- no comparison with a backend name outside ``_dialects/`` (dialect knowledge lives in the backend);
- no module reads another module's private names (``from ._x import _name``, ``obj._attr`` where
  ``_attr`` belongs to another module of the library).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "dataflow"
MAX_LINES = 450
BACKEND_NAMES = {"sqlite", "postgresql", "postgres"}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> Iterator[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` for every import in module ``name``."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            yield target, names, node.lineno


def _edges(name: str) -> set[str]:
    edges = set()
    for target, names, _line in _imports(name):
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
        # ``from . import _testmode`` imports the module, not what the package re-exports.
        for candidate in submodules if len(submodules) == len(names) and names else [target, *submodules]:
            if candidate in MODULES and candidate != name:
                edges.add(candidate)
    return edges


def test_the_package_has_the_modules_the_architecture_names() -> None:
    for required in ("dataflow._executor", "dataflow._dialects", "dataflow._nodes", "dataflow._events"):
        assert required in MODULES, required


def test_no_import_cycles() -> None:
    graph = {name: _edges(name) for name in MODULES}
    # A package's __init__ re-exports its modules; its modules importing their siblings through
    # the package would be an edge back. Tarjan's algorithm finds every strongly connected set.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(SRC)} has {lines} lines (at most {MAX_LINES})"


def _backend_literals(node: ast.AST) -> list[str]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [v.value for v in values if isinstance(v, ast.Constant) and v.value in BACKEND_NAMES]


def test_no_backend_name_comparisons_outside_dialects() -> None:
    found = []
    for name, path in MODULES.items():
        if name.startswith("dataflow._dialects"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                literals = [lit for part in (node.left, *node.comparators) for lit in _backend_literals(part)]
                if literals:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} compares with {literals}")
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    if any(_backend_literals(p.value) for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue)):
                        found.append(f"{path.relative_to(SRC)}:{case.pattern.lineno} matches a backend name")
    assert not found, "dialect knowledge belongs in _dialects/:\n" + "\n".join(found)


def _private_attributes(path: Path) -> set[str]:
    """Private names a module defines: ``self._x = ...``, class-level ``_x``, ``def _x``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _private(node.attr):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _private(node.name):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and _private(node.id):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and _private(node.target.id):
            names.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _private(node.value):
            names.add(node.value)  # attributes set through type(name, bases, {"_x": ...})
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_module_reads_another_modules_private_names() -> None:
    own = {name: _private_attributes(path) for name, path in MODULES.items()}
    found = []
    for name, path in MODULES.items():
        for target, names, line in _imports(name):
            if target.startswith("dataflow"):
                for imported in names:
                    if _private(imported) and f"{target}.{imported}" not in MODULES:
                        found.append(f"{path.relative_to(SRC)}:{line} imports {target}.{imported}")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in own[name]:
                continue  # the module's own private name, on another instance of its own class
            owners = [other for other, names in own.items() if node.attr in names]
            if owners:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} reads .{node.attr} of {owners}")
    assert not found, "private names of other modules:\n" + "\n".join(found)
