"""A static picture of a pytest project, read with ``ast``: nothing of the project is imported.

:func:`load_project` finds the pytest configuration the way pytest does (``pytest.ini``,
``pyproject.toml``, ``tox.ini``, ``setup.cfg``, from the start directory upwards), collects the
``conftest.py`` files and test modules pytest would collect, and records for each module its
fixtures, its tests, its markers, its ``pytest_plugins`` and every ``DataFlow(...)`` call that runs
at import time. ``dataflow doctor`` runs its checks on this picture.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import importlib.util
import os
import shlex
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SCOPES",
    "Fixture",
    "Module",
    "Project",
    "PytestConfig",
    "TestFunction",
    "load_project",
    "plugin_fixtures",
    "wider",
]

#: pytest's fixture scopes, narrowest first.
SCOPES = ("function", "class", "module", "package", "session")

_DEFAULT_NORECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")
_DEFAULT_FILES = ("test_*.py", "*_test.py")


def wider(a: str, b: str) -> bool:
    """True when scope ``a`` outlives scope ``b`` (``wider("session", "function")``)."""
    return SCOPES.index(a) > SCOPES.index(b)


# --- configuration --------------------------------------------------------------------------------


@dataclass
class PytestConfig:
    """The pytest configuration in effect for the project.

    Attributes:
        rootdir: pytest's rootdir: the directory of the config file, or the start directory.
        file: The config file, or None when the project has none.
        options: The ini options as strings (lists joined with spaces), ``-o`` overrides applied.
        addopts: ``addopts`` plus ``PYTEST_ADDOPTS``, split into arguments.
    """

    rootdir: Path
    file: Path | None = None
    options: dict[str, str] = field(default_factory=dict)
    addopts: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The config file's name for messages (``pytest.ini``, ``pyproject.toml``, ...)."""
        return self.file.name if self.file else "no pytest configuration file"

    def option(self, name: str) -> str | None:
        """An ini option's value, or None when it is not set."""
        value = self.options.get(name)
        return value.strip() if value is not None and value.strip() else None

    def cli_option(self, *names: str) -> str | None:
        """The value of a command-line option given in addopts (``--asyncio-mode=auto``)."""
        args = self.addopts
        for index, arg in enumerate(args):
            for name in names:
                if arg == name and index + 1 < len(args):
                    return args[index + 1]
                if arg.startswith(name + "="):
                    return arg.split("=", 1)[1]
                if len(name) == 2 and arg.startswith(name) and len(arg) > 2:  # -pname, -n4
                    return arg[2:]
        return None

    def plugins(self) -> list[str]:
        """Plugins enabled with ``-p NAME`` in addopts (``no:NAME`` excluded)."""
        found = []
        for index, arg in enumerate(self.addopts):
            value = None
            if arg == "-p" and index + 1 < len(self.addopts):
                value = self.addopts[index + 1]
            elif arg.startswith("-p") and len(arg) > 2:
                value = arg[2:]
            if value and not value.startswith("no:"):
                found.append(value)
        return found

    @property
    def asyncio_mode(self) -> str:
        """``auto`` or ``strict`` (pytest-asyncio's default)."""
        return (self.cli_option("--asyncio-mode") or self.option("asyncio_mode") or "strict").lower()

    def where(self, name: str) -> str:
        """Where an ini option comes from, for messages: ``asyncio_mode = auto in pytest.ini``."""
        value = self.option(name)
        if value is None:
            return f"{name} is not set in {self.label}"
        return f"{name} = {value} in {self.label}"


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(section):
        return None
    return {key: value for key, value in parser.items(section)}


def _toml_options(path: Path) -> dict[str, str] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return None
    tool = data.get("tool", {}).get("pytest")
    if not isinstance(tool, dict):
        return None
    # pytest 8: [tool.pytest.ini_options]; pytest 9 also reads native [tool.pytest] keys.
    table = tool.get("ini_options", {}) if "ini_options" in tool else tool
    options: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, list):
            options[key] = " ".join(shlex.quote(str(v)) if key == "addopts" else str(v) for v in value)
        elif isinstance(value, bool):
            options[key] = "true" if value else "false"
        else:
            options[key] = str(value)
    return options


def _read_config_file(path: Path) -> dict[str, str] | None:
    """The pytest options of ``path``, or None when the file holds no pytest configuration."""
    name = path.name
    if name in ("pytest.ini", ".pytest.ini"):
        return _ini_section(path, "pytest") or {}  # pytest.ini wins even without a [pytest] section
    if name == "pyproject.toml":
        return _toml_options(path)
    if name == "tox.ini":
        return _ini_section(path, "pytest")
    if name == "setup.cfg":
        return _ini_section(path, "tool:pytest")
    return None


def find_config(start: Path) -> PytestConfig:
    """The configuration pytest would use when run in ``start`` (searching upwards)."""
    for directory in (start, *start.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            candidate = directory / name
            if candidate.is_file():
                options = _read_config_file(candidate)
                if options is not None:
                    return _finish_config(PytestConfig(directory, candidate, options))
    return _finish_config(PytestConfig(start))


def _finish_config(config: PytestConfig) -> PytestConfig:
    args: list[str] = []
    for source in (config.options.get("addopts", ""), os.environ.get("PYTEST_ADDOPTS", "")):
        try:
            args += shlex.split(source)
        except ValueError:
            args += source.split()
    config.addopts = args
    for index, arg in enumerate(args):  # -o name=value / --override-ini=name=value win over the file
        value = None
        if arg in ("-o", "--override-ini") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--override-ini="):
            value = arg.split("=", 1)[1]
        if value and "=" in value:
            key, _, option = value.partition("=")
            config.options[key.strip()] = option
    return config


# --- modules, fixtures and tests ----------------------------------------------------------------


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


# --- the project ----------------------------------------------------------------------------------


@dataclass
class Project:
    """Everything ``dataflow doctor`` knows about a project, without importing any of it."""

    start: Path
    config: PytestConfig
    conftests: list[Module]
    test_modules: list[Module]
    plugin: list[Fixture]

    @property
    def modules(self) -> list[Module]:
        """Conftest files first, then test modules."""
        return [*self.conftests, *self.test_modules]

    @property
    def tests(self) -> list[TestFunction]:
        """Every test function pytest would collect."""
        return [t for m in self.test_modules for t in m.tests]

    @property
    def fixtures(self) -> list[Fixture]:
        """Every fixture defined in the project (the plugin's excluded)."""
        return [f for m in self.modules for f in m.fixtures]

    def rel(self, path: Path) -> str:
        """``path`` as messages show it: relative to the working directory when inside it, else absolute."""
        cwd = Path.cwd()
        return path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else path.as_posix()

    def _conftests_for(self, path: Path) -> list[Module]:
        """The conftest modules that apply to ``path``, nearest first."""
        by_dir = {m.path.parent: m for m in self.conftests}
        result = []
        for directory in path.parents:
            if directory in by_dir:
                result.append(by_dir[directory])
            if directory == self.config.rootdir:
                break
        return result

    def visible(self, module: Module, cls: str | None) -> list[Fixture]:
        """The fixtures a test or fixture in ``module`` (class ``cls``) can see, closest first."""
        found: list[Fixture] = []
        if cls:
            found += [f for f in module.fixtures if f.cls == cls]
        found += [f for f in module.fixtures if f.cls is None]
        for conftest in self._conftests_for(module.path):
            if conftest is not module:
                found += [f for f in conftest.fixtures if f.cls is None]
        return found + self.plugin

    def resolve(self, name: str, module: Module, cls: str | None, *, skip: Fixture | None = None) -> Fixture | None:
        """The definition pytest would use for fixture ``name`` requested from ``module``/``cls``."""
        candidates = [f for f in self.visible(module, cls) if f.name == name]
        if skip is not None and skip in candidates:  # a fixture overriding one of the same name
            candidates = candidates[candidates.index(skip) + 1 :]
        return candidates[0] if candidates else None

    def closure(self, test: TestFunction) -> list[Fixture]:
        """Every fixture ``test`` uses, directly, through other fixtures or by autouse."""
        return list(self.requested_by(test))

    def requested_by(self, test: TestFunction) -> dict[Fixture, Fixture | None]:
        """Every fixture ``test`` uses, each with the fixture that requested it (None: the test itself)."""
        visible = self.visible(test.module, test.cls)
        pending: list[tuple[str, Module, str | None, Fixture | None, Fixture | None]] = [
            (name, test.module, test.cls, None, None) for name in test.requests
        ]
        pending += [(f.name, test.module, test.cls, None, None) for f in visible if f.autouse]
        seen: dict[Fixture, Fixture | None] = {}
        while pending:
            name, module, cls, skip, parent = pending.pop(0)
            fixture = self.resolve(name, module, cls, skip=skip)
            if fixture is None or fixture in seen:
                continue
            seen[fixture] = parent
            origin = fixture.module or test.module
            for requested in fixture.requests:
                overriding = fixture if requested == fixture.name else None
                pending.append((requested, origin, fixture.cls, overriding, fixture))
        return seen

    def requesters(self, name: str) -> list[tuple[str, Module, int]]:
        """``(id, module, line)`` of every test and fixture that requests ``name`` by that name."""
        found = [(t.nodeid, t.module, t.line) for t in self.tests if name in t.requests]
        found += [
            (f"fixture '{f.name}'", f.module, f.line)
            for f in self.fixtures
            if f.module is not None and name in f.requests
        ]
        return found


def plugin_fixtures() -> list[Fixture]:
    """The fixtures of ``dataflow.testing``, read from its source (the plugin is not imported)."""
    spec = importlib.util.find_spec("dataflow.testing")
    if spec is None or spec.origin is None:
        return []
    source = Path(spec.origin)
    module = parse_module(source, "dataflow.testing", is_conftest=True, functions=[], classes=[])
    fixtures = module.fixtures
    for fixture in fixtures:
        fixture.module = None
    return fixtures


def _is_virtualenv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def _walk(root: Path, norecurse: list[str]) -> Iterator[Path]:
    """The .py files under ``root`` that pytest would look at, in a stable order."""
    if root.is_file():
        yield root
        return
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d != "__pycache__"
            and not any(fnmatch.fnmatch(d, p) for p in norecurse)
            and not _is_virtualenv(here / d)
        )
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield here / name


def load_project(start: Path) -> Project:
    """Read the project that ``pytest`` would run in ``start`` (a directory or a test file)."""
    start = start.resolve()
    base = start if start.is_dir() else start.parent
    config = find_config(base)
    norecurse = (config.option("norecursedirs") or " ".join(_DEFAULT_NORECURSE)).split()
    files = (config.option("python_files") or " ".join(_DEFAULT_FILES)).split()
    functions = (config.option("python_functions") or "test").split()
    classes = (config.option("python_classes") or "Test").split()
    roots = [start]
    testpaths = config.option("testpaths")
    if testpaths and start == config.rootdir:
        roots = [config.rootdir / p for p in testpaths.split() if (config.rootdir / p).exists()] or [start]

    conftest_paths: list[Path] = []
    test_paths: list[Path] = []
    for root in roots:
        directory = root if root.is_dir() else root.parent
        for parent in (directory, *directory.parents):  # conftests above the scanned directory
            if parent != directory and (parent / "conftest.py").is_file():
                conftest_paths.append(parent / "conftest.py")
            if parent == config.rootdir or parent == parent.parent:
                break
        for path in _walk(root, norecurse):
            if path.name == "conftest.py":
                conftest_paths.append(path)
            elif any(fnmatch.fnmatch(path.name, p) for p in files):
                test_paths.append(path)

    def unique(paths: list[Path]) -> list[Path]:
        return sorted(dict.fromkeys(paths), key=lambda p: (len(p.parts), p.as_posix()))

    project = Project(start=base, config=config, conftests=[], test_modules=[], plugin=plugin_fixtures())
    project.conftests = [
        parse_module(p, project.rel(p), is_conftest=True, functions=functions, classes=classes)
        for p in unique(conftest_paths)
    ]
    project.test_modules = [
        parse_module(p, project.rel(p), is_conftest=False, functions=functions, classes=classes)
        for p in sorted(dict.fromkeys(test_paths))
    ]
    return project
